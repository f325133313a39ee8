"""Imports: preview ≡ commit, resumable and exactly-once, every row through the create services."""

from __future__ import annotations

import io
import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from highseas.accounts.models import AuditLog, User
from highseas.accounts.visibility import Viewer
from highseas.customers import fts
from highseas.customers.duplicates import key_values, keys_of
from highseas.customers.models import Activity, Customer, Deal
from highseas.customers.search import search
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.intake import imports
from highseas.intake.importer import Importer
from highseas.intake.imports import (
    commit_import,
    guess_mapping,
    import_summary,
    preview_import,
    remembered_mapping,
)
from highseas.intake.models import ImportJob
from highseas.pools import ownership
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent
from highseas.routing import runs
from highseas.routing.models import AssignmentRule
from tests.integration.import_kills import Killed, killed_then_resumed

pytestmark = pytest.mark.django_db

SAMPLE = (Path(__file__).parents[2] / "docs" / "samples" / "customers.csv").read_bytes()
SAMPLE_TEXT = SAMPLE.decode("utf-8")
SAMPLE_CREATED = [2, 3, 4, 8, 9, 10, 12, 13, 14, 15]  # with history (line 11's date is bad)
HEADER = "客户名称,电话,邮箱,负责人\n"


def gbk(text: str) -> bytes:
    return text.encode("gb18030")


def xlsx(text: str) -> bytes:
    import csv

    book = Workbook()
    sheet = book.active
    for cells in csv.reader(io.StringIO(text)):
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def preview(user: User, pool: Any, content: bytes = SAMPLE, **kwargs: Any) -> ImportJob:
    kwargs.setdefault("file_name", "customers.csv")
    return preview_import(Viewer(user), content=content, pool_id=pool.pk, **kwargs)


def plans(job: ImportJob) -> list[tuple[Any, ...]]:
    return list(
        job.rows.order_by("line").values_list("line", "action", "code", "duplicate_line", "owner")
    )


def by_action(job: ImportJob, action: str) -> list[int]:
    return list(job.rows.filter(action=action).order_by("line").values_list("line", flat=True))


# --- the sample file ---------------------------------------------------------------------------


def test_the_headers_of_the_sample_are_recognised() -> None:
    headers = SAMPLE_TEXT.splitlines()[0].split(",")
    assert guess_mapping(headers) == {
        "客户名称": "name",
        "电话": "phone",
        "邮箱": "email",
        "统一社会信用代码": "credit_code",
        "省份": "province",
        "城市": "city",
        "行业": "industry",
        "员工人数": "employees",
        "来源": "source",
        "等级": "level",
        "负责人": "owner",
        "成交状态": "deal_status",
        "成交金额": "deal_amount",
        "成交日期": "deal_date",
    }


def test_english_headers_are_recognised() -> None:
    assert guess_mapping(["Name", "Phone", "E-mail", "credit_code", "Owner", "deal_amount"]) == {
        "Name": "name",
        "Phone": "phone",
        "E-mail": "email",
        "credit_code": "credit_code",
        "Owner": "owner",
        "deal_amount": "deal_amount",
    }


def test_the_preview_plans_every_row_and_writes_no_customer(org: dict[str, Any]) -> None:
    job = preview(org["east_manager"], org["east_pool"])
    assert (job.status, job.total) == ("previewed", 14)
    assert by_action(job, "create") == SAMPLE_CREATED
    assert by_action(job, "duplicate") == [5]
    assert by_action(job, "error") == [6, 7, 11]
    assert not Customer.objects.exists()
    assert not OwnershipEvent.objects.exists()
    assert not Deal.objects.exists()


def test_bad_rows_are_reported_by_line_with_code_and_field(org: dict[str, Any]) -> None:
    errors = import_summary(preview(org["east_manager"], org["east_pool"]))["errors"]
    assert [(e["line"], e["code"]) for e in errors] == [
        (6, "validation_error"),
        (7, "validation_error"),
        (11, "validation_error"),
    ]
    assert errors[0]["detail"].startswith("name:")
    assert "email:" in errors[1]["detail"] and "employees:" in errors[1]["detail"]
    assert errors[2]["detail"].startswith("deal_date:")


def test_rows_are_held_to_the_bounds_of_a_manual_create(org: dict[str, Any]) -> None:
    content = "客户名称,电话\n远航科技有限公司,12345\n\u200b,13800138000\n".encode()
    job = preview(org["admin"], org["east_pool"], content)
    assert [(r.line, r.code, r.detail.split(":")[0]) for r in job.rows.all()] == [
        (2, "validation_error", "phone"),
        (3, "validation_error", "name"),
    ]


