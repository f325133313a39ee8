"""Exports: what the caller may see, masked as they see it, filtered, audited, streamed."""

from __future__ import annotations

import csv
import io
import os
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import translation
from openpyxl import load_workbook  # type: ignore[import-untyped]
from rest_framework.test import APIClient

from highseas.accounts.models import AuditLog, Role, User
from highseas.accounts.visibility import Viewer
from highseas.bench import dataset
from highseas.customers.export_files import csv_chunks, write_xlsx
from highseas.customers.exports import ExportFilters, start_export
from highseas.customers.models import Activity, Customer
from highseas.engine.errors import HighSeasError
from highseas.engine.masking import mask_email, mask_phone
from highseas.pools.followups import log_activity

pytestmark = pytest.mark.django_db


def api(user: User) -> APIClient:
    """A client signed in as ``user`` (authentication itself is tested elsewhere)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


FULL, MASKED = "full", "masked"


@pytest.fixture
def book(org: dict[str, Any], make_customer: Callable[..., Customer]) -> dict[str, Customer]:
    return {
        "a_owned": make_customer(
            org["rep_a"], owner=org["rep_a"], province="浙江", city="杭州", level="A"
        ),
        "b_owned": make_customer(org["rep_b"], owner=org["rep_b"], province="江苏", city="苏州"),
        "c_owned": make_customer(org["rep_c"], owner=org["rep_c"], province="广东", city="深圳"),
        "east_pooled": make_customer(org["admin"], pool=org["east_pool"], province="浙江"),
        "south_pooled": make_customer(org["admin"], pool=org["south_pool"], province="广东"),
    }


@pytest.fixture
def notes(org: dict[str, Any], book: dict[str, Customer]) -> dict[str, Activity]:
    """One follow-up on every customer, each naming its customer's phone in the note."""
    found = {}
    for key, customer in book.items():
        author = customer.owner or org["admin"]
        found[key] = log_activity(
            author, customer.pk, kind="call", note=f"电话 {customer.phone} 已沟通"
        )
    return found


def _rows(user: User, kind: str = "customers", **params: Any) -> list[dict[str, str]]:
    """The export's CSV, parsed back by the csv module, one dict per row."""
    with translation.override("en"):
        export = start_export(Viewer(user), kind, filters=ExportFilters.parse(params))
        body = b"".join(csv_chunks(export))
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


# Who sees which customer, and how, in an export: (role, rep export scope, expected).
TABLE = [
    ("rep_a", "own", {"a_owned": FULL}),
    ("rep_a", "visible", {"a_owned": FULL, "east_pooled": MASKED}),
    ("rep_c", "own", {"c_owned": FULL}),
    ("east_manager", "own", {"a_owned": FULL, "b_owned": FULL, "east_pooled": MASKED}),
    ("south_manager", "own", {"c_owned": FULL, "south_pooled": MASKED}),
    ("admin", "own", dict.fromkeys(["a_owned", "b_owned", "c_owned", "east_pooled"], FULL)
        | {"south_pooled": FULL}),
]  # fmt: skip


@pytest.mark.parametrize(("who", "scope", "expected"), TABLE)
def test_an_export_holds_what_the_caller_sees_masked_as_they_see_it(
    org: dict[str, Any], book: dict[str, Customer], who: str, scope: str, expected: dict[str, str]
) -> None:
    with override_settings(HIGHSEAS_REP_EXPORT_SCOPE=scope):
        rows = {int(row["ID"]): row for row in _rows(org[who])}
    assert set(rows) == {book[key].pk for key in expected}
    for key, how in expected.items():
        customer, row = book[key], rows[book[key].pk]
        if how == FULL:
            assert (row["Phone"], row["E-mail"]) == (customer.phone, customer.email)
        else:
            assert (row["Phone"], row["E-mail"]) == (
                mask_phone(customer.phone),
                mask_email(customer.email),
            )
        assert row["Name"] == customer.name


@pytest.mark.parametrize(("who", "scope", "expected"), TABLE)
def test_follow_ups_go_out_only_for_customers_seen_in_full(
    org: dict[str, Any],
    book: dict[str, Customer],
    notes: dict[str, Activity],
    who: str,
    scope: str,
    expected: dict[str, str],
) -> None:
    with override_settings(HIGHSEAS_REP_EXPORT_SCOPE=scope):
        rows = _rows(org[who], "activities")
    in_full = {key for key, how in expected.items() if how == FULL}
    assert {int(row["ID"]) for row in rows} == {notes[key].pk for key in in_full}
    assert {int(row["Customer ID"]) for row in rows} == {book[key].pk for key in in_full}


