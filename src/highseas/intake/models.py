"""Imports (SPEC §10): a job per uploaded file, a planned row per line, a mapping per team.

The ``ImportRow`` is what makes an import exact: the preview writes one per line with what
will happen to it; the commit applies a row in the same transaction that marks it ``done``
with the customer it produced, so a commit killed anywhere and restarted skips what is done
and redoes nothing. An import applied at once keeps its file's lines (``KeptLines``)
until it is done, and writes each line's ``ImportRow`` with what happened to it, done, in
the transaction that applies it (before, it wrote every row ``pending`` first and updated it
when applied; a job staged that way still resumes so).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from highseas.customers.fields import EncryptedJSONField

USER = settings.AUTH_USER_MODEL


def empty_dict() -> dict[str, Any]:
    return {}


class ImportJob(models.Model):
    class Status(models.TextChoices):
        PREVIEWED = "previewed", _("Previewed")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class OnDuplicate(models.TextChoices):
        BLOCK = "block", _("Block")
        SKIP = "skip", _("Skip")
        MERGE = "merge", _("Merge")

    created_by = models.ForeignKey(USER, models.PROTECT, related_name="+")
    pool = models.ForeignKey("pools.Pool", models.PROTECT, related_name="+")
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    mapping = models.JSONField(_("column mapping"), default=empty_dict)
    on_duplicate = models.CharField(
        _("on duplicate"), max_length=5, choices=OnDuplicate.choices, default=OnDuplicate.BLOCK
    )
    options = models.JSONField(default=empty_dict, blank=True)
    status = models.CharField(
        _("status"), max_length=9, choices=Status.choices, default=Status.PREVIEWED
    )
    error = models.JSONField(default=empty_dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    planned = models.JSONField(default=empty_dict, blank=True)  # counts per action
    done_rows = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("created at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"import #{self.pk} {self.file_name}"

    @property
    def at_once(self) -> bool:
        """Applied without a preview (``imports.import_at_once``): each row's plan is what
        happened to it."""
        return bool(self.options.get("at_once"))


class ImportRow(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", _("Create")
        DUPLICATE = "duplicate", _("Duplicate")
        SKIP = "skip", _("Skip")
        MERGE = "merge", _("Merge")
        ERROR = "error", _("Error")
        # stored by an import applied at once before its file's lines were kept (``KeptLines``),
        # not yet applied
        PENDING = "pending", _("Not yet applied")

    # the unique (job, line) below leads with job and serves every look-up by job
    job = models.ForeignKey(ImportJob, models.CASCADE, related_name="rows", db_index=False)
    line = models.PositiveIntegerField()
    values = EncryptedJSONField(default=empty_dict)  # the line's cells: phones, e-mails
    action = models.CharField(max_length=9, choices=Action.choices)
    code = models.CharField(max_length=40, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    duplicate_of = models.ForeignKey(
        "customers.Customer",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # indexed in Meta for the duplicate rows only
    )
    duplicate_line = models.PositiveIntegerField(null=True, blank=True)
    holder = models.CharField(max_length=150, blank=True)
    owner = models.ForeignKey(USER, models.SET_NULL, null=True, blank=True, related_name="+")
    routed = models.BooleanField(default=False)
    customer = models.ForeignKey(
        "customers.Customer", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_done = models.BooleanField(default=False)

    class Meta:
        ordering = ["job", "line"]
        constraints = [
            models.UniqueConstraint(fields=["job", "line"], name="import_row_once_per_line")
        ]
        indexes = [
            models.Index(
                fields=["duplicate_of"],
                name="import_row_duplicate_of",
                condition=Q(duplicate_of__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"import #{self.job_id} line {self.line}: {self.action}"


class ImportMapping(models.Model):
    """The column mapping a team used last, offered again on its next upload."""

    team = models.OneToOneField("accounts.Team", models.CASCADE, related_name="+")
    mapping = models.JSONField(default=empty_dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"import mapping of team #{self.team_id}"


class KeptLines(models.Model):
    """A run of the lines of a file applied at once, as mapped cells (``[[line, {field:
    cell}], …]``, encrypted as one token: phones and e-mails), kept from the moment the file
    is read until the import is done, so a killed import resumes without the file. A file is
    kept in runs of ``imports.KEPT_LINES`` lines: written and read back one run at a time."""

    job = models.ForeignKey(ImportJob, models.CASCADE, related_name="kept", db_index=False)
    first_line = models.PositiveIntegerField()
    cells = EncryptedJSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "first_line"], name="kept_lines_once")
        ]

    def __str__(self) -> str:
        return f"lines from {self.first_line} of import #{self.job_id}"