def test_a_duplicate_inside_the_file_names_the_earlier_line_and_its_holder(
    org: dict[str, Any],
) -> None:
    job = preview(org["east_manager"], org["east_pool"])
    duplicate = job.rows.get(line=5)
    assert (duplicate.duplicate_line, duplicate.holder) == (2, org["rep_a"].label)


def test_the_commit_does_what_the_preview_said(org: dict[str, Any]) -> None:
    job = preview(org["east_manager"], org["east_pool"])
    planned = plans(job)
    job = commit_import(Viewer(org["east_manager"]), job.pk)
    assert job.status == "done"
    assert plans(job) == planned
    created = job.rows.filter(action="create")
    assert all(row.is_done and row.customer_id for row in created)
    assert Customer.objects.count() == len(SAMPLE_CREATED)
    owners = dict(created.values_list("line", "customer__owner"))
    assert owners[2] == owners[12] == org["rep_a"].pk
    summary = import_summary(job)
    assert summary["duplicates"] == [
        {
            "line": 5,
            "action": "duplicate",
            "customer": job.rows.get(line=2).customer_id,
            "duplicate_line": 2,
            "holder": org["rep_a"].label,
        }
    ]


def _stored_key(**fields: str) -> dict[str, Any]:
    return key_values(keys_of(fields))


def test_imported_customers_are_normalized_like_a_manual_create(org: dict[str, Any]) -> None:
    job = commit_import(Viewer(org["admin"]), preview(org["admin"], org["east_pool"]).pk)
    customer = job.rows.get(line=2).customer
    assert customer.phone_key == _stored_key(phone="13800138001")["phone_key"]
    assert customer.name_key == _stored_key(name="星辰科技有限公司")["name_key"]
    assert customer.employees == 200
    full_width = job.rows.get(line=10).customer  # １３３ ００１３ ３００５
    assert full_width.phone_key == _stored_key(phone="13300133005")["phone_key"]


def test_the_ledger_says_imported_and_names_the_job(org: dict[str, Any]) -> None:
    with translation.override("en"):  # the reason is stored in the importer's language
        job = commit_import(Viewer(org["admin"]), preview(org["admin"], org["east_pool"]).pk)
    created = OwnershipEvent.objects.filter(kind="created")
    assert created.count() == len(SAMPLE_CREATED)
    assert set(created.values_list("actor_label", "reason", "actor")) == {
        (f"import:{job.pk}", "Imported from customers.csv", org["admin"].pk)
    }


def test_the_commit_is_audit_logged(org: dict[str, Any]) -> None:
    job = commit_import(Viewer(org["admin"]), preview(org["admin"], org["east_pool"]).pk)
    entry = AuditLog.objects.get(action=AuditLog.Action.IMPORT)
    assert (entry.actor, entry.target_id, entry.detail["rows"]) == (org["admin"], str(job.pk), 14)


def test_committing_a_finished_import_again_changes_nothing(org: dict[str, Any]) -> None:
    job = preview(org["admin"], org["east_pool"])
    commit_import(Viewer(org["admin"]), job.pk)
    commit_import(Viewer(org["admin"]), job.pk)
    assert Customer.objects.count() == len(SAMPLE_CREATED)
    assert AuditLog.objects.filter(action=AuditLog.Action.IMPORT).count() == 1


def test_importing_the_same_file_again_creates_nobody(org: dict[str, Any]) -> None:
    commit_import(Viewer(org["admin"]), preview(org["admin"], org["east_pool"]).pk)
    again = commit_import(Viewer(org["admin"]), preview(org["admin"], org["east_pool"]).pk)
    assert Customer.objects.count() == len(SAMPLE_CREATED)
    assert by_action(again, "create") == []
    assert by_action(again, "duplicate") == [2, 3, 4, 5, 8, 9, 10, 12, 13, 14, 15]


# --- encodings and formats -----------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [gbk, xlsx, lambda text: b"\xef\xbb\xbf" + text.encode("utf-8")],
    ids=["gbk", "xlsx", "utf8-bom"],
)
def test_gbk_bom_and_xlsx_copies_plan_like_the_utf8_file(org: dict[str, Any], encode: Any) -> None:
    expected = plans(preview(org["admin"], org["east_pool"]))
    job = preview(org["admin"], org["east_pool"], encode(SAMPLE_TEXT), file_name="copy")
    assert plans(job) == expected
    assert job.rows.get(line=2).values["name"] == "星辰科技（北京）有限公司"


def test_an_unreadable_file_is_refused_and_leaves_no_job(org: dict[str, Any]) -> None:
    with pytest.raises(HighSeasError) as refusal:
        preview(org["admin"], org["east_pool"], b"\xff\xfe\x00\x81\x30")
    assert refusal.value.code == ErrorCode.VALIDATION_ERROR
    assert not ImportJob.objects.exists()


