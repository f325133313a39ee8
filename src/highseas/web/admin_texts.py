"""Texts of the Django admin and of django-axes that their own Chinese catalogues lack, marked
here so that the project's catalogue (which takes precedence) carries them. Nothing imports
this module; ``makemessages`` reads it."""

from __future__ import annotations

from django.utils.translation import gettext_noop

ADMIN_TEXTS = (
    # django.contrib.admin's screen-reader headers of the app list
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    # django-axes (failed sign-in records)
    gettext_noop("Axes"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("Access attempts"),
    gettext_noop("Access failures"),
    gettext_noop("Access logs"),
    gettext_noop("Attempt Time"),
    gettext_noop("Logout Time"),
    gettext_noop("Locked Out"),
    gettext_noop("Path"),
    gettext_noop("User Agent"),
    gettext_noop("IP Address"),
    gettext_noop("Username"),
    gettext_noop("HTTP Accept"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("Failed Logins"),
    gettext_noop("Form Data"),
    gettext_noop("Meta Data"),
)
