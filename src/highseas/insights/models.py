"""Insights' own rows: the organization's value settings, manual level locks, the log of level
changes with their reasons, and the performance-linked limit plans with their precomputed
per-rep factors."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from highseas.customers.choices import CustomerLevel

USER = settings.AUTH_USER_MODEL


class ValueSettings(models.Model):
    """How the organization scores value (one row; ``insights.value.value_settings`` reads
    it, falling back to the ``HIGHSEAS_VALUE_*`` settings when there is none)."""

    threshold_a = models.FloatField(_("score for level A"), default=60.0)
    threshold_b = models.FloatField(_("score for level B"), default=30.0)
    window_days = models.PositiveIntegerField(_("won deals counted over (days)"), default=365)
    monetary_half = models.DecimalField(
        _("amount scoring half"), max_digits=14, decimal_places=2, default=Decimal(100_000)
    )
    potential_points = models.FloatField(_("points for potential"), default=20.0)
    industry_weights = models.JSONField(_("industry weights"), default=dict, blank=True)
    rescore_every_hours = models.PositiveIntegerField(_("re-evaluate every (hours)"), default=24)
    last_rescored_at = models.DateTimeField(_("last re-evaluated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("value settings")
        verbose_name_plural = _("value settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(threshold_a__gte=models.F("threshold_b")),
                name="value_settings_a_above_b",
            )
        ]

    def __str__(self) -> str:
        return f"value settings A≥{self.threshold_a} B≥{self.threshold_b}"


class LevelLock(models.Model):
    """A level set by hand that re-evaluation leaves alone until it is unlocked."""

    customer = models.OneToOneField(
        "customers.Customer", models.CASCADE, primary_key=True, related_name="level_lock"
    )
    level = models.CharField(_("level"), max_length=1, choices=CustomerLevel.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    locked_by = models.ForeignKey(USER, models.SET_NULL, null=True, related_name="+")
    locked_at = models.DateTimeField(_("locked at"))

    class Meta:
        verbose_name = _("level lock")

    def __str__(self) -> str:
        return f"{self.customer_id} locked at {self.level}"


class LevelChange(models.Model):
    """One change of a customer's level, with why: the figures it was scored on (``reason``:
    wins, amount, window_days, employees, revenue_band, industry, score) or a person's lock."""

    class Trigger(models.TextChoices):
        RESCORE = "rescore", _("Re-evaluated on demand")
        SCHEDULED = "scheduled", _("Re-evaluated on schedule")
        LOCK = "lock", _("Locked by hand")

    customer = models.ForeignKey("customers.Customer", models.CASCADE, related_name="+")
    at = models.DateTimeField(_("at"))
    from_level = models.CharField(max_length=1, choices=CustomerLevel.choices)
    to_level = models.CharField(max_length=1, choices=CustomerLevel.choices)
    score = models.FloatField(null=True, blank=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    actor = models.ForeignKey(USER, models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("level change")
        indexes = [models.Index(fields=["customer", "-at"], name="level_change_customer_at")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.from_level}→{self.to_level} ({self.trigger})"


class LimitPlan(models.Model):
    """Performance-linked claim limits of one pool: reps ranked by ``measure`` over the last
    ``window_days`` fall into ``tiers`` (``[{"top_percent": 20, "multiplier": 1.5}, …]``, the
    first that holds a rep's rank applies; the rest get 1) and their daily/weekly quota and
    holding cap are scaled, never above the ceilings (a null ceiling: the pool's own limit)."""

    class Measure(models.TextChoices):
        WIN_RATE = "win_rate", _("Win rate")
        CONVERSION = "conversion", _("Claim → won conversion")
        REVENUE = "revenue", _("Revenue")

    pool = models.OneToOneField("pools.Pool", models.CASCADE, related_name="limit_plan")
    is_active = models.BooleanField(_("on"), default=False)
    measure = models.CharField(max_length=12, choices=Measure.choices, default=Measure.WIN_RATE)
    window_days = models.PositiveIntegerField(_("measured over (days)"), default=30)
    tiers = models.JSONField(_("tiers"), default=list, blank=True)
    ceiling_daily_quota = models.PositiveIntegerField(null=True, blank=True)
    ceiling_weekly_quota = models.PositiveIntegerField(null=True, blank=True)
    ceiling_holding_cap = models.PositiveIntegerField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("performance-linked limits")

    def __str__(self) -> str:
        return f"limit plan of pool {self.pool_id} by {self.measure}"


class RepLimitFactor(models.Model):
    """A rep's precomputed multiplier in a pool with a plan on: what the claim path reads
    (``pools.quotas.performance_factor``) — one indexed lookup."""

    pool = models.ForeignKey("pools.Pool", models.CASCADE, related_name="+")
    rep = models.ForeignKey(USER, models.CASCADE, related_name="+")
    multiplier = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal(1))
    measured = models.FloatField(null=True, blank=True)
    top_percent = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pool", "rep"], name="rep_limit_factor_unique")
        ]

    def __str__(self) -> str:
        return f"pool {self.pool_id} rep {self.rep_id} ×{self.multiplier}"