def test_a_file_without_a_name_column_needs_a_mapping(org: dict[str, Any]) -> None:
    with pytest.raises(HighSeasError) as refusal:
        preview(org["admin"], org["east_pool"], "电话\n13800138000\n".encode())
    assert refusal.value.code == ErrorCode.VALIDATION_ERROR


def test_a_given_mapping_is_used_and_remembered_for_the_team(org: dict[str, Any]) -> None:
    content = "公司,联系方式\n远航科技有限公司,13800138000\n".encode()
    mapping = {"公司": "name", "联系方式": "phone"}
    job = preview(org["east_manager"], org["east_pool"], content, mapping=mapping)
    assert job.rows.get(line=2).values == {"name": "远航科技有限公司", "phone": "13800138000"}
    assert remembered_mapping(Viewer(org["east_manager"])) == mapping
    again = preview(org["east_manager"], org["east_pool"], content)
    assert again.mapping == mapping


# --- duplicates against the database -------------------------------------------------------


def _existing(org: dict[str, Any], make_customer: Any) -> Customer:
    return make_customer(
        org["admin"],
        owner=org["rep_b"],
        name="蓝海物流（上海）有限公司",
        phone="13911112222",
        email="",
        industry="",
    )


@pytest.mark.parametrize(("mode", "action"), [("block", "duplicate"), ("skip", "skip")])
def test_a_duplicate_of_a_customer_is_blocked_or_skipped(
    org: dict[str, Any], make_customer: Any, mode: str, action: str
) -> None:
    existing = _existing(org, make_customer)
    job = preview(org["east_manager"], org["east_pool"], on_duplicate=mode)
    row = job.rows.get(line=3)
    assert (row.action, row.duplicate_of_id, row.holder) == (action, existing.pk, "REP_B")
    commit_import(Viewer(org["east_manager"]), job.pk)
    assert Customer.objects.filter(name_key="蓝海物流").count() == 1
    summary = import_summary(ImportJob.objects.get(pk=job.pk))
    assert summary["skipped"] == (2 if mode == "skip" else 0)  # line 5 repeats line 2


def test_merge_fills_the_customers_empty_fields_and_keeps_its_own(
    org: dict[str, Any], make_customer: Any
) -> None:
    existing = _existing(org, make_customer)
    job = preview(org["east_manager"], org["east_pool"], on_duplicate="merge")
    assert job.rows.get(line=3).action == "merge"
    commit_import(Viewer(org["east_manager"]), job.pk)
    existing.refresh_from_db()
    assert (existing.name, existing.industry, existing.email, existing.owner) == (
        "蓝海物流（上海）有限公司",
        "物流",
        "contact@lanhai.com",
        org["rep_b"],
    )
    assert job.rows.get(line=3).customer_id == existing.pk
    assert Customer.objects.filter(name_key="蓝海物流").count() == 1


# --- owners and caps -------------------------------------------------------------------------


def _at_cap(org: dict[str, Any], make_customer: Any, cap: int = 1) -> None:
    pool = org["east_pool"]
    pool.claim_policy.holding_cap = cap
    pool.claim_policy.save()
    make_customer(org["admin"], owner=org["rep_a"], pool=pool)


def test_an_owner_at_their_cap_makes_the_row_an_error(
    org: dict[str, Any], make_customer: Any
) -> None:
    _at_cap(org, make_customer)
    job = preview(org["east_manager"], org["east_pool"])
    assert job.rows.get(line=2).code == ErrorCode.HOLDING_CAP_REACHED
    assert job.rows.get(line=12).code == ErrorCode.HOLDING_CAP_REACHED
    assert job.rows.get(line=5).action == "create"  # the row it duplicated was not created


def test_an_admin_may_override_the_cap_and_it_is_audited(
    org: dict[str, Any], make_customer: Any
) -> None:
    _at_cap(org, make_customer)
    job = preview(org["admin"], org["east_pool"], override_cap=True)
    commit_import(Viewer(org["admin"]), job.pk)
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 3
    overrides = AuditLog.objects.filter(action=AuditLog.Action.CAP_OVERRIDE)
    assert overrides.count() == 2


def test_a_manager_may_not_override_a_cap(org: dict[str, Any]) -> None:
    with pytest.raises(HighSeasError) as refusal:
        preview(org["east_manager"], org["east_pool"], override_cap=True)
    assert refusal.value.code == ErrorCode.PERMISSION_DENIED
    assert not ImportJob.objects.exists()


def test_an_owner_outside_the_managers_subtree_makes_the_row_an_error(
    org: dict[str, Any],
) -> None:
    content = (HEADER + "远航科技有限公司,13800138000,,rep_c\n").encode()
    job = preview(org["east_manager"], org["east_pool"], content)
    assert job.rows.get(line=2).code == ErrorCode.PERMISSION_DENIED


