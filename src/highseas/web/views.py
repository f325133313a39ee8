from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStatus
from highseas.web import throttle


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked_out": _("Too many failed sign-ins. Please wait a few minutes and try again."),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        if throttle.is_locked_out(username, address):
            raise forms.ValidationError(self.error_messages["locked_out"], code="locked_out")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.record_failure(username, address)
            raise
        throttle.clear_failures(username, address)
        return cleaned


class SignInView(LoginView):
    template_name = "web/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    viewer = Viewer(user)
    mine = user.customers.all()
    context = {
        "holdings": mine.count(),
        "frozen": mine.filter(status=CustomerStatus.FROZEN).count(),
        "visible": viewer.customers().count(),
        "pools": viewer.pools().order_by("name"),
        "team": user.team,
        "recent": viewer.customers().filter(owner=user).order_by("-owned_since")[:8],
    }
    return render(request, "web/home.html", context)
