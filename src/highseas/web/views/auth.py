"""Sign-in. Failed attempts are counted per username and per address by the same lockout
as the API and the admin (``accounts.lockout``); a locked-out attempt gets a plain sentence."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView

from highseas.accounts.lockout import LOCKED_MESSAGE, is_locked_out


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {**AuthenticationForm.error_messages, "locked_out": LOCKED_MESSAGE}

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError:
            if is_locked_out(self.request):
                raise forms.ValidationError(
                    self.error_messages["locked_out"], code="locked_out"
                ) from None
            raise


class SignInView(LoginView):
    template_name = "web/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True