class LimitFactorLog(models.Model):
    """Each change of a rep's multiplier, with the figures behind it."""

    pool = models.ForeignKey("pools.Pool", models.CASCADE, related_name="+")
    rep = models.ForeignKey(USER, models.CASCADE, related_name="+")
    at = models.DateTimeField()
    before = models.DecimalField(max_digits=5, decimal_places=2)
    after = models.DecimalField(max_digits=5, decimal_places=2)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["rep", "-at"], name="limit_factor_log_rep_at")]

    def __str__(self) -> str:
        return f"pool {self.pool_id} rep {self.rep_id} {self.before}→{self.after}"


class PoolSizeDay(models.Model):
    """Pooled customers per pool at the end of a day (the organization's calendar): the
    dashboard's pool-size line reads these instead of replaying the ledger each time. Written
    by the scheduler (``insights.snapshots``): today's row is refreshed, missing past days are
    backfilled once from the ledger."""

    pool = models.ForeignKey("pools.Pool", models.CASCADE, related_name="+")
    day = models.DateField()
    pooled = models.PositiveIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pool", "day"], name="pool_size_day_unique")]

    def __str__(self) -> str:
        return f"pool {self.pool_id} {self.day}: {self.pooled}"


class RepDay(models.Model):
    """One rep's day (the organization's calendar), rolled up from the ownership ledger
    (``insights.snapshots``): what came to and left the rep that day, and what they held at
    its end. The ledger is append-only, so a rolled day never changes; a rep's days stay
    theirs when they move teams (the figures follow the rep, as the live ones do)."""

    rep = models.ForeignKey(USER, models.CASCADE, related_name="+")
    day = models.DateField()
    claims = models.PositiveIntegerField(default=0)
    assigned = models.PositiveIntegerField(default=0)
    gains = models.PositiveIntegerField(default=0)  # created, claimed, assigned, transferred
    recycled = models.PositiveIntegerField(default=0)
    released = models.PositiveIntegerField(default=0)
    holdings = models.PositiveIntegerField(default=0)  # owned or frozen at the end of the day

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rep", "day"], name="rep_day_unique")]
        indexes = [models.Index(fields=["day", "rep"], name="rep_day_by_day")]

    def __str__(self) -> str:
        return f"rep {self.rep_id} {self.day}"


class RolledDay(models.Model):
    """A day whose ``RepDay`` rows are complete (a rep without a row had nothing that day and
    held nothing at its end)."""

    day = models.DateField(primary_key=True)
    rolled_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"rolled {self.day}"


class RolledWindow(models.Model):
    """A run of rolled days, ``first_day`` to ``last_day``, whose per-rep sums are stored
    (``RepWindow``): the closed days of a console window ("近30天" without today), summed once
    when the roll-up ends instead of on every load (``insights.snapshots``, step 5). Stored
    only when every day of the run is rolled; a rolled day never changes, so the sums hold."""

    first_day = models.DateField()
    last_day = models.DateField()
    rolled_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["first_day", "last_day"], name="rolled_window_unique")
        ]

    def __str__(self) -> str:
        return f"rolled {self.first_day}..{self.last_day}"


class RepWindow(models.Model):
    """One rep's sums over a ``RolledWindow`` (a rep without a row had nothing in it)."""

    window = models.ForeignKey(RolledWindow, models.CASCADE, related_name="+")
    rep = models.ForeignKey(USER, models.CASCADE, related_name="+")
    claims = models.PositiveIntegerField(default=0)
    assigned = models.PositiveIntegerField(default=0)
    gains = models.PositiveIntegerField(default=0)
    recycled = models.PositiveIntegerField(default=0)
    released = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["window", "rep"], name="rep_window_unique")]

    def __str__(self) -> str:
        return f"rep {self.rep_id} window {self.window_id}"


class FigureCache(models.Model):
    """An expensive figure as computed for one viewer at ``computed_at`` (``insights.cache``):
    served until it is ``STALE`` old, refreshed by the scheduler while it is being read; the
    exact live figure is a click away (``?exact=1``)."""

    key = models.CharField(max_length=200, unique=True)
    value = models.JSONField()
    computed_at = models.DateTimeField()
    read_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key} @ {self.computed_at:%Y-%m-%d %H:%M}"
