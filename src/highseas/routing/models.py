"""Assignment rules (分配规则), their round-robin pointers, and the log of runs and decisions."""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


def match_everything() -> dict[str, Any]:
    return {}


class AssignmentRule(models.Model):
    """One ordered rule: the customers its conditions match go to its target (SPEC §7).

    ``conditions`` is the JSON tree of ``highseas.engine.conditions``; ``target`` the JSON of
    ``highseas.engine.targets``. Both are validated by ``routing.services.save_rule``.
    """

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    pool = models.ForeignKey(
        "pools.Pool",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="assignment_rules",
        verbose_name=_("pool"),
        help_text=_("The pool whose customers this rule routes; empty for every pool."),
    )
    is_active = models.BooleanField(_("switched on"), default=True)
    conditions = models.JSONField(_("conditions"), default=match_everything, blank=True)
    target = models.JSONField(_("target"))
    created_by = models.ForeignKey(
        USER, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["is_active", "position"], name="rule_active_order")]

    def __str__(self) -> str:
        return self.name


class RoutingCursor(models.Model):
    """The persistent state of one rule's strategy for one team: the round-robin pointer
    (``{"last": user_id}``) or the weighted credits (``{"credit": {user_id: n}}``).

    A run locks the row (``SELECT … FOR UPDATE``) for the batch that moves it and writes it
    back with compare-and-set on ``version``, so concurrent runs never lose a step.
    """

    rule = models.ForeignKey(AssignmentRule, models.CASCADE, related_name="cursors")
    team = models.ForeignKey("accounts.Team", models.CASCADE, related_name="+")
    state = models.JSONField(default=dict, blank=True)
    version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("round-robin pointer")
        verbose_name_plural = _("round-robin pointers")
        constraints = [
            models.UniqueConstraint(fields=["rule", "team"], name="routing_cursor_unique")
        ]

    def __str__(self) -> str:
        return f"{self.rule} · {self.team}"


class AssignmentRun(models.Model):
    """One run of the rules over a backlog, a preview (``dry_run``) or real."""

    class Trigger(models.TextChoices):
        CREATE = "create", _("New customer")
        IMPORT = "import", _("Import")
        MANUAL = "manual", _("On demand")

    started_at = models.DateTimeField(_("started at"), db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    now = models.DateTimeField(_("judged as of"))
    dry_run = models.BooleanField(_("preview"), default=False)
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices)
    pool = models.ForeignKey(
        "pools.Pool",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("pool"),
    )
    seed = models.BigIntegerField(_("seed"))
    triggered_by = models.ForeignKey(
        USER, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    apply_mode = models.CharField(_("apply path"), max_length=10, blank=True)
    considered = models.PositiveIntegerField(_("customers considered"), default=0)
    assigned = models.PositiveIntegerField(_("assigned"), default=0)
    unassigned = models.PositiveIntegerField(_("left in the pool"), default=0)
    unassigned_reasons = models.JSONField(_("why left in the pool"), default=dict, blank=True)
    batches = models.PositiveIntegerField(default=0)
    duration_ms = models.FloatField(_("duration (ms)"), default=0)
    # the unscored eligible sets its decisions share, each stored once: a decision's
    # ``{"eligible_set": n}`` stands for ``{"eligible": {rep: null, ...}}`` of set n
    # (``AssignmentDecision.explained``)
    eligible_sets = models.JSONField(_("eligible sets"), default=list, blank=True)

    class Meta:
        verbose_name = _("assignment run")
        verbose_name_plural = _("assignment runs")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_trigger_display()} {self.started_at:%Y-%m-%d %H:%M}"


class AssignmentDecision(models.Model):
    """What a real run decided for one customer, and why (the engine's explanation)."""

    run = models.ForeignKey(
        AssignmentRun, models.CASCADE, related_name="decisions", db_constraint=False
    )
    # no index of its own: ``decision_latest`` (customer, -id) serves every lookup by customer
    customer = models.ForeignKey(
        "customers.Customer",
        models.CASCADE,
        related_name="assignment_decisions",
        db_index=False,
        db_constraint=False,
    )
    rule = models.ForeignKey(
        AssignmentRule,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="decisions",
        db_constraint=False,
    )
    # unindexed: a log row is written per customer routed, and looked up by customer
    owner = models.ForeignKey(
        USER,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    outcome = models.CharField(max_length=20)
    reason = models.CharField(max_length=50, blank=True)
    explanation = models.JSONField(default=dict)
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("assignment decision")
        verbose_name_plural = _("assignment decisions")
        indexes = [models.Index(fields=["customer", "-id"], name="decision_latest")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome="assigned") | Q(owner__isnull=False),
                name="decision_assigned_has_owner",
            )
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} customer {self.customer_id}: {self.outcome}"

    def explained(self) -> dict[str, Any]:
        """The explanation as the planner made it: an eligible set stored once on the run
        (``AssignmentRun.eligible_sets``) named again in full."""
        return expanded(self.explanation, self.run.eligible_sets)


def expanded(explanation: dict[str, Any], sets: list[list[int]]) -> dict[str, Any]:
    """``explanation`` with its ``eligible_set`` (a number in the run's ``sets``) replaced by
    the ``eligible`` reps it stands for; an explanation stored whole is returned as it is."""
    number = explanation.get("eligible_set")
    if number is None:
        return explanation
    full = {key: value for key, value in explanation.items() if key != "eligible_set"}
    if isinstance(number, int) and 0 <= number < len(sets):  # never otherwise, as written
        full["eligible"] = dict.fromkeys(str(rep) for rep in sets[number])
    return full


class ScheduledHandover(models.Model):
    """A departure handover set for a later moment (离职交接 "at a date"): who, where to, when
    and by whom. The scheduler runs it at ``run_at`` as the same resumable handover job, acting
    as ``created_by``; until then it may be cancelled. ``to`` is ``"rules"``, ``"pools"`` or
    ``"user"`` (then ``receiver`` is the colleague)."""

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class To(models.TextChoices):
        USER = "user", _("A colleague")
        RULES = "rules", _("The assignment rules")
        POOLS = "pools", _("Their pools")

    rep = models.ForeignKey(
        USER, models.CASCADE, related_name="scheduled_handovers", verbose_name=_("rep")
    )
    to = models.CharField(_("destination"), max_length=10, choices=To.choices)
    receiver = models.ForeignKey(
        USER, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("receiver")
    )
    run_at = models.DateTimeField(_("run at"))
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.SCHEDULED
    )
    created_by = models.ForeignKey(
        USER, models.PROTECT, related_name="+", verbose_name=_("scheduled by")
    )
    created_at = models.DateTimeField(_("scheduled at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        USER,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cancelled by"),
    )
    attempts = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("scheduled handover")
        verbose_name_plural = _("scheduled handovers")
        ordering = ["run_at", "id"]
        indexes = [models.Index(fields=["state", "run_at"], name="handover_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["rep"],
                condition=Q(state__in=["scheduled", "running"]),
                name="one_pending_handover_per_rep",
            ),
            models.CheckConstraint(
                condition=Q(to="user", receiver__isnull=False)
                | (~Q(to="user") & Q(receiver__isnull=True)),
                name="handover_receiver_iff_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rep} → {self.to} @ {self.run_at:%Y-%m-%d %H:%M}"

    @property
    def target(self) -> int | Literal["rules", "pools"]:
        if self.receiver_id is not None:
            return int(self.receiver_id)
        return "rules" if self.to == self.To.RULES else "pools"
