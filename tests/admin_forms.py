"""Driving the Django admin's user change form as a browser would (for the admin-door tests)."""

from __future__ import annotations

from typing import Any

from django.test import Client

from highseas.accounts.models import User


def deactivate_in_admin(admin: User, user: User) -> Any:
    """Post the admin's change form of ``user`` with "active" unticked, everything else as the
    form shows it; the response (a redirect when saved, the form again when refused)."""
    return change_in_admin(admin, user, is_active="")


def change_in_admin(admin: User, user: User, **changes: str) -> Any:
    """Post the admin's change form of ``user`` with ``changes`` (form field names, the rep
    profile's as ``profile-0-<field>``), everything else as the form shows it."""
    client = Client()
    client.force_login(admin)
    url = f"/admin/accounts/user/{user.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("password", "groups", "user_permissions")
    }
    data.update(
        {
            "is_active": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "08:00:00",
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "1",
            "profile-MIN_NUM_FORMS": "0",
            "profile-MAX_NUM_FORMS": "1",
            "profile-0-id": str(user.profile.pk),
            "profile-0-user": str(user.pk),
            "profile-0-level": "junior",
            "profile-0-skills": "{}",
            "profile-0-is_active": "on",
        }
    )
    data.update(changes)
    return client.post(url, {k: v for k, v in data.items() if v != ""})
