from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from highseas.customers.choices import CustomerStatus
from highseas.engine.ownership import EventKind
from highseas.pools import reasons

USER = settings.AUTH_USER_MODEL

DEFAULT_MASKED_FIELDS = ["phone", "email"]
DEFAULT_EFFECTIVE_KINDS = ["call", "visit", "meeting", "wechat", "email"]


EVENT_KIND_CHOICES = [(kind.value, kind.value) for kind in EventKind]


def default_masked_fields() -> list[str]:
    return list(DEFAULT_MASKED_FIELDS)


def default_effective_kinds() -> list[str]:
    return list(DEFAULT_EFFECTIVE_KINDS)


def default_duplicate_policy() -> dict[str, str]:
    return {"manual": "block", "api": "block", "import": "block"}


class Pool(models.Model):
    """A public customer pool (公海) with its members, masked fields and policies."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    member_teams = models.ManyToManyField(
        "accounts.Team", blank=True, related_name="pools", verbose_name=_("member teams")
    )
    member_users: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        USER, blank=True, related_name="member_pools", verbose_name=_("member users")
    )
    admins: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        USER, blank=True, related_name="administered_pools", verbose_name=_("pool admins")
    )
    masked_fields = models.JSONField(_("masked fields"), default=default_masked_fields, blank=True)
    duplicate_policy = models.JSONField(
        _("duplicate-check policy"), default=default_duplicate_policy, blank=True
    )
    is_default = models.BooleanField(_("default pool"), default=False)
    is_reassign_queue = models.BooleanField(
        _("manager's reassign queue"),
        default=False,
        help_text=_("Recycled customers wait here for a manager; reps cannot claim from it."),
    )
    queue_of = models.OneToOneField(
        "self",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="reassign_queue",
        verbose_name=_("reassign queue of"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("pool")
        verbose_name_plural = _("pools")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="pool_single_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ClaimPolicy(models.Model):
    """Claim rules of one pool (SPEC §5); a null limit means "no limit"."""

    pool = models.OneToOneField(Pool, models.CASCADE, related_name="claim_policy")
    daily_quota = models.PositiveIntegerField(_("claims per day"), null=True, blank=True)
    weekly_quota = models.PositiveIntegerField(_("claims per week"), null=True, blank=True)
    holding_cap = models.PositiveIntegerField(_("holding cap"), null=True, blank=True)
    count_won_in_cap = models.BooleanField(_("won customers count toward the cap"), default=False)
    reclaim_cooldown_days = models.PositiveIntegerField(
        _("reclaim cooldown (days)"), null=True, blank=True
    )
    requires_approval = models.BooleanField(_("claims need approval"), default=False)
    requires_reason = models.BooleanField(
        _("claims need a reason"),
        default=False,
        help_text=_("A rep must say why they claim (the manager reads it when approving)."),
    )
    approval_expiry_hours = models.PositiveIntegerField(
        _("approval expires after (hours)"), null=True, blank=True
    )
    max_frozen = models.PositiveIntegerField(
        _("most frozen customers per rep"), null=True, blank=True
    )
    max_freeze_days = models.PositiveIntegerField(_("longest freeze (days)"), null=True, blank=True)
    daily_view_limit = models.PositiveIntegerField(
        _("pool customers a rep may open per day"), null=True, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("claim policy")
        verbose_name_plural = _("claim policies")

    def __str__(self) -> str:
        return f"{self.pool} · {_('claim policy')}"


class RecycleDestination(models.TextChoices):
    SAME_POOL = "same_pool", _("Back to the same pool")
    OTHER_POOL = "pool", _("To another pool")
    REASSIGN_QUEUE = "reassign_queue", _("To the manager's reassign queue")


class LeaveMode(models.TextChoices):
    """What a rep's recorded leave does to the recycle clocks of their customers."""

    PAUSE = "pause", _("Clocks pause during the leave")
    COVER = "cover", _("A cover colleague follows up; clocks run")