def test_an_unknown_owner_makes_the_row_an_error(org: dict[str, Any]) -> None:
    content = (HEADER + "远航科技有限公司,13800138000,,nobody\n").encode()
    job = preview(org["admin"], org["east_pool"], content)
    assert job.rows.get(line=2).code == ErrorCode.VALIDATION_ERROR


def test_an_owner_may_be_named_by_display_name(org: dict[str, Any]) -> None:
    content = (HEADER + "远航科技有限公司,13800138000,,REP_B\n").encode()
    job = preview(org["admin"], org["east_pool"], content)
    assert job.rows.get(line=2).owner == org["rep_b"]


# --- routing -----------------------------------------------------------------------------------


def test_pooled_newcomers_are_routed_as_the_preview_said(org: dict[str, Any]) -> None:
    AssignmentRule.objects.create(
        name="全部", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    job = preview(org["east_manager"], org["east_pool"])
    routed = dict(job.rows.filter(routed=True).values_list("line", "owner"))
    assert len(routed) == len(SAMPLE_CREATED) - 2  # all but the two rows naming rep_a
    assert set(routed.values()) == {org["rep_a"].pk, org["rep_b"].pk}
    job = commit_import(Viewer(org["east_manager"]), job.pk)
    owners = dict(job.rows.filter(routed=True).values_list("line", "customer__owner"))
    assert owners == routed


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("service_path_max", [0, 10_000], ids=["set_based", "one_by_one"])
def test_a_cap_reached_mid_import_by_a_concurrent_claim_holds(
    org: dict[str, Any], make_customer: Any, monkeypatch: Any, service_path_max: int
) -> None:
    """A rep claims up to their cap on another thread between two batches of a commit: the
    next batch's routing reads their holdings again under the reps' locks, gives them nothing
    more, and — since that is not what the preview said — the commit stops there, the first
    batch kept."""
    monkeypatch.setattr(runs, "SERVICE_PATH_MAX", service_path_max)
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    pool = org["east_pool"]
    pool.claim_policy.holding_cap = 3
    pool.claim_policy.save()
    spare = [make_customer(org["admin"], pool=pool) for _ in range(2)]
    AssignmentRule.objects.create(
        name="全部", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    rows = [(f"远航{i}号科技有限公司", f"1380000{i:04d}") for i in range(6)]
    job = preview(org["admin"], pool, _file(rows), history=False)
    planned = Counter(job.rows.values_list("owner", flat=True))
    assert planned == {org["rep_a"].pk: 3, org["rep_b"].pk: 3}
    commit_batch, batches, failures = imports._commit_batch, [], []

    def claim_up_to_the_cap() -> None:
        try:
            for customer in spare:
                ownership.claim(org["rep_a"], customer.pk)
        except BaseException as crash:  # reported by the assertion below
            failures.append(crash)
        finally:
            connection.close()

    def batch_then_claim(*args: Any, **kwargs: Any) -> int:
        done = commit_batch(*args, **kwargs)
        batches.append(done)
        if len(batches) == 1:
            thread = threading.Thread(target=claim_up_to_the_cap)
            thread.start()
            thread.join(timeout=60)
        return done

    monkeypatch.setattr(imports, "_commit_batch", batch_then_claim)
    with pytest.raises(HighSeasError) as refusal:
        commit_import(Viewer(org["admin"]), job.pk)
    assert not failures
    assert refusal.value.code == ErrorCode.STATE_CONFLICT
    assert Customer.objects.filter(owner=org["rep_a"], status="owned").count() == 3
    imported = Customer.objects.exclude(pk__in=[c.pk for c in spare])
    assert imported.count() == 2 and set(imported.values_list("owner", flat=True)) == {
        org["rep_a"].pk,
        org["rep_b"].pk,
    }
    job.refresh_from_db()
    assert (job.status, job.done_rows) == ("failed", 2)


# --- history -----------------------------------------------------------------------------------


def test_closed_deals_are_attached_with_the_owner_at_the_time(org: dict[str, Any]) -> None:
    job = commit_import(Viewer(org["admin"]), preview(org["admin"], org["east_pool"]).pk)
    deals = {d.customer_id: d for d in Deal.objects.select_related("customer").order_by("customer")}
    assert len(deals) == 4
    first = deals[job.rows.get(line=2).customer_id]
    won_on = timezone.localtime(first.won_at).date().isoformat()
    assert (first.stage, str(first.amount), first.owner, won_on) == (
        "won",
        "12000.00",
        org["rep_a"],
        "2024-03-15",
    )
    assert first.customer.stage == "won"
    lost = deals[job.rows.get(line=4).customer_id]
    lost_on = timezone.localtime(lost.lost_at).date().isoformat()
    assert (lost.stage, str(lost.amount), lost_on) == (
        "lost",
        "50000.00",
        "2023-11-02",
    )


def test_without_history_the_deal_columns_are_ignored(org: dict[str, Any]) -> None:
    job = preview(org["admin"], org["east_pool"], history=False)
    assert by_action(job, "error") == [6, 7]
    commit_import(Viewer(org["admin"]), job.pk)
    assert not Deal.objects.exists()


def test_a_past_activity_does_not_make_the_imported_customer_due(org: dict[str, Any]) -> None:
    content = (
        "客户名称,电话,负责人,跟进时间,跟进方式,跟进记录\n"
        "远航科技有限公司,13800138000,rep_a,2023-01-05 10:00,拜访,谈过报价\n"
    ).encode()
    job = commit_import(Viewer(org["admin"]), preview(org["admin"], org["east_pool"], content).pk)
    customer = job.rows.get(line=2).customer
    activity = Activity.objects.get(customer=customer)
    assert (activity.kind, activity.author, activity.note) == ("visit", org["rep_a"], "谈过报价")
    assert customer.last_effective_activity_at == activity.occurred_at
    assert customer.recycle_due_at is None or customer.recycle_due_at > customer.owned_since


def test_an_activity_in_the_future_is_a_bad_row(org: dict[str, Any]) -> None:
    content = "客户名称,跟进时间\n远航科技有限公司,2999-01-01\n".encode()
    job = preview(org["admin"], org["east_pool"], content)
    assert job.rows.get(line=2).detail.startswith("activity_at:")


# --- who may import ----------------------------------------------------------------------------


def test_a_rep_may_not_import(org: dict[str, Any]) -> None:
    with pytest.raises(HighSeasError) as refusal:
        preview(org["rep_a"], org["east_pool"])
    assert refusal.value.code == ErrorCode.PERMISSION_DENIED
    assert not ImportJob.objects.exists()
    assert not Customer.objects.exists()


def test_a_manager_imports_only_into_a_pool_they_belong_to(org: dict[str, Any]) -> None:
    with pytest.raises(HighSeasError) as refusal:
        preview(org["east_manager"], org["south_pool"])
    assert refusal.value.code == ErrorCode.NOT_POOL_MEMBER


def test_another_manager_may_not_commit_the_import(org: dict[str, Any]) -> None:
    job = preview(org["east_manager"], org["east_pool"])
    with pytest.raises(HighSeasError) as refusal:
        commit_import(Viewer(org["south_manager"]), job.pk)
    assert refusal.value.code == ErrorCode.NOT_FOUND
    assert not Customer.objects.exists()


# --- exactly once --------------------------------------------------------------------------


def test_a_commit_refuses_when_the_data_changed_since_the_preview(
    org: dict[str, Any], make_customer: Any
) -> None:
    job = preview(org["admin"], org["east_pool"])
    _existing(org, make_customer)  # line 3 would now be a duplicate
    with pytest.raises(HighSeasError) as refusal:
        commit_import(Viewer(org["admin"]), job.pk)
    assert (refusal.value.code, refusal.value.facts["line"]) == (ErrorCode.STATE_CONFLICT, 3)
    job.refresh_from_db()
    assert (job.status, job.error["code"]) == ("failed", "state_conflict")
    assert Customer.objects.count() == 1


def _killed_commit(org: dict[str, Any]) -> ImportJob:
    """A preview's commit killed when its progress reaches row 5 (set ``BATCH_SIZE`` first);
    the job as the kill left it."""
    job = preview(org["admin"], org["east_pool"], history=False)

    def kill(done: int, total: int) -> None:
        if done == 5:
            raise Killed

    with pytest.raises(Killed):
        commit_import(Viewer(org["admin"]), job.pk, progress=kill)
    job.refresh_from_db()
    return job


def _file(rows: list[tuple[str, str]]) -> bytes:
    return ("客户名称,电话\n" + "".join(f"{n},{p}\n" for n, p in rows)).encode()


def _random_rows(rng: random.Random, count: int) -> list[tuple[str, str]]:
    words = ["远航", "星海", "青禾", "明远", "金桥", "恒通", "悦享", "智联", "云帆", "德信"]
    rows = []
    for i in range(count):
        pick = rng.random()
        if pick < 0.1:
            rows.append(("", f"1370000{i:04d}"))  # a bad row
        elif pick < 0.25 and rows:
            name, phone = rng.choice(rows)
            rows.append((f"{name}（北京）" if name else f"重复{i}", phone))  # a duplicate
        else:
            word = rng.choice(words)
            rows.append((f"{word}{i}号科技有限公司", f"1380000{i:04d}"))
    return rows


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    size=st.integers(1, 40),
    batch=st.integers(1, 7),
    mode=st.sampled_from(["block", "skip", "merge"]),
)
def test_preview_and_commit_agree_on_random_files(
    org: dict[str, Any], seed: int, size: int, batch: int, mode: str
) -> None:
    with transaction.atomic():
        imports.BATCH_SIZE = batch
        try:
            content = _file(_random_rows(random.Random(seed), size))
            job = preview(org["admin"], org["east_pool"], content, on_duplicate=mode)
            planned = plans(job)
            job = commit_import(Viewer(org["admin"]), job.pk)
            assert plans(job) == planned
            assert Customer.objects.count() == len(by_action(job, "create"))
        finally:
            imports.BATCH_SIZE = 500
            transaction.set_rollback(True)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 10_000), size=st.integers(2, 40), data=st.data())
