from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from highseas.accounts.raw_rows import load_unconverted
from highseas.customers.choices import (
    ActivityKind,
    CustomerKind,
    CustomerLevel,
    CustomerStage,
    CustomerStatus,
    DealStage,
    RevenueBand,
    Source,
)
from highseas.customers.fields import (
    EncryptedCharField,
    EncryptedEmailField,
    EncryptedJSONField,
)

USER = settings.AUTH_USER_MODEL


class Customer(models.Model):
    """A customer and its ownership fields.

    The ownership fields (``status``, ``owner``, ``pool``, ``owned_since``, ``frozen_until``,
    ``recycle_due_at``, ``warn_at``, ``previous_owner``) are written only by the ownership
    services in ``highseas.pools.services``, each change with its ledger row.
    """

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=10, choices=CustomerKind.choices, default=CustomerKind.COMPANY
    )
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    # Personal data, encrypted at rest (``customers.crypto``); found by the blind keys below.
    phone = EncryptedCharField(_("phone"), max_length=40, blank=True)
    email = EncryptedEmailField(_("e-mail"), blank=True)
    # indexed in Meta.indexes: ``db_index`` would add a pattern-ops twin on PostgreSQL that no
    # query reads (industry is matched exactly, or by ``contains``, which no B-tree serves)
    industry = models.CharField(_("industry"), max_length=50, blank=True)
    province = models.CharField(_("province"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    revenue_band = models.CharField(
        _("annual revenue"), max_length=10, choices=RevenueBand.choices, blank=True
    )
    source = models.CharField(
        _("source"), max_length=20, choices=Source.choices, default=Source.OTHER
    )
    campaign = models.CharField(_("campaign"), max_length=100, blank=True)
    level = models.CharField(
        _("level"), max_length=1, choices=CustomerLevel.choices, default=CustomerLevel.C
    )
    stage = models.CharField(
        _("stage"), max_length=20, choices=CustomerStage.choices, default=CustomerStage.PROSPECT
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    created_by = models.ForeignKey(
        USER, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    # Ownership
    status = models.CharField(_("status"), max_length=10, choices=CustomerStatus.choices)
    pool = models.ForeignKey(
        "pools.Pool",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="customers",
        verbose_name=_("pool"),
    )
    # ``customer_owner_held`` (owner, status, stage) answers every look-up by owner: no index of
    # its own, one index write fewer per ownership change
    owner = models.ForeignKey(
        USER,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="customers",
        verbose_name=_("owner"),
        db_index=False,
    )
    owned_since = models.DateTimeField(_("owned since"), null=True, blank=True)
    frozen_until = models.DateTimeField(_("frozen until"), null=True, blank=True)
    last_effective_activity_at = models.DateTimeField(
        _("last effective follow-up"), null=True, blank=True
    )
    last_activity_at = models.DateTimeField(_("last follow-up of any kind"), null=True, blank=True)
    recycle_due_at = models.DateTimeField(_("recycle due at"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warn at"), null=True, blank=True)
    previous_owner = models.ForeignKey(
        USER,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("previous owner"),
        db_index=False,  # indexed below for the rows that have one: see Meta.indexes
    )

    # Duplicate keys (SPEC §8): normalized phone / e-mail / credit code as blind indexes
    # (keyed hashes, ``customers.crypto.blind``) and the core company name in clear, NULL when
    # there is none; written with the business fields by the services
    # (``highseas.customers.duplicates.apply_keys``), backfilled by ``highseas dedupkeys``.
    phone_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    email_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    credit_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    name_key = models.CharField(max_length=200, null=True, blank=True, editable=False)
    # A customer merged into another stays as a pooled, hidden row so its ledger replays;
    # ``highseas.pools.merge`` sets these and can undo them within the retention window.
    merged_into = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        db_index=False,  # indexed below for the few merged rows only: see Meta.indexes
        related_name="merged_from",
        verbose_name=_("merged into"),
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["phone_key"], name="customer_phone_key"),
            models.Index(fields=["email_key"], name="customer_email_key"),
            models.Index(fields=["credit_key"], name="customer_credit_key"),
            models.Index(fields=["name_key"], name="customer_name_key"),
            # Partial: an index over every row would match ``merged_into IS NULL`` everywhere
            # and tempt SQLite's planner into reading the whole table through it.
            models.Index(
                fields=["merged_into"],
                name="customer_merged_into",
                condition=Q(merged_into__isnull=False),
            ),
            models.Index(fields=["industry"], name="customer_industry"),
            # Partial, as merged_into: the never-owned rows (every import) write no entry, and
            # every look-up (``= id``, the user's SET_NULL and the FK check) implies NOT NULL.
            models.Index(
                fields=["previous_owner"],
                name="customer_previous_owner",
                condition=Q(previous_owner__isnull=False),
            ),
            models.Index(fields=["status", "pool", "id"], name="customer_pool_list"),
            # A rep's holdings by status and stage, counted from the index alone (the routing
            # roster and every batch of a large import count them for all the team's reps).
            models.Index(fields=["owner", "status", "stage"], name="customer_owner_held"),
            # The sweep's scans: status, then the time it walks, then id (its keyset order),
            # so the planner takes them even before the table has statistics.
            models.Index(
                fields=["status", "recycle_due_at", "id"],
                name="customer_recycle_due",
                condition=Q(recycle_due_at__isnull=False),
            ),
            models.Index(
                fields=["status", "warn_at", "id"],
                name="customer_warn_due",
                condition=Q(warn_at__isnull=False),
            ),
            # The sweep preview's count of owners to warn (warned, not yet due), read from
            # the index alone in due order, its scope's owners included.
            models.Index(
                fields=["status", "recycle_due_at", "warn_at", "owner"],
                name="customer_warn_window",
                condition=Q(warn_at__isnull=False),
            ),
            models.Index(
                fields=["status", "frozen_until", "id"],
                name="customer_freeze_ends",
                condition=Q(frozen_until__isnull=False),
            ),
            models.Index(fields=["province", "city"], name="customer_region"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CustomerStatus.values), name="customer_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        status=CustomerStatus.POOLED,
                        owner__isnull=True,
                        pool__isnull=False,
                        frozen_until__isnull=True,
                    )
                    | Q(
                        status=CustomerStatus.OWNED,
                        owner__isnull=False,
                        owned_since__isnull=False,
                        frozen_until__isnull=True,
                    )
                    | Q(
                        status=CustomerStatus.FROZEN,
                        owner__isnull=False,
                        owned_since__isnull=False,
                        frozen_until__isnull=False,
                    )
                ),
                name="customer_pooled_xor_owned",
            ),
            models.CheckConstraint(
                condition=Q(level__in=CustomerLevel.values), name="customer_level_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def refresh_from_db(
        self, using: str | None = None, fields: Any = None, from_queryset: Any = None
    ) -> None:
        """A customer answered from the row its write returned (``raw_rows.lazy_instance``)
        converts the rest of that row on the first read of a field not converted yet, rather
        than reading the database; any other reload reads the database."""
        if using is None and from_queryset is None and load_unconverted(self, fields):
            return
        super().refresh_from_db(using, fields, from_queryset)


class CustomerMerge(models.Model):
    """One merge of ``absorbed`` into ``survivor``, with what undoing it needs: the
    survivor's field values before and after, the absorbed customer's ownership state, and
    the ids of the rows moved across."""

    survivor = models.ForeignKey(Customer, models.PROTECT, related_name="merges_in")
    absorbed = models.ForeignKey(Customer, models.PROTECT, related_name="merges_out")
    merged_by = models.ForeignKey(USER, models.SET_NULL, null=True, related_name="+")
    merged_at = models.DateTimeField(_("merged at"))
    undo_until = models.DateTimeField(_("can be undone until"))
    survivor_before = EncryptedJSONField(default=dict)  # holds phones and e-mails
    survivor_after = EncryptedJSONField(default=dict)
    absorbed_state = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(USER, models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
        constraints = [
            models.UniqueConstraint(
                fields=["absorbed"],
                condition=Q(undone_at__isnull=True),
                name="merge_one_live_per_absorbed",
            ),
            models.CheckConstraint(
                condition=~Q(survivor=models.F("absorbed")), name="merge_not_into_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.absorbed_id} → {self.survivor_id}"


class Contact(models.Model):
    customer = models.ForeignKey(Customer, models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=100)
    title = models.CharField(_("title"), max_length=100, blank=True)
    phones = EncryptedJSONField(_("phones"), default=list, blank=True)
    email = EncryptedEmailField(_("e-mail"), blank=True)
    wechat = EncryptedCharField(_("WeChat"), max_length=100, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    important_dates = models.JSONField(
        _("important dates"),
        default=list,
        blank=True,
        help_text=_('[{"label": "签约纪念日", "date": "2024-05-01"}]'),
    )
    is_primary = models.BooleanField(_("primary contact"), default=False)
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    legal_basis = models.CharField(_("legal basis"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return self.name


class Activity(models.Model):
    """A follow-up (跟进记录); ``occurred_at`` may be in the past on import."""

    customer = models.ForeignKey(Customer, models.CASCADE, related_name="activities")
    kind = models.CharField(_("kind"), max_length=20, choices=ActivityKind.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    author = models.ForeignKey(
        USER, models.SET_NULL, null=True, related_name="activities", verbose_name=_("author")
    )
    note = models.TextField(_("note"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    next_contact_at = models.DateTimeField(_("next contact at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="activity_timeline"),
            models.Index(
                fields=["next_contact_at"],
                name="activity_next_contact",
                condition=Q(next_contact_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class Deal(models.Model):
    customer = models.ForeignKey(Customer, models.CASCADE, related_name="deals")
    name = models.CharField(_("name"), max_length=200, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    stage = models.CharField(
        _("stage"), max_length=20, choices=DealStage.choices, default=DealStage.QUALIFICATION
    )
    owner = models.ForeignKey(
        USER, models.SET_NULL, null=True, blank=True, related_name="deals", verbose_name=_("owner")
    )
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    won_at = models.DateTimeField(_("won at"), null=True, blank=True)
    contract_end = models.DateTimeField(_("contract end"), null=True, blank=True)
    lost_at = models.DateTimeField(_("lost at"), null=True, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [models.Index(fields=["customer", "stage"], name="deal_customer_stage")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative"),
            models.CheckConstraint(
                condition=~Q(stage=DealStage.WON) | Q(won_at__isnull=False),
                name="deal_won_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(stage=DealStage.LOST) | Q(lost_at__isnull=False),
                name="deal_lost_has_date",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.customer} ¥{self.amount}"


class TaskPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")


class Task(models.Model):
    customer = models.ForeignKey(
        Customer, models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    title = models.CharField(_("title"), max_length=200)
    assignee = models.ForeignKey(
        USER, models.CASCADE, related_name="tasks", verbose_name=_("assignee")
    )
    created_by = models.ForeignKey(USER, models.SET_NULL, null=True, related_name="+")
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    priority = models.CharField(
        _("priority"), max_length=10, choices=TaskPriority.choices, default=TaskPriority.NORMAL
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["assignee", "due_at"], name="task_assignee_due"),
            models.Index(
                fields=["due_at"], name="task_open_due", condition=Q(done_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Comment(models.Model):
    customer = models.ForeignKey(Customer, models.CASCADE, related_name="comments")
    author = models.ForeignKey(USER, models.SET_NULL, null=True, related_name="+")
    body = models.TextField(_("body"))
    mentions: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        USER, blank=True, related_name="mentioned_in"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")

    def __str__(self) -> str:
        return self.body[:40]


class PublicSearchSettings(models.Model):
    """The organization's 公共检索 settings (SPEC §8), one row, edited by admins on the
    console. Without the row, the deployment's settings apply (``customers.public``)."""

    fields = models.JSONField(_("public fields"), default=list)
    scope = models.CharField(_("scope"), max_length=20, default="prospects_and_won")
    statuses = models.JSONField(_("statuses shown"), default=list)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(USER, models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("public search settings")
        verbose_name_plural = _("public search settings")

    def __str__(self) -> str:
        return str(_("public search settings"))
