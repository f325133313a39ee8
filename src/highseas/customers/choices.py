from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomerKind(models.TextChoices):
    COMPANY = "company", _("Company")
    PERSON = "person", _("Person")


class CustomerStatus(models.TextChoices):
    POOLED = "pooled", _("In pool")
    OWNED = "owned", _("Owned")
    FROZEN = "frozen", _("Frozen")


class CustomerLevel(models.TextChoices):
    A = "A", _("A (high)")
    B = "B", _("B (medium)")
    C = "C", _("C (low)")


class CustomerStage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    CONTACTED = "contacted", _("Contacted")
    QUALIFIED = "qualified", _("Qualified")
    NEGOTIATION = "negotiation", _("Negotiation")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class Source(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    REFERRAL = "referral", _("Referral")
    EXHIBITION = "exhibition", _("Exhibition")
    ADVERTISING = "advertising", _("Advertising")
    COLD_CALL = "cold_call", _("Cold call")
    IMPORT = "import", _("Import")
    PARTNER = "partner", _("Partner")
    OTHER = "other", _("Other")


class RevenueBand(models.TextChoices):
    UNDER_1M = "lt1m", _("Under ¥1M")
    FROM_1M = "1m-10m", _("¥1M–10M")
    FROM_10M = "10m-100m", _("¥10M–100M")
    FROM_100M = "100m-1b", _("¥100M–1B")
    OVER_1B = "gt1b", _("Over ¥1B")


class ActivityKind(models.TextChoices):
    CALL = "call", _("Phone call")
    VISIT = "visit", _("Visit")
    MEETING = "meeting", _("Meeting")
    EMAIL = "email", _("E-mail")
    WECHAT = "wechat", _("WeChat")
    SMS = "sms", _("SMS")
    NOTE = "note", _("Note")


class DealStage(models.TextChoices):
    QUALIFICATION = "qualification", _("Qualification")
    PROPOSAL = "proposal", _("Proposal")
    NEGOTIATION = "negotiation", _("Negotiation")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
