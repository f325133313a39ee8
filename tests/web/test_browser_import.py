"""The import page in a real browser: upload the sample file, check the mapping and the
preview of every row, commit it with the progress indicator showing, and see the outcome."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.intake import imports
from highseas.intake.models import ImportJob
from tests.integration.import_kills import Killed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "customers.csv"


def _upload_sample(page: Any, live_server: Any, pool: Any) -> None:
    page.goto(f"{live_server.url}/console/imports/")
    page.set_input_files("input[name=file]", str(SAMPLE))
    page.select_option("select[name=pool]", str(pool.pk))
    page.click("[data-upload]")
    page.wait_for_selector("[data-import-mapping]")


def test_a_manager_imports_the_sample_file_as_previewed(
    org: dict[str, Any], sign_in: Any, screenshot: Any, live_server: Any
) -> None:
    manager = sign_in("mgr_east")
    manager.click("nav.topnav >> text=管理台")
    manager.click("nav.console-tabs >> text=导入")
    manager.wait_for_selector("[data-import-upload]")
    screenshot(manager, "60-import-upload")

    _upload_sample(manager, live_server, org["east_pool"])
    assert manager.locator("tr[data-header=客户名称] select").input_value() == "name"
    assert manager.locator("tr[data-header=电话] select").input_value() == "phone"
    assert manager.locator("tr[data-header=负责人] select").input_value() == "owner"
    screenshot(manager, "61-import-mapping")

    manager.click("[data-preview]")
    manager.wait_for_selector("[data-table=import-rows]")
    job = ImportJob.objects.get()
    rows = manager.locator("[data-table=import-rows] tbody tr")
    assert rows.count() == job.total
    planned = {
        action: int(manager.locator(f"[data-count={action}] .stat-value").inner_text())
        for action in ("create", "duplicate", "error")
    }
    assert planned == {
        action: job.planned.get(action, 0) for action in ("create", "duplicate", "error")
    }
    assert planned["create"] > 0 and planned["error"] > 0
    errors = manager.locator("tr[data-action=error] .import-detail").all_inner_texts()
    assert len(errors) == planned["error"] and all(text.strip() for text in errors)
    assert Customer.objects.count() == 0
    screenshot(manager, "62-import-preview")

    held: list[Any] = []
    manager.route("**/commit/", lambda route: held.append(route))
    manager.click("[data-commit]")
    manager.wait_for_selector("[data-progress]:not([hidden])")
    manager.wait_for_function(
        "document.querySelector('[data-progress-text]').textContent.includes('"
        + str(job.total)
        + "')"
    )
    screenshot(manager, "63-import-committing")
    manager.wait_for_function("true")  # let the held request be recorded
    assert len(held) == 1
    held[0].continue_()
    manager.wait_for_selector("[data-import-done]")
    screenshot(manager, "64-import-done")

    job.refresh_from_db()
    assert (job.status, job.done_rows) == ("done", job.total)
    assert Customer.objects.count() == planned["create"]
    with translation.override("zh-hans"):  # the page speaks the browser's Chinese
        assert manager.locator("[data-job-status]").inner_text() == job.get_status_display()


def test_an_import_stopped_part_of_the_way_shows_what_is_left_and_resumes(
    org: dict[str, Any], sign_in: Any, screenshot: Any, live_server: Any, monkeypatch: Any
) -> None:
    """An import applied at once from the command line or the API, killed after its first
    batch: its page counts what was done and what is not yet, and resumes it."""

    def kill(done: int, total: int) -> None:
        if done == 5:
            raise Killed

    monkeypatch.setattr(imports, "BATCH_SIZE", 4)
    with contextlib.suppress(Killed):
        imports.import_at_once(
            Viewer(org["east_manager"]),
            content=SAMPLE.read_bytes(),
            pool_id=org["east_pool"].pk,
            file_name="customers.csv",
            progress=kill,
        )
    monkeypatch.undo()
    job = ImportJob.objects.get()
    manager = sign_in("mgr_east")
    manager.goto(f"{live_server.url}/console/imports/{job.pk}/")
    manager.wait_for_selector("[data-table=import-rows]")
    counts = {
        action: int(manager.locator(f"[data-count={action}] .stat-value").inner_text())
        for action in ("create", "duplicate", "pending")
    }
    assert counts == {"create": 3, "duplicate": 1, "pending": 10}
    assert manager.locator("[data-count=pending] .stat-label").inner_text() == "尚未导入"
    # the lines done are listed; those not reached yet are kept encrypted, not as rows
    assert manager.locator("[data-table=import-rows] tbody tr").count() == 4
    assert manager.locator("[data-commit]").inner_text() == "继续导入"
    assert manager.locator("ol.steps li.active").inner_text() == "导入"  # past its preview
    screenshot(manager, "64b-import-stopped")

    manager.click("[data-commit]")
    manager.wait_for_selector("[data-import-done]")
    job.refresh_from_db()
    assert (job.status, job.done_rows) == ("done", 14)
    assert Customer.objects.count() == 10
    manager.reload()
    assert manager.locator("[data-count=pending]").count() == 0
    assert manager.locator("[data-count=create] .stat-value").inner_text() == "10"
    screenshot(manager, "64c-import-resumed")


def test_the_import_preview_fits_a_phone(
    org: dict[str, Any], sign_in: Any, screenshot: Any, live_server: Any
) -> None:
    phone = sign_in("mgr_east", width=390, height=844)
    _upload_sample(phone, live_server, org["east_pool"])
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "65-phone-import-mapping")
    phone.click("[data-preview]")
    phone.wait_for_selector("[data-table=import-rows]")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "66-phone-import-preview")


def test_a_rep_exports_my_customers_with_the_pages_search(
    org: dict[str, Any],
    sign_in: Any,
    screenshot: Any,
    live_server: Any,
    make_customer: Any,
    tmp_path: Path,
) -> None:
    kept = make_customer(org["rep_a"], owner=org["rep_a"], name="浙江甲科技有限公司")
    make_customer(org["rep_a"], owner=org["rep_a"], name="江苏乙贸易有限公司")
    rep = sign_in("rep_a")
    rep.goto(f"{live_server.url}/mine/?q=浙江")
    rep.click("[data-export] summary")
    rep.wait_for_selector("[data-export-format=csv]")
    screenshot(rep, "67-my-customers-export-menu")
    with rep.expect_download() as download:
        rep.click("[data-export-format=csv]")
    target = tmp_path / "mine.csv"
    download.value.save_as(target)
    with target.open(encoding="utf-8-sig") as handle:
        header, *rows = list(csv.reader(handle))
    assert header[:2] == ["ID", "名称"]
    assert [(int(row[0]), row[1]) for row in rows] == [(kept.pk, kept.name)]