def test_a_reps_filter_on_another_reps_customers_exports_nothing(
    org: dict[str, Any], book: dict[str, Customer]
) -> None:
    with override_settings(HIGHSEAS_REP_EXPORT_SCOPE="visible"):
        assert _rows(org["rep_a"], owner=str(org["rep_b"].pk)) == []
        assert _rows(org["rep_a"], q=book["c_owned"].name) == []


def test_role_masked_fields_stay_masked_in_the_export(
    org: dict[str, Any], book: dict[str, Customer]
) -> None:
    with override_settings(HIGHSEAS_ROLE_MASKED_FIELDS={"rep": ["phone"]}):
        (row,) = _rows(org["rep_a"])
    assert row["Phone"] == mask_phone(book["a_owned"].phone)
    assert row["E-mail"] == book["a_owned"].email


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"province": "浙江"}, {"a_owned", "east_pooled"}),
        ({"province": "浙江", "city": "杭州"}, {"a_owned"}),
        ({"status": "pooled"}, {"east_pooled", "south_pooled"}),
        ({"status": "owned,frozen"}, {"a_owned", "b_owned", "c_owned"}),
        ({"level": "A"}, {"a_owned"}),
        ({"pool": "east_pool"}, {"east_pooled"}),
        ({"owner": "rep_b"}, {"b_owned"}),
        ({"q": "b_owned"}, {"b_owned"}),
    ],
)
def test_filters_narrow_the_export(
    org: dict[str, Any], book: dict[str, Customer], params: dict[str, str], expected: set[str]
) -> None:
    if "pool" in params:
        params = {"pool": str(org[params["pool"]].pk)}
    if "owner" in params:
        params = {"owner": str(org[params["owner"]].pk)}
    if "q" in params:
        params = {"q": book[params["q"]].name[-8:]}
    rows = _rows(org["admin"], **params)
    assert {int(row["ID"]) for row in rows} == {book[key].pk for key in expected}


def test_malformed_filters_are_refused_before_anything_is_logged(org: dict[str, Any]) -> None:
    for params in ({"owner": "abc"}, {"status": "gone"}, {"due": "-1"}):
        with pytest.raises(HighSeasError) as refusal:
            ExportFilters.parse(params)
        assert refusal.value.code == "validation_error"
    with pytest.raises(HighSeasError):
        start_export(Viewer(org["admin"]), "deals", filters=ExportFilters())
    assert not AuditLog.objects.filter(action=AuditLog.Action.EXPORT).exists()


def test_every_export_writes_one_audit_row_with_filters_and_count(
    org: dict[str, Any], book: dict[str, Customer]
) -> None:
    _rows(org["east_manager"], province="浙江")
    _rows(org["rep_a"], "activities")
    first, second = AuditLog.objects.filter(action=AuditLog.Action.EXPORT).order_by("id")
    assert (first.actor, first.target_type, first.detail) == (
        org["east_manager"],
        "customers",
        {"format": "csv", "filters": {"province": "浙江"}, "scope": "visible", "rows": 2},
    )
    assert (second.actor, second.target_type, second.detail) == (
        org["rep_a"],
        "activities",
        {"format": "csv", "filters": {}, "scope": "own", "rows": 0},
    )


def _api_file(client: APIClient, path: str) -> Any:
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200, getattr(response, "content", b"")
    return response


def test_the_api_streams_csv_with_chinese_headers_and_a_bom(
    org: dict[str, Any], book: dict[str, Customer]
) -> None:
    response = _api_file(api(org["rep_a"]), "/api/v1/exports/customers/?format=csv")
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="customers-')
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(body[1:])))
    assert header[:5] == ["ID", "名称", "类型", "统一社会信用代码", "电话"]
    assert [int(row[0]) for row in rows] == [book["a_owned"].pk]


def test_the_api_answers_xlsx_that_openpyxl_reads_back(
    org: dict[str, Any], book: dict[str, Customer], notes: dict[str, Activity]
) -> None:
    client = api(org["east_manager"])
    response = _api_file(client, "/api/v1/exports/customers/?format=xlsx&status=owned")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    header, *rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert header[:3] == ("ID", "名称", "类型")
    assert {row[0] for row in rows} == {book["a_owned"].pk, book["b_owned"].pk}
    phones = {row[0]: row[4] for row in rows}
    assert phones[book["a_owned"].pk] == book["a_owned"].phone

    response = _api_file(client, "/api/v1/exports/activities/?format=xlsx")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    header, *rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert header[:3] == ("ID", "客户 ID", "客户")
    assert {row[0] for row in rows} == {notes["a_owned"].pk, notes["b_owned"].pk}


def test_the_api_refuses_an_unknown_format_as_json(org: dict[str, Any]) -> None:
    response = api(org["admin"]).get("/api/v1/exports/customers/?format=pdf")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert not AuditLog.objects.filter(action=AuditLog.Action.EXPORT).exists()


