from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class WinModelVersion(models.Model):
    """One training of the win model: what it learned from, how it did on its time-based
    holdout, and where its numbers are (a JSON file in the data folder, checked by its
    SHA-256 when read). A version with ``fallback`` set has no model: the data was too thin,
    and smart rules use ``performance`` while it is the latest."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("On demand")
        SCHEDULE = "schedule", _("Schedule")
        DEMO = "demo", _("Demo")

    version = models.PositiveIntegerField(_("version"), unique=True)
    trained_at = models.DateTimeField(_("trained at"))
    trained_by = models.ForeignKey(
        USER, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices)
    cutoff = models.DateTimeField(_("deals decided before"))
    deals = models.PositiveIntegerField(_("deals trained on"))
    won = models.PositiveIntegerField(_("deals won"))
    since = models.DateTimeField(_("first deal decided"), null=True, blank=True)
    until = models.DateTimeField(_("last deal decided"), null=True, blank=True)
    fallback = models.CharField(_("fallback reason"), max_length=20, blank=True)
    algorithm = models.CharField(_("algorithm"), max_length=40, blank=True)
    strength = models.FloatField(_("regularization C"), null=True, blank=True)
    metrics = models.JSONField(_("holdout metrics"), default=dict, blank=True)
    artefact = models.CharField(_("artefact file"), max_length=100, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    seconds = models.FloatField(_("training seconds"), default=0.0)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("win model version")

    def __str__(self) -> str:
        return f"win model v{self.version}"

    @property
    def auc(self) -> float | None:
        value: Any = self.metrics.get("auc")
        return value if isinstance(value, float | int) else None

    @property
    def brier(self) -> float | None:
        value: Any = self.metrics.get("brier")
        return value if isinstance(value, float | int) else None


class Simulation(models.Model):
    """A past period replayed under several strategies, scored by a model trained only on
    deals decided before the period; kept so the console can show it again."""

    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        USER, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    since = models.DateTimeField(_("since"))
    until = models.DateTimeField(_("until"))
    team = models.ForeignKey(
        "accounts.Team", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    strategies = models.JSONField(_("strategies"), default=list)
    fairness = models.FloatField(_("fairness bound"))
    seed = models.BigIntegerField(_("seed"))
    model_deals = models.PositiveIntegerField(_("deals the model learned from"), default=0)
    model_metrics = models.JSONField(default=dict, blank=True)
    fallback = models.CharField(max_length=20, blank=True)
    results = models.JSONField(_("results"), default=dict)
    seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("simulation")

    def __str__(self) -> str:
        return f"simulation #{self.pk}"
