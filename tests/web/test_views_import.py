"""The import page and the export buttons through Django's test client."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from highseas.accounts.models import AuditLog
from highseas.customers.models import Customer
from highseas.intake.models import ImportJob
from tests.web.pages import signed_in

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "customers.csv"
SMALL = (
    "客户名称,电话,城市\n"
    "甲乙丙科技有限公司,13800000001,杭州\n"
    "丁戊己贸易有限公司,13800000002,苏州\n"
    ",13800000003,\n"
)


def _upload(client: Client, pool: Any, text: str = SMALL, name: str = "客户.csv") -> Any:
    return client.post(
        "/console/imports/",
        {
            "file": SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv"),
            "pool": pool.pk,
            "on_duplicate": "block",
        },
    )


def _job() -> ImportJob:
    return ImportJob.objects.order_by("-pk").first() or pytest.fail("no import job")


def test_a_rep_is_refused_the_import_page(org: dict[str, Any]) -> None:
    client = signed_in(org["rep_a"])
    assert client.get("/console/imports/").status_code == 403
    assert _upload(client, org["east_pool"]).status_code == 403
    assert not ImportJob.objects.exists()


def test_the_upload_page_offers_the_managers_pools(org: dict[str, Any]) -> None:
    page = signed_in(org["east_manager"]).get("/console/imports/")
    assert page.status_code == 200
    assert page.context["form"].fields["pool"].choices == [
        (org["east_pool"].pk, org["east_pool"].name)
    ]
    assert page.context["tab"] == "imports"
    assert '/console/imports/" class="active">导入</a>' in page.content.decode()


def test_an_upload_previews_and_asks_for_the_mapping_with_headers_recognised(
    org: dict[str, Any],
) -> None:
    client = signed_in(org["east_manager"])
    response = _upload(client, org["east_pool"])
    job = _job()
    assert response.status_code == 302
    assert response["Location"] == f"/console/imports/{job.pk}/mapping/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert page.context["columns"] == [
        (0, "客户名称", "name"),
        (1, "电话", "phone"),
        (2, "城市", "city"),
    ]
    assert Customer.objects.count() == 0


def test_an_unchanged_mapping_goes_on_to_the_preview_of_every_row(org: dict[str, Any]) -> None:
    client = signed_in(org["east_manager"])
    _upload(client, org["east_pool"])
    job = _job()
    response = client.post(
        f"/console/imports/{job.pk}/mapping/", {"map-0": "name", "map-1": "phone", "map-2": "city"}
    )
    assert response["Location"] == f"/console/imports/{job.pk}/"
    page = client.get(response["Location"])
    rows = page.context["rows"]
    assert [(r["line"], r["action"]) for r in rows] == [(2, "create"), (3, "create"), (4, "error")]
    assert rows[2]["detail"]
    counts = {action: count for action, _label, count in page.context["counts"]}
    assert (counts["create"], counts["error"]) == (2, 1)
    assert Customer.objects.count() == 0


def test_a_changed_mapping_previews_the_file_again(org: dict[str, Any]) -> None:
    client = signed_in(org["east_manager"])
    _upload(client, org["east_pool"])
    first = _job()
    response = client.post(
        f"/console/imports/{first.pk}/mapping/", {"map-0": "name", "map-1": "phone", "map-2": ""}
    )
    again = _job()
    assert again.pk != first.pk
    assert response["Location"] == f"/console/imports/{again.pk}/"
    assert again.mapping == {"客户名称": "name", "电话": "phone"}


def test_a_mapping_without_the_name_is_refused_on_the_page(org: dict[str, Any]) -> None:
    client = signed_in(org["east_manager"])
    _upload(client, org["east_pool"])
    job = _job()
    page = client.post(f"/console/imports/{job.pk}/mapping/", {"map-1": "phone"})
    assert page.status_code == 200
    assert page.context["error"]
    assert ImportJob.objects.count() == 1


def test_commit_does_what_the_preview_said_and_reports_progress(org: dict[str, Any]) -> None:
    client = signed_in(org["east_manager"])
    _upload(client, org["east_pool"])
    job = _job()
    progress = client.get(f"/console/imports/{job.pk}/progress/").json()
    assert progress == {"status": "previewed", "done": 0, "total": 3, "error": ""}
    response = client.post(f"/console/imports/{job.pk}/commit/", HTTP_X_HIGHSEAS_ASYNC="1")
    assert response.status_code == 200
    assert response.json()["status"] == "done"
    assert set(Customer.objects.values_list("name", flat=True)) == {
        "甲乙丙科技有限公司",
        "丁戊己贸易有限公司",
    }
    progress = client.get(f"/console/imports/{job.pk}/progress/").json()
    assert progress == {"status": "done", "done": 3, "total": 3, "error": ""}
    page = client.get(f"/console/imports/{job.pk}/")
    assert not page.context["may_commit"]
    assert all(row["is_done"] for row in page.context["rows"])


def test_another_managers_import_is_not_found(org: dict[str, Any]) -> None:
    _upload(signed_in(org["east_manager"]), org["east_pool"])
    job = _job()
    other = signed_in(org["south_manager"])
    assert other.get(f"/console/imports/{job.pk}/progress/").status_code == 404
    assert other.get(f"/console/imports/{job.pk}/").status_code == 302
    other.post(f"/console/imports/{job.pk}/commit/")
    assert Customer.objects.count() == 0


def test_an_upload_into_a_pool_the_manager_is_not_in_is_refused(org: dict[str, Any]) -> None:
    client = signed_in(org["east_manager"])
    page = _upload(client, org["south_pool"])
    assert page.status_code == 200
    assert page.context["form"].errors["pool"]
    assert not ImportJob.objects.exists()


def test_the_sample_file_previews_with_its_bad_rows_named(org: dict[str, Any]) -> None:
    client = signed_in(org["admin"])
    _upload(client, org["east_pool"], SAMPLE.read_text(encoding="utf-8"), "customers.csv")
    page = client.get(f"/console/imports/{_job().pk}/")
    actions = {row["action"] for row in page.context["rows"]}
    assert {"create", "error"} <= actions
    assert all(row["detail"] for row in page.context["rows"] if row["action"] == "error")


# Export buttons


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_my_customers_export_keeps_the_pages_view(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    mine = make_customer(org["rep_a"], owner=org["rep_a"], name="浙江甲公司")
    make_customer(org["rep_a"], owner=org["rep_a"], name="江苏乙公司")
    make_customer(org["rep_b"], owner=org["rep_b"], name="浙江丙公司")
    client = signed_in(org["rep_a"])
    page = client.get("/mine/?q=浙江")
    assert "/mine/export/?q=%E6%B5%99%E6%B1%9F&amp;format=csv" in page.content.decode()
    _header, *rows = _csv(client.get("/mine/export/?q=浙江&format=csv"))
    assert [int(row[0]) for row in rows] == [mine.pk]
    audit = AuditLog.objects.get(action=AuditLog.Action.EXPORT)
    assert audit.detail["filters"] == {"owner": org["rep_a"].pk, "q": "浙江"}


def test_the_team_export_keeps_the_consoles_filters(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    a = make_customer(org["rep_a"], owner=org["rep_a"], level="A")
    make_customer(org["rep_b"], owner=org["rep_b"], level="B")
    make_customer(org["rep_c"], owner=org["rep_c"], level="A")
    pooled = make_customer(org["admin"], pool=org["east_pool"], level="A")
    client = signed_in(org["east_manager"])
    _header, *rows = _csv(client.get("/console/customers/export/?level=A&format=csv"))
    assert [int(row[0]) for row in rows] == [a.pk]
    _header, *rows = _csv(client.get("/console/customers/export/?status=pooled&format=csv"))
    assert [int(row[0]) for row in rows] == [pooled.pk]
    assert signed_in(org["rep_a"]).get("/console/customers/export/").status_code == 403
