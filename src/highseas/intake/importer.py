"""Applying import rows: one code path for the preview and the commit.

``Importer.apply_batch`` takes a batch of rows (line, cells by field) and, in the caller's
transaction, does to each what a manual create does:

1. the cells are parsed (``intake.columns``) and validated by the bounds of a manual create
   (``engine.bounds.customer_errors``) and the customer model's own field rules (lengths,
   e-mail, choices) — a bad row becomes an ``error`` plan with a stable code
   (``validation_error``) and the fields at fault, and the next row goes on;
2. an owner column names a user by username or display name; the importer must be allowed to
   give customers to them (``pools.authority.require_receiver``);
3. the customer is created at the ``import`` entry point, so the pool's duplicate policy
   screens it against the database and every row of the file above it: rows going to the
   pool are created together by ``intake.creation.create_pooled_customers`` (each screened
   like a create, and against the rows before it in the batch), a row naming its owner by
   ``create_customer`` after the pooled rows above it are written. A blocking duplicate
   becomes, per the request: ``duplicate`` (nothing written), ``skip`` (nothing written,
   reported as skipped) or ``merge`` (the row's values fill the existing customer's empty
   fields, ``pools.merge.merge_values``). A named owner's holding cap holds
   (``holding_cap_reached``) unless an admin overrides it: then the customer is created
   pooled and given by ``pools.ownership.assign(override_cap=True)``, which audits the
   override;
4. after the batch, the pooled newcomers are routed by the assignment rules in one run
   (``routing.services.assign_new_customers``, trigger ``import``, a seed fixed per job and
   batch, so the preview and the commit route alike), planned from the rows as this batch
   wrote them (a customer a later row merged into is read again) and carrying from batch to
   batch only what ``routing.runs.Carried`` says; each routed row's owner is its decision's.
   A batch whose good rows all go to the pool, with no merging, and that routes more
   customers than ``runs.SERVICE_PATH_MAX`` (the set-based path) is routed before its
   customers are inserted, and they are inserted after the run, each row written once,
   already owned (``bulk_assign.Unwritten``); the ids, the ledger, the decisions and the
   notifications are those of inserting them pooled and updating them owned, which the
   other batches still do (a row naming its owner is screened against the rows above it
   as written; a merge may change a customer of the batch; a small run gives customers one
   by one through the rule's fast path);
5. history (an import with ``history``): one closed deal and one past activity per row, by
   the follow-up services (``pools.followups``), written for the owner the customer has
   after step 4; the services recompute the recycle schedule, whose idle clock starts no
   earlier than the import (the ownership), whatever the activity's date.

Each row's outcome is a ``RowPlan``; its ``signature`` is what the commit must reproduce.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import transaction
from django.db.models import CharField, Field, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.duplicates import Probe, keys_of, probe_of
from highseas.customers.models import Customer
from highseas.customers.regions import normalize_region
from highseas.engine.bounds import customer_errors
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.intake.columns import CUSTOMER_FIELDS, ParsedRow, parse_row
from highseas.intake.creation import create_customer, create_pooled_customers
from highseas.intake.models import ImportJob, ImportRow
from highseas.pools import dedup, followups, reasons
from highseas.pools.authority import require_receiver
from highseas.pools.bulk_assign import Unwritten
from highseas.pools.merge import merge_values
from highseas.pools.ownership import assign
from highseas.pools.reasons import Reason
from highseas.routing import runs
from highseas.routing.models import AssignmentRun
from highseas.routing.runs import Carried, lock_routing
from highseas.routing.services import assign_new_customers
from highseas.routing.snapshots import customer_row

Action = ImportRow.Action
MODEL_FIELDS: dict[str, Field[Any, Any]] = {
    name: cast("Field[Any, Any]", Customer._meta.get_field(name)) for name in CUSTOMER_FIELDS
}


def _text_limit(field: Field[Any, Any]) -> int | None:
    """The length a text field's ``clean`` checks, when that is all it checks (no choices,
    no other validator): then a text within it is clean as it is."""
    if not isinstance(field, CharField) or field.choices is not None or not field.editable:
        return None
    validators = field.validators
    if len(validators) != 1 or type(validators[0]) is not MaxLengthValidator:
        return None
    limit = validators[0].limit_value
    return limit if isinstance(limit, int) and limit == field.max_length else None


# the fields whose every non-empty text within its length ``Field.clean`` passes unchanged
TEXT_LIMITS = {name: limit for name, field in MODEL_FIELDS.items() if (limit := _text_limit(field))}


@dataclass
class RowPlan:
    line: int
    action: str
    code: str = ""
    detail: str = ""
    duplicate_of: int | None = None
    duplicate_line: int | None = None
    holder: str = ""
    owner_id: int | None = None
    routed: bool = False
    customer_id: int | None = None

    def signature(self) -> tuple[Any, ...]:
        """What the commit must do again: the action, the error, whose duplicate, which owner.
        A duplicate of an earlier row is named by its line (its customer id is only known
        once that row is written)."""
        duplicate = ("line", self.duplicate_line) if self.duplicate_line else self.duplicate_of
        return (self.action, self.code, duplicate, self.owner_id)

    def as_dict(self) -> dict[str, Any]:
        """``dataclasses.asdict`` of the plan, built directly: its values are plain (text,
        numbers, ``None``), which ``asdict`` would walk and deep-copy one by one."""
        return {
            "line": self.line,
            "action": self.action,
            "code": self.code,
            "detail": self.detail,
            "duplicate_of": self.duplicate_of,
            "duplicate_line": self.duplicate_line,
            "holder": self.holder,
            "owner_id": self.owner_id,
            "routed": self.routed,
            "customer_id": self.customer_id,
        }


@dataclass
class Prepared:
    """A row read and checked before anything is written (steps 1–2 without the owner's
    look-up): its values, and its plan when it is a bad row."""

    line: int
    parsed: ParsedRow
    refused: RowPlan | None
    # a good row without an owner: its fields normalized as the pool's newcomer is written
    # (``normalize_region``) and its duplicate keys with their blind values
    pooled: tuple[dict[str, Any], Probe] | None = None


def _error(line: int, error: HighSeasError) -> RowPlan:
    return RowPlan(line, Action.ERROR, code=error.code.value, detail=_(error.detail)[:500])


def _invalid(line: int, errors: dict[str, list[str]]) -> RowPlan:
    detail = "; ".join(f"{name}: {' '.join(map(str, msgs))}" for name, msgs in errors.items())
    return RowPlan(line, Action.ERROR, code=ErrorCode.VALIDATION_ERROR.value, detail=detail[:500])


def aware(moment: datetime | None) -> datetime | None:
    if moment is None or timezone.is_aware(moment):
        return moment
    return timezone.make_aware(moment)


class Importer:
    def __init__(
        self, job: ImportJob, actor: User, *, now: datetime | None = None, preview: bool = False
    ) -> None:
        self.job = job
        self.lock_keys = not preview  # a preview is rolled back: nothing to serialize
        self.actor = actor
        self.viewer = Viewer(actor)
        self.now = now or timezone.now()
        self.history = bool(job.options.get("history"))
        self.override_cap = bool(job.options.get("override_cap"))
        self.reason = Reason(reasons.IMPORTED, {"file": job.file_name})
        self.label = f"import:{job.pk}"
        self.created_lines: dict[int, int] = {}  # customer id → the line that created it
        self._owners: dict[str, User | HighSeasError] = {}
        self._cleaned: dict[tuple[str, Any], list[str]] = {}
        self._written: dict[int, Customer] = {}  # the batch's pooled newcomers, as written
        self._insert_pooled = True  # False: the batch's newcomers are inserted once routed
        self.routing = Carried()  # what a batch's routing run hands to the next

    # --- one row ------------------------------------------------------------------------

    def owner_named(self, name: str) -> User:
        found = self._owner(name)
        if isinstance(found, HighSeasError):
            raise found
        return found

    def _owner(self, name: str) -> User | HighSeasError:
        """The user a row names as its owner, or why not; looked up once per import."""
        if name not in self._owners:
            self._owners[name] = self._find_owner(name)
        return self._owners[name]

    def _find_owner(self, name: str) -> User | HighSeasError:
        users = list(User.objects.filter(Q(username=name) | Q(display_name=name))[:3])
        exact = [u for u in users if u.username == name]
        if len(exact) == 1 or len(users) == 1:
            user = exact[0] if exact else users[0]
            try:
                require_receiver(self.viewer, user)
            except HighSeasError as refusal:
                return refusal
            return user
        return HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("No single user is called %(name)s.") % {"name": name},
            errors={"owner": ["unknown"]},
        )

    def _checked(self, line: int, parsed: ParsedRow) -> RowPlan | None:
        """Step 1: the plan of a bad row, ``None`` for a good one."""
        errors = {**parsed.errors, **customer_errors(parsed.fields)}
        for name in CUSTOMER_FIELDS:
            value = parsed.fields.get(name)
            if value is None and name != "name":
                continue
            if messages := self._field_errors(name, "" if value is None else value):
                errors[name] = messages
        for name, moment in (
            ("deal_date", (parsed.deal or {}).get("at")),
            ("activity_at", (parsed.activity or {}).get("at")),
        ):
            if moment is not None and aware(moment) > self.now:  # type: ignore[operator]
                errors[name] = [_("in the future")]
        return _invalid(line, errors) if errors else None

    def _field_errors(self, name: str, value: Any) -> list[str]:
        """The model field's own rules for one value (``Field.clean``), remembered per value:
        a file repeats its provinces, industries, sources and levels on every row."""
        limit = TEXT_LIMITS.get(name)
        if limit is not None and type(value) is str and 0 < len(value) <= limit:
            return []  # what ``clean`` says of it, without its calls (a name, an address)
        memo_key = (name, value) if isinstance(value, str | int) else None
        if memo_key is not None and (known := self._cleaned.get(memo_key)) is not None:
            return known
        try:
            MODEL_FIELDS[name].clean(value, None)
            messages: list[str] = []
        except ValidationError as invalid:
            messages = [str(m) for m in invalid.messages]
        if memo_key is not None:
            if len(self._cleaned) >= 50_000:
                self._cleaned.clear()
            self._cleaned[memo_key] = messages
        return messages

    def parsed_row(self, line: int, cells: dict[str, str]) -> tuple[ParsedRow, RowPlan | None]:
        """Steps 1–2: the row's values, and its plan when it is a bad row."""
        parsed = parse_row(cells)
        if not self.history:
            parsed.deal = parsed.activity = None
            parsed.errors = {
                k: v for k, v in parsed.errors.items() if not k.startswith(("deal", "activity"))
            }
        if (refused := self._checked(line, parsed)) is not None:
            return parsed, refused
        return parsed, None

    def apply_owned(self, line: int, parsed: ParsedRow) -> RowPlan:
        """A row naming its owner: created by ``create_customer`` on its own."""
        try:
            customer = self._create(parsed, self.owner_named(parsed.owner))
        except HighSeasError as error:
            return self.refused(line, parsed, error)
        return self.created(line, customer)

    def apply_pooled(self, pending: list[Prepared]) -> list[RowPlan]:
        """Rows going to the pool: created together (``create_pooled_customers``), from
        their fields and keys as prepared."""
        if not pending:
            return []
        pooled = [row.pooled or self._pooled(row.parsed) for row in pending]
        results = create_pooled_customers(
            actor=self.actor,
            rows=[fields for fields, _probe in pooled],
            pool=self.job.pool,
            now=self.now,
            entry_point="import",
            reason=self.reason,
            actor_label=self.label,
            lock_keys=self.lock_keys,
            probes=[probe for _fields, probe in pooled],
            insert=self._insert_pooled,
        )
        return [
            self.refused(row.line, row.parsed, result)
            if isinstance(result, HighSeasError)
            else self.created(row.line, result)
            for row, result in zip(pending, results, strict=True)
        ]

    @staticmethod
    def _pooled(parsed: ParsedRow) -> tuple[dict[str, Any], Probe]:
        fields = normalize_region(parsed.fields)
        return fields, probe_of(fields)

    def created(self, line: int, customer: Customer) -> RowPlan:
        self.created_lines[customer.pk] = line
        if customer.owner_id is None:
            self._written[customer.pk] = customer
        return RowPlan(line, Action.CREATE, owner_id=customer.owner_id, customer_id=customer.pk)

    def refused(self, line: int, parsed: ParsedRow, error: HighSeasError) -> RowPlan:
        if error.code is ErrorCode.DUPLICATE:
            return self._duplicate(line, parsed, error)
        return _error(line, error)

    @transaction.atomic
    def _create(self, parsed: ParsedRow, owner: User | None) -> Customer:
        """Step 3: a created customer, its named owner given (the cap kept or overridden)."""
        given_later = owner is not None and self.override_cap and self.viewer.is_admin
        created = create_customer(
            actor=self.actor,
            fields=parsed.fields,
            owner=None if given_later else owner,
            pool=self.job.pool,
            now=self.now,
            entry_point="import",
            route=False,
            reason=self.reason,
            actor_label=self.label,
            lock_keys=self.lock_keys,
        )
        if given_later and owner is not None:
            assign(self.actor, created.customer.pk, owner, override_cap=True, now=self.now)
            created.customer.refresh_from_db()
        return created.customer

    def _duplicate(self, line: int, parsed: ParsedRow, error: HighSeasError) -> RowPlan:
        matches = error.facts.get("matches") or [{}]
        customer_id = matches[0].get("id")
        plan = RowPlan(
            line,
            Action.DUPLICATE,
            code=ErrorCode.DUPLICATE.value,
            detail=_(error.detail),
            duplicate_of=customer_id,
            duplicate_line=self.created_lines.get(customer_id or 0),
            holder=str(error.facts.get("holder") or "")[:150],
        )
        if self.job.on_duplicate == ImportJob.OnDuplicate.SKIP:
            plan.action = Action.SKIP
        elif self.job.on_duplicate == ImportJob.OnDuplicate.MERGE and customer_id:
            try:
                merge_values(self.actor, customer_id, parsed.fields)
            except HighSeasError as refusal:
                return _error(line, refusal)
            self._written.pop(customer_id, None)  # changed since written: routed as read
            plan.action, plan.code, plan.customer_id = Action.MERGE, "", customer_id
        return plan

    # --- a batch ------------------------------------------------------------------------

    def prepare(self, rows: Iterable[tuple[int, dict[str, str]]]) -> list[Prepared]:
        """Steps 1–2 of a batch's rows, reading and writing nothing in the database
        (``preparing.prepared_batches``)."""
        prepared = [Prepared(line, *self.parsed_row(line, cells)) for line, cells in rows]
        for row in prepared:
            if row.refused is None and not row.parsed.owner:
                row.pooled = self._pooled(row.parsed)
        return prepared

    def apply_batch(self, rows: list[tuple[int, dict[str, str]]], index: int) -> list[RowPlan]:
        """Steps 1–5 for a batch, in the caller's transaction."""
        return self.apply_prepared(self.prepare(rows), index)

    def apply_prepared(self, rows: list[Prepared], index: int) -> list[RowPlan]:
        """Steps 2–5 for a batch of prepared rows, in the caller's transaction. Rows without
        an owner are created together; a row naming its owner first writes those before it,
        so that every row is screened against all the rows above it."""
        plans: dict[int, RowPlan] = {}
        parsed_rows: dict[int, ParsedRow] = {}
        self._written = {}
        self._insert_pooled = not self._routes_before_insert(rows)
        self._lock_first(rows)
        pending: list[Prepared] = []
        for row in rows:
            line, parsed = row.line, row.parsed
            parsed_rows[line] = parsed
            if row.refused is not None:
                plans[line] = row.refused
            elif parsed.owner:
                plans.update((p.line, p) for p in self.apply_pooled(pending))
                pending = []
                plans[line] = self.apply_owned(line, parsed)
            else:
                pending.append(row)
        plans.update((p.line, p) for p in self.apply_pooled(pending))
        ordered = [plans[row.line] for row in rows]
        self._route(ordered, index)
        if self.history:
            for plan in ordered:
                parsed = parsed_rows[plan.line]
                if plan.customer_id and (parsed.deal or parsed.activity):
                    self._attach_history(plan.customer_id, parsed)
        return ordered

    def _routes_before_insert(self, rows: list[Prepared]) -> bool:
        """Whether the batch's newcomers may be routed before they are inserted (step 4):
        every good row goes to the pool, no row merges, and more than
        ``runs.SERVICE_PATH_MAX`` of them (``_route`` inserts them first when fewer are
        created)."""
        good = [row for row in rows if row.refused is None]
        return (
            self.job.on_duplicate != ImportJob.OnDuplicate.MERGE
            and len(good) > runs.SERVICE_PATH_MAX
            and not any(row.parsed.owner for row in good)
        )

    def _lock_first(self, rows: list[Prepared]) -> None:
        """Take first, in the one order, what the batch's rows would lock out of it.

        - A committed batch naming owners locks every good row's duplicate keys, in one
          sorted statement (``dedup.lock_ahead``). A create locks its keys, then its owner
          (``create_customer``); the batch would lock its owners, then each row's keys as it
          wrote the row, and wait on such a create in a cycle, or on another import's rows in
          another order. A batch of pooled rows locks its keys in one statement anyway
          (``dedup.screen_many``).
        - Then a batch that will hold reps or customers before its routing run takes what
          that run locks first (``runs.lock_routing``): the rules' pointers, then the reps
          they reach and the owners it names, in id order. That is a batch naming owners
          (each locked as its row is written) and a committed batch merging rows into
          existing customers (each locked as it is merged, while a rule run holding the
          pointers may wait on one of them)."""
        good = [row for row in rows if row.refused is None]
        owners = {row.parsed.owner for row in good if row.parsed.owner}
        if owners and self.lock_keys:
            dedup.lock_ahead(
                [row.pooled[1] if row.pooled else keys_of(row.parsed.fields) for row in good],
                pool=self.job.pool,
                entry_point="import",
            )
        named = {found.pk for name in owners if isinstance(found := self._owner(name), User)}
        merging = self.lock_keys and self.job.on_duplicate == ImportJob.OnDuplicate.MERGE
        if named or merging:
            lock_routing(named)

    def _route(self, plans: list[RowPlan], index: int) -> None:
        pooled = [p for p in plans if p.action == Action.CREATE and p.owner_id is None]
        if not pooled:
            return
        ids = [p.customer_id for p in pooled if p.customer_id]
        unwritten = None if self._insert_pooled else Unwritten(list(self._written.values()))
        if unwritten is not None and len(ids) <= runs.SERVICE_PATH_MAX:
            unwritten.insert()  # given one by one, as written: inserted pooled first
            unwritten = None
        result = assign_new_customers(
            self.actor,
            ids,
            trigger=AssignmentRun.Trigger.IMPORT,
            now=self.now,
            seed=self.job.pk * 1_000_003 + index,
            rows={pk: customer_row(c) for pk, c in self._written.items()},
            carried=self.routing,
            unwritten=unwritten,
        )
        if unwritten is not None:
            unwritten.insert()  # routed or not, each row as its run left it
        if result is None:
            return
        owners = {d.customer_id: d.owner_id for d in result.assigned}
        for plan in pooled:
            plan.owner_id = owners.get(plan.customer_id or 0)
            plan.routed = plan.owner_id is not None

    def _attach_history(self, customer_id: int, parsed: ParsedRow) -> None:
        """Step 5, written by the customer's owner (the owner at the time) when it has one."""
        owner_id = Customer.objects.filter(pk=customer_id).values_list("owner_id", flat=True)[0]
        author = User.objects.get(pk=owner_id) if owner_id else self.actor
        if parsed.deal:  # opened, then closed: the two steps a person takes
            at = aware(parsed.deal["at"]) or self.now
            deal = followups.open_deal(
                author, customer_id, amount=parsed.deal["amount"], name=_("Imported deal"), now=at
            )
            followups.close_deal(author, customer_id, deal.pk, stage=parsed.deal["stage"], now=at)
        if parsed.activity:
            followups.log_activity(
                author,
                customer_id,
                kind=parsed.activity["kind"],
                occurred_at=aware(parsed.activity["at"]),
                note=parsed.activity["note"],
                now=self.now,
            )