def test_a_commit_killed_at_any_row_resumes_exactly_once(
    org: dict[str, Any], seed: int, size: int, data: st.DataObject
) -> None:
    with transaction.atomic():
        imports.BATCH_SIZE = 4
        try:
            job = preview(
                org["admin"], org["east_pool"], _file(_random_rows(random.Random(seed), size))
            )
            job = killed_then_resumed(org["admin"], job, data.draw(st.integers(1, size)))
            assert Customer.objects.count() == job.rows.filter(action="create").count()
        finally:
            imports.BATCH_SIZE = 500
            transaction.set_rollback(True)


def test_a_killed_commit_leaves_its_batch_undone(org: dict[str, Any]) -> None:
    imports.BATCH_SIZE = 3
    try:
        job = _killed_commit(org)
        assert (job.status, job.done_rows) == ("running", 3)
        assert list(job.rows.filter(is_done=True).values_list("line", flat=True)) == [2, 3, 4]
        assert Customer.objects.count() == 3
    finally:
        imports.BATCH_SIZE = 500


# --- preparing the next batch ahead ----------------------------------------------------------


def test_a_row_is_prepared_without_the_database(
    org: dict[str, Any], django_assert_num_queries: Any
) -> None:
    """Preparing a row (parsing, checking, its duplicate keys) reads and writes nothing in
    the database, so a commit does it outside its batches' transactions."""
    job = preview(org["admin"], org["east_pool"], history=False)
    importer = Importer(job, org["admin"])
    cells = {"name": "远航科技有限公司", "phone": "+86 138 0013 8000", "employees": "很多"}
    with django_assert_num_queries(0):
        good, bad = importer.prepare([(2, {**cells, "employees": "12"}), (3, cells)])
    assert good.refused is None
    assert (good.parsed.fields["name"], good.parsed.fields["employees"]) == (cells["name"], 12)
    assert bad.refused is not None and bad.refused.code == "validation_error"
    assert good.pooled is not None and bad.pooled is None  # keys worked out for a pooled row
    assert good.pooled[1].keys.phone == "+8613800138000" and good.pooled[1].columns["phone_key"]


