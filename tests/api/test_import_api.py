"""``/api/v1/imports/``: upload and preview, commit, read — adapters over ``intake.imports``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.intake.models import ImportJob

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]
SAMPLE = (Path(__file__).parents[2] / "docs" / "samples" / "customers.csv").read_bytes()


def upload(client: APIClient, pool: Any, content: bytes = SAMPLE, **fields: Any) -> Any:
    data = {"file": SimpleUploadedFile("customers.csv", content, "text/csv"), "pool": pool.pk}
    return client.post("/api/v1/imports/", {**data, **fields}, format="multipart")


def test_an_upload_answers_with_the_preview(org: dict[str, Any], api: Api) -> None:
    response = upload(api(org["east_manager"]), org["east_pool"])
    body = response.json()
    assert response.status_code == 201
    assert (body["status"], body["total"], body["created"], body["skipped"], body["assigned"]) == (
        "previewed",
        14,
        10,
        0,
        2,
    )
    assert [(d["line"], d["duplicate_line"], d["holder"]) for d in body["duplicates"]] == [
        (5, 2, "REP_A")
    ]
    assert [(e["line"], e["code"]) for e in body["errors"]] == [
        (6, "validation_error"),
        (7, "validation_error"),
        (11, "validation_error"),
    ]
    assert not Customer.objects.exists()


def test_commit_runs_the_preview_and_get_reads_the_job(org: dict[str, Any], api: Api) -> None:
    client = api(org["east_manager"])
    job_id = upload(client, org["east_pool"]).json()["id"]
    committed = client.post(f"/api/v1/imports/{job_id}/commit/")
    assert (committed.status_code, committed.json()["status"]) == (200, "done")
    assert Customer.objects.count() == 10
    read = client.get(f"/api/v1/imports/{job_id}/").json()
    assert (read["status"], read["done"], read["duplicates"][0]["customer"]) == (
        "done",
        14,
        Customer.objects.get(name="星辰科技（北京）有限公司").pk,
    )


def test_an_upload_with_dry_run_false_commits_at_once(org: dict[str, Any], api: Api) -> None:
    body = upload(api(org["admin"]), org["east_pool"], dry_run="false").json()
    assert body["status"] == "done"
    assert Customer.objects.count() == 10
    # applied in one pass (nobody reads a plan first), reported as a previewed commit is
    assert ImportJob.objects.get(pk=body["id"]).options["at_once"] is True
    assert (body["total"], body["done"], body["created"]) == (14, 14, 10)
    assert [d["line"] for d in body["duplicates"]] == [5]
    assert [e["line"] for e in body["errors"]] == [6, 7, 11]


def test_the_mapping_and_on_duplicate_are_taken_from_the_form(
    org: dict[str, Any], api: Api
) -> None:
    content = "公司,联系方式\n远航科技有限公司,13800138000\n远航科技,13800138000\n".encode()
    body = upload(
        api(org["admin"]),
        org["east_pool"],
        content,
        mapping=json.dumps({"公司": "name", "联系方式": "phone"}),
        on_duplicate="skip",
    ).json()
    assert (body["created"], body["skipped"], body["mapping"]) == (
        1,
        1,
        {"公司": "name", "联系方式": "phone"},
    )


def test_rows_are_paged_by_line(org: dict[str, Any], api: Api) -> None:
    client = api(org["admin"])
    job_id = upload(client, org["east_pool"]).json()["id"]
    rows = client.get(f"/api/v1/imports/{job_id}/rows/?after_line=4&limit=2").json()
    assert [(r["line"], r["action"]) for r in rows] == [(5, "duplicate"), (6, "error")]


def test_a_rep_may_not_import(org: dict[str, Any], api: Api) -> None:
    response = upload(api(org["rep_a"]), org["east_pool"])
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert not ImportJob.objects.exists()


def test_an_unknown_mapping_field_is_a_validation_error(org: dict[str, Any], api: Api) -> None:
    response = upload(
        api(org["admin"]), org["east_pool"], mapping=json.dumps({"客户名称": "favourite"})
    )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert not ImportJob.objects.exists()


def test_another_managers_import_is_not_found(org: dict[str, Any], api: Api) -> None:
    job_id = upload(api(org["east_manager"]), org["east_pool"]).json()["id"]
    response = api(org["south_manager"]).post(f"/api/v1/imports/{job_id}/commit/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert not Customer.objects.exists()


def test_a_conflicting_commit_is_refused_with_state_conflict(
    org: dict[str, Any], api: Api, make_customer: Any
) -> None:
    client = api(org["admin"])
    job_id = upload(client, org["east_pool"]).json()["id"]
    make_customer(org["admin"], pool=org["east_pool"], name="蓝海物流有限公司", phone="13900000000")
    response = client.post(f"/api/v1/imports/{job_id}/commit/")
    assert (response.status_code, response.json()["code"], response.json()["line"]) == (
        409,
        "state_conflict",
        3,
    )