def test_the_api_refuses_an_anonymous_caller() -> None:
    assert APIClient().get("/api/v1/exports/customers/").status_code in (401, 403)


def test_formulas_are_written_as_text(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    make_customer(org["rep_a"], owner=org["rep_a"], name="=HYPERLINK(1)", phone="+86 13800138000")
    (row,) = _rows(org["rep_a"])
    assert (row["Name"], row["Phone"]) == ("'=HYPERLINK(1)", "+86 13800138000")
    export = start_export(Viewer(org["rep_a"]), "customers", filters=ExportFilters())
    target = io.BytesIO()
    write_xlsx(export, target)
    cells = next(iter(load_workbook(target).worksheets[0].iter_rows(min_row=2)))
    assert (cells[1].value, cells[1].data_type) == ("=HYPERLINK(1)", "s")


def test_the_cli_writes_the_file_of_the_user_it_acts_as(
    org: dict[str, Any], book: dict[str, Customer], tmp_path: Any
) -> None:
    out = tmp_path / "mine.xlsx"
    call_command("export", "--as", "rep_a", "--format", "xlsx", "--out", str(out))
    rows = list(load_workbook(out, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [book["a_owned"].pk]
    out = tmp_path / "east.csv"
    call_command(
        "export", "--as", "boss", "--kind", "customers", "--out", str(out), "--province", "浙江"
    )
    with out.open(encoding="utf-8-sig") as handle:
        ids = [int(row[0]) for row in list(csv.reader(handle))[1:]]
    assert ids == sorted([book["a_owned"].pk, book["east_pooled"].pk])
    assert AuditLog.objects.filter(action=AuditLog.Action.EXPORT).count() == 2


# Memory: a bench dataset of pooled customers, exported by an admin.


def _bench_customers(count: int) -> tuple[User, Callable[[int], None]]:
    """An admin, and a way to add more, over ``count`` pooled bench customers."""
    pool, manager = dataset.ensure_organization(None)
    dataset.insert_customers(pool, manager, count)
    return User.objects.create(username="exporter", role=Role.ADMIN), partial(
        dataset.insert_customers, pool, manager
    )


def _peak_growth(user: User, file_format: str) -> tuple[int, int, float]:
    """(rows written, peak traced memory in bytes, seconds) of one export into a sink."""
    sink = open(os.devnull, "wb")  # noqa: SIM115 - closed below
    tracemalloc.start()
    started = time.perf_counter()
    try:
        export = start_export(Viewer(user), "customers", filters=ExportFilters())
        if file_format == "csv":
            for chunk in csv_chunks(export):
                sink.write(chunk)
        else:
            write_xlsx(export, sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        sink.close()
    return export.written, peak, time.perf_counter() - started


def test_export_memory_does_not_grow_with_the_row_count() -> None:
    """Peak memory of a 50,000-row CSV export is that of a 10,000-row one, and a 10,000-row
    XLSX export's that of a 4,000-row one (openpyxl costs time a row, not memory): past two
    chunks of rows, nothing grows with the count."""
    user, add_customers = _bench_customers(4_000)
    xlsx_small = _peak_growth(user, "xlsx")
    add_customers(6_000)
    csv_small, xlsx_large = _peak_growth(user, "csv"), _peak_growth(user, "xlsx")
    add_customers(40_000)
    csv_large = _peak_growth(user, "csv")
    written = [m[0] for m in (xlsx_small, csv_small, xlsx_large, csv_large)]
    assert written == [4_000, 10_000, 10_000, 50_000]
    for small, large in ((csv_small, csv_large), (xlsx_small, xlsx_large)):
        assert large[1] < small[1] * 1.1 + 500_000, (small, large)


@pytest.mark.skipif(os.environ.get("HIGHSEAS_BIG_TESTS") != "1", reason="HIGHSEAS_BIG_TESTS=1")
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_million_row_export_runs_in_bounded_memory(file_format: str) -> None:
    user, _ = _bench_customers(1_000_000)
    written, peak, seconds = _peak_growth(user, file_format)
    print(f"\n{file_format}: {written} rows in {seconds:.1f} s, peak {peak / 1e6:.1f} MB traced")
    assert written == 1_000_000
    assert peak < 40_000_000


def test_the_api_writes_english_headers_for_an_english_request(
    org: dict[str, Any], book: dict[str, Customer]
) -> None:
    response: Any = api(org["rep_a"]).get("/api/v1/exports/customers/", HTTP_ACCEPT_LANGUAGE="en")
    header = next(csv.reader(io.StringIO(b"".join(response.streaming_content).decode()[1:])))
    assert header[:5] == ["ID", "Name", "Kind", "Unified social credit code", "Phone"]