@override_settings(HIGHSEAS_IMPORT_HELPER=False)
def test_the_commit_prepares_each_batch_outside_its_transaction(
    org: dict[str, Any], monkeypatch: Any
) -> None:
    """Each batch's rows are prepared before its transaction opens (on SQLite the one writer
    is held for the writes only), and the commit still does what the preview said. In line
    here, to count them (``test_import_helper``: prepared by a helper process)."""
    monkeypatch.setattr(imports, "BATCH_SIZE", 3)
    job = preview(org["admin"], org["east_pool"], history=False)
    planned = plans(job)
    prepare, apply_prepared = Importer.prepare, Importer.apply_prepared
    depths: dict[str, list[int]] = {"prepare": [], "apply": []}

    def noted_prepare(importer: Importer, rows: Any) -> Any:
        depths["prepare"].append(len(connection.atomic_blocks))
        return prepare(importer, rows)

    def noted_apply(importer: Importer, *args: Any) -> Any:
        depths["apply"].append(len(connection.atomic_blocks))  # in the batch's transaction
        return apply_prepared(importer, *args)

    monkeypatch.setattr(Importer, "prepare", noted_prepare)
    monkeypatch.setattr(Importer, "apply_prepared", noted_apply)
    job = commit_import(Viewer(org["admin"]), job.pk)
    assert job.status == "done" and plans(job) == planned
    assert len(depths["prepare"]) == len(depths["apply"]) == 5  # 14 lines, 3 a batch
    assert max(depths["prepare"]) < min(depths["apply"])


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_bad_rows_reason_is_in_the_importers_language(org: dict[str, Any], language: str) -> None:
    content = "客户名称,员工人数\n远航科技有限公司,很多\n".encode()
    with translation.override(language):
        job = preview(org["admin"], org["east_pool"], content)
    expected = {"en": "not a whole number", "zh-hans": "不是整数"}[language]
    assert job.rows.get().detail == f"employees: {expected}"