class RecyclePolicy(models.Model):
    """Recycle rules of one pool (SPEC §6); a null limit means "no limit"."""

    pool = models.OneToOneField(Pool, models.CASCADE, related_name="recycle_policy")
    idle_days = models.PositiveIntegerField(_("idle limit (days)"), null=True, blank=True)
    no_deal_days = models.PositiveIntegerField(_("no-deal limit (days)"), null=True, blank=True)
    first_contact_hours = models.PositiveIntegerField(
        _("first-contact limit (hours)"), null=True, blank=True
    )
    warn_days = models.PositiveIntegerField(_("warn days before"), null=True, blank=True)
    won_repurchase_days = models.PositiveIntegerField(
        _("won customers return (days after the contract ends)"), null=True, blank=True
    )
    effective_activity_kinds = models.JSONField(
        _("effective follow-up kinds"), default=default_effective_kinds, blank=True
    )
    exempt_won = models.BooleanField(_("won customers are exempt"), default=True)
    exempt_open_deal = models.BooleanField(
        _("customers with an open deal are exempt"), default=False
    )
    exempt_levels = models.JSONField(_("exempt levels"), default=list, blank=True)
    level_overrides = models.JSONField(
        _("per-level overrides"),
        default=dict,
        blank=True,
        help_text=_('{"A": {"idle_days": 30}}'),
    )
    leave_mode = models.CharField(
        _("during a rep's leave"),
        max_length=10,
        choices=LeaveMode.choices,
        default=LeaveMode.PAUSE,
    )
    destination = models.CharField(
        _("destination"),
        max_length=20,
        choices=RecycleDestination.choices,
        default=RecycleDestination.SAME_POOL,
    )
    destination_pool = models.ForeignKey(
        Pool,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("destination pool"),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("recycle policy")
        verbose_name_plural = _("recycle policies")
        constraints = [
            models.CheckConstraint(
                condition=~Q(destination=RecycleDestination.OTHER_POOL)
                | Q(destination_pool__isnull=False),
                name="recycle_other_pool_named",
            )
        ]

    def __str__(self) -> str:
        return f"{self.pool} · {_('recycle policy')}"


class ScheduleRecompute(models.Model):
    """A change of the pool's recycle policy being applied to its owned customers in batches
    (``pools.recompute``): the walk has reached the customer id ``done_to`` (0 before its
    first batch); the owned customers after it keep the previous policy's schedule. The row
    exists only while the walk lasts."""

    pool = models.OneToOneField(
        Pool, models.CASCADE, primary_key=True, related_name="schedule_recompute"
    )
    done_to = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("schedule recompute")
        verbose_name_plural = _("schedule recomputes")

    def __str__(self) -> str:
        return f"{self.pool_id} · {self.done_to}"


class AppendOnlyError(RuntimeError):
    pass


class OwnershipEvent(models.Model):
    """The append-only ownership ledger: one row per transition, with the state on each side."""

    # customer, from_owner, to_owner and at lead the composite indexes below, which answer
    # every look-up (and the PROTECT checks) a single-column index would: four index writes
    # fewer per ledger row
    customer = models.ForeignKey(
        "customers.Customer", models.PROTECT, related_name="ownership_events", db_index=False
    )
    kind = models.CharField(max_length=20, choices=EVENT_KIND_CHOICES)
    from_status = models.CharField(max_length=10, choices=CustomerStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=CustomerStatus.choices)
    from_owner = models.ForeignKey(
        USER, models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    to_owner = models.ForeignKey(
        USER, models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    # from_pool, actor and related_customer are often empty (a release has no source pool, a
    # rule or an import no acting user, most rows no related customer): their partial indexes
    # below leave those rows out, and every look-up by value (the PROTECT checks included)
    # implies NOT NULL
    from_pool = models.ForeignKey(
        Pool, models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    to_pool = models.ForeignKey(Pool, models.PROTECT, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(
        USER, models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    actor_label = models.CharField(
        max_length=100, help_text=_("the user's username, or system:<rule>")
    )
    reason = models.CharField(max_length=300)  # as written; read it as ``reason_text``
    # a system reason's code and parameters (``pools.reasons``); empty for a person's words
    reason_code = models.CharField(max_length=40, blank=True, default="", db_default="")
    reason_params = models.JSONField(null=True, blank=True)
    policy_ref = models.CharField(max_length=100, blank=True)
    related_customer = models.ForeignKey(
        "customers.Customer",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("ownership event")
        verbose_name_plural = _("ownership ledger")
        indexes = [
            models.Index(fields=["customer", "id"], name="ledger_customer_seq"),
            models.Index(fields=["from_owner", "kind", "at"], name="ledger_cooldown"),
            # with the pool: a claim counts the rep's claims from the customer's pool this
            # week and today from this index alone, however many they are (pools 0015)
            models.Index(
                fields=["to_owner", "kind", "at", "from_pool"], name="ledger_claims_by_rep"
            ),
            # the insights' per-rep day counts read from this index alone (pools 0010)
            models.Index(
                fields=["at", "kind", "to_owner", "to_status", "from_owner", "from_status"],
                name="insights_ledger_day_counts",
            ),
            models.Index(
                fields=["from_pool"], name="ledger_from_pool", condition=Q(from_pool__isnull=False)
            ),
            models.Index(fields=["actor"], name="ledger_actor", condition=Q(actor__isnull=False)),
            models.Index(
                fields=["related_customer"],
                name="ledger_related_customer",
                condition=Q(related_customer__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="ledger_reason_required"),
            models.CheckConstraint(condition=~Q(actor_label=""), name="ledger_actor_required"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} customer={self.customer_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("ownership events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("ownership events are append-only")

    @property
    def reason_text(self) -> str:
        """The reason in the active language (``pools.reasons``)."""
        return reasons.text(self.reason_code, self.reason_params, self.reason)


class ClaimRequest(models.Model):
    """A claim waiting for a manager's approval when the pool requires it."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    customer = models.ForeignKey(
        "customers.Customer", models.CASCADE, related_name="claim_requests"
    )
    requester = models.ForeignKey(USER, models.CASCADE, related_name="claim_requests")
    # what the rep typed, or empty: read it as ``reason_text`` ("Claim request" when empty)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(USER, models.SET_NULL, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("claim request")
        verbose_name_plural = _("claim requests")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "requester"],
                condition=Q(state="pending"),
                name="claim_request_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.requester} → {self.customer} ({self.state})"

    @property
    def reason_text(self) -> str:
        return reasons.request_text(self.reason)


class CustomerView(models.Model):
    """A rep opened a pooled customer in detail on an org-calendar day (``day`` is that
    day's start); counted against the pool's ``daily_view_limit`` once per customer per day."""

    viewer = models.ForeignKey(USER, models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", models.CASCADE, related_name="+")
    pool = models.ForeignKey(Pool, models.CASCADE, related_name="+")
    day = models.DateTimeField(_("day"))
    opened_at = models.DateTimeField(_("opened at"))

    class Meta:
        verbose_name = _("pool customer view")
        verbose_name_plural = _("pool customer views")
        constraints = [
            models.UniqueConstraint(
                fields=["viewer", "day", "customer"], name="customer_view_once_a_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.viewer_id} → {self.customer_id} @ {self.day.isoformat()}"


class JobLease(models.Model):
    """The turn of one slow-lane periodic job (``pools.leases``): a worker takes it for a due
    moment, keeps renewing ``expires_at`` while the job runs and frees it when done; a worker
    that died leaves a lease that expires, and the next worker takes the job over."""

    name = models.CharField(max_length=64, primary_key=True)
    due = models.DateTimeField(null=True, blank=True)  # the due moment last taken
    holder = models.CharField(max_length=200, blank=True, default="")  # host:pid:thread:run
    expires_at = models.DateTimeField(null=True, blank=True)  # empty when nobody holds it
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_ms = models.FloatField(null=True, blank=True)  # how long the last finished run took
    last_failed = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("periodic job lease")
        verbose_name_plural = _("periodic job leases")

    def __str__(self) -> str:
        return f"{self.name} ({self.holder or 'free'})"
