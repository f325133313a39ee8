"""Revealing a masked field on the customer page: ``accounts.reveal`` decides and logs.

Without JavaScript the clear value is shown on a page of its own; the page's script
(``static/highseas/reveal.js``) asks for JSON and puts it in place of the masked one. The
value never travels in a URL or a flash message.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from highseas.accounts.reveal import reveal
from highseas.engine.errors import HighSeasError
from highseas.web import selectors
from highseas.web.refusals import plain_words
from highseas.web.responses import answer, is_async, viewer_of


@login_required
@require_POST
def reveal_field(request: HttpRequest, customer_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    customer = selectors.visible_customer(viewer, customer_id)
    field = request.POST.get("field", "")
    to = reverse("web:customer", args=[customer.pk])
    try:
        value = reveal(viewer, customer, field)
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=to, code=refusal.code)
    if is_async(request):
        return JsonResponse({"ok": True, "field": field, "value": value})
    context = {"section": "mine", "c": customer, "field": field, "value": value}
    return render(request, "web/reveal.html", context)