def test_a_batch_given_none_of_its_prepared_rows_prepares_them_itself(
    org: dict[str, Any],
) -> None:
    job = preview(org["admin"], org["east_pool"], history=False)
    planned = plans(job)
    lines = [line for line, *_rest in planned]
    importer = Importer(job, org["admin"])
    assert imports._commit_batch(job, importer, lines, 0, None, 0, prepared=[]) == len(lines)
    assert plans(job) == planned
    assert job.rows.filter(is_done=True).count() == len(lines)
    assert Customer.objects.count() == len(by_action(job, "create"))


def test_a_batch_does_only_the_lines_it_is_given(org: dict[str, Any]) -> None:
    """A batch reads its rows by their line range, yet does only the lines it was given."""
    job = preview(org["admin"], org["east_pool"], history=False)
    lines = [line for line, *_rest in plans(job)]
    given = lines[::2]
    assert len(given) < len(lines)
    importer = Importer(job, org["admin"])
    assert imports._commit_batch(job, importer, given, 0, None, 0) == len(given)
    assert sorted(job.rows.filter(is_done=True).values_list("line", flat=True)) == given


def test_preview_and_commit_hold_off_full_collections(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's full collections are held off while batches are applied (each would walk
    every object of the process), and come back as they were afterwards."""
    import gc

    before = gc.get_threshold()
    seen: list[int] = []
    apply_prepared = Importer.apply_prepared

    def recorded(self: Importer, *args: Any, **kwargs: Any) -> Any:
        seen.append(gc.get_threshold()[2])
        return apply_prepared(self, *args, **kwargs)

    monkeypatch.setattr(Importer, "apply_prepared", recorded)
    job = preview(org["admin"], org["east_pool"], history=False)
    assert gc.get_threshold() == before
    commit_import(Viewer(org["admin"]), job.pk)
    assert gc.get_threshold() == before
    assert len(seen) >= 2 and set(seen) == {2**31 - 1}


# --- the search index ------------------------------------------------------------------------


def _index_is_consistent() -> None:
    """Every search trigger in place, and (SQLite) the names index agrees with the table."""
    if connection.vendor == "sqlite":
        assert fts.sqlite_index_is_complete(connection)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {fts.FTS_TABLE}({fts.FTS_TABLE}) VALUES ('integrity-check')"
            )


def _found(text: str) -> set[int]:
    return {row["id"] for row in search(text, limit=100).rows}


def _findable(customers: list[Customer]) -> None:
    """Each customer found by two characters from the middle of its name (pairs index), its
    first four (trigrams), and the pinyin of its core name."""
    for customer in customers:
        assert customer.pk in _found(customer.name[1:3]), customer.name
        assert customer.pk in _found(customer.name[:4]), customer.name
    assert {c.pk for c in customers if c.name.startswith("蓝海")} <= _found("lanhai")


@pytest.mark.parametrize("mode", ["block", "merge"])
def test_imported_customers_are_found_by_search_when_the_import_ends(
    org: dict[str, Any], mode: str
) -> None:
    job = commit_import(
        Viewer(org["admin"]), preview(org["admin"], org["east_pool"], on_duplicate=mode).pk
    )
    assert job.status == "done"
    _index_is_consistent()
    created = list(Customer.objects.filter(pk__in=job.rows.values("customer")))
    assert len(created) == len(SAMPLE_CREATED)
    _findable(created)


def test_a_killed_commit_leaves_the_search_index_consistent(org: dict[str, Any]) -> None:
    imports.BATCH_SIZE = 3
    try:
        job = _killed_commit(org)
        _index_is_consistent()
        assert _found("蓝海") == set(
            Customer.objects.filter(name__contains="蓝海").values_list("pk", flat=True)
        )
        job = commit_import(Viewer(org["admin"]), job.pk)
    finally:
        imports.BATCH_SIZE = 500
    _index_is_consistent()
    _findable(list(Customer.objects.filter(pk__in=job.rows.values("customer"))))


# --- the command line ------------------------------------------------------------------------


def _cli(*args: str) -> str:
    out = io.StringIO()
    call_command("import_", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_cli_previews_with_dry_run_and_writes_nothing(org: dict[str, Any]) -> None:
    sample = str(Path(__file__).parents[2] / "docs" / "samples" / "customers.csv")
    out = _cli(sample, "--pool", "华东公海", "--dry-run", "--as", "mgr_east")
    assert "previewed, 14 rows — create 10 (assigned 2)" in out
    assert "line 5: duplicate of line 2 (REP_A)" in out
    assert not Customer.objects.exists()


def test_the_cli_commits_and_a_rerun_resumes_a_killed_import(
    org: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(SAMPLE)
    job = preview(org["east_manager"], org["east_pool"], file_name="customers.csv")

    def kill(done: int, total: int) -> None:
        if done == 3:
            raise Killed

    imports.BATCH_SIZE = 2
    try:
        with pytest.raises(Killed):
            commit_import(Viewer(org["east_manager"]), job.pk, progress=kill)
        out = _cli(str(path), "--pool", str(org["east_pool"].pk), "--as", "mgr_east")
    finally:
        imports.BATCH_SIZE = 500
    assert f"import #{job.pk} customers.csv: done" in out
    assert ImportJob.objects.count() == 1
    assert Customer.objects.count() == len(SAMPLE_CREATED)


def test_the_cli_refuses_a_rep(org: dict[str, Any]) -> None:
    sample = str(Path(__file__).parents[2] / "docs" / "samples" / "customers.csv")
    with pytest.raises(CommandError, match="permission_denied"):
        _cli(sample, "--pool", "华东公海", "--as", "rep_a")


def _advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks: PostgreSQL")
def test_a_preview_locks_no_duplicate_keys_and_the_commit_does(org: dict[str, Any]) -> None:
    """A whole file's keys locked in one preview transaction overflow PostgreSQL's lock
    table (out of shared memory at 100,000 rows); the commit locks each batch's keys."""
    held: list[int] = []
    job = preview(
        org["admin"], org["east_pool"], progress=lambda done, total: held.append(_advisory_locks())
    )
    assert held == [0]
    commit_import(
        Viewer(org["admin"]), job.pk, progress=lambda done, total: held.append(_advisory_locks())
    )
    assert min(held[1:]) > 0


# --- the bench -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the claims run on a thread: committed data
def test_the_import_bench_times_claims_made_while_a_file_is_applied_at_once() -> None:
    """``--claims-per-second``: reps claim pooled customers of the bench pool on a thread
    while the second file is applied at once; every claim is counted with its outcome, each
    one counted is in the ledger, and the figures are ordered."""
    from highseas.bench.imports import ImportBenchOptions, run, summary_text

    options = ImportBenchOptions(rows=1000, reps=3, claims_per_second=100)
    lines = {line["path"]: line for line in run(options)}
    claimed = lines["claims_during_at_once"]
    assert claimed["claims_per_second_asked"] == 100
    assert claimed["claims"] > 0
    assert claimed["claim_outcomes"] == {"claimed": claimed["claims"]}
    assert claimed["claim_p50_ms"] <= claimed["claim_p99_ms"] <= claimed["claim_max_ms"]
    assert 0 <= claimed["claims_over_200_ms"] <= claimed["claims"]
    claims = OwnershipEvent.objects.filter(kind="claimed")
    assert claims.count() == claimed["claims"]
    assert set(claims.values_list("actor__username", flat=True)) <= {
        f"bench-import-rep-{number}" for number in range(3)
    }
    assert (
        lines["at_once"]["created"] + lines["at_once"]["duplicates"] + lines["at_once"]["errors"]
        == 1000
    )
    assert "claims during the import at once" in summary_text(list(lines.values()))
    report = run_checks()
    assert report.ok, (report.problems, report.examples)


def test_the_import_bench_at_a_tiny_scale_imports_every_good_row_once() -> None:
    from highseas.bench.imports import ImportBenchOptions, run

    lines = {line["path"]: line for line in run(ImportBenchOptions(rows=400, reps=3))}
    commit, counts = lines["commit"], lines["commit"]["file"]
    at_once = lines["at_once"]
    assert set(lines) == {
        *("preview", "commit", "preview_and_commit", "at_once", "raw_insert", "memory"),
    }
    for applied in (commit, at_once):
        assert applied["created"] + applied["duplicates"] + applied["errors"] == 400
        assert applied["errors"] == applied["file"]["bad"]
        assert applied["assigned"] == applied["created"]  # the round-robin rule routes every one
    assert at_once["file"] != counts  # another file
    assert {line["reps"] for line in lines.values()} == {3}
    # the raw baseline is gone again
    assert Customer.objects.count() == commit["created"] + at_once["created"]
    assert counts["good"] + counts["duplicate"] <= lines["raw_insert"]["inserted"] <= 400
    paths = ("preview", "commit", "at_once", "raw_insert")
    walled = [lines[path]["wal_bytes_per_row"] for path in paths]
    if connection.vendor == "postgresql":  # every phase writes rows, so it writes the log
        assert all(wal is not None and wal > 100 for wal in walled), walled
    else:
        assert walled == [None] * 4
