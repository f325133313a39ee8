"""``highseas bench pages`` at a tiny scale: the pages it times exist and answer their users,
and it names each page's slowest statement (the HTTP timing itself needs a served database,
so the tests check the in-process half)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from highseas.bench import pages
from highseas.demo.generator import DemoOptions, generate_demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo() -> None:
    call_command("init", admin_username="admin", admin_password="Admin#2026", stdout=io.StringIO())
    generate_demo(DemoOptions(customers=120, progress=False, parallel=False))


def test_every_page_of_the_bench_answers_its_user(demo: None) -> None:
    users = pages.people()
    headers = pages.credentials(users)
    answered = {
        page.path: pages.slowest_sql(page, users[page.user], headers[page.user])
        for page in pages.PAGES
        if page.path != "/search/?q=科技" or _has_public_search_page()
    }
    assert {path: found["in_process_status"] for path, found in answered.items()} == dict.fromkeys(
        answered, 200
    )
    assert all(found["queries"] and found["slowest_sql"] for found in answered.values())


def test_the_raw_baseline_reads_a_page_of_customers(demo: None) -> None:
    assert pages.raw_page_ms(3) > 0


def _has_public_search_page() -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("web:public_search")
    except NoReverseMatch:
        return False
    return True


def test_the_search_cases_pass_on_the_demo(demo: None) -> None:
    lines = pages.search_case_lines(pages.people(), runs=1)
    assert [line["query"] for line in lines if not line["passed"]] == []
    assert pages.planted_ids(pages.people()) == pages.planted_ids(pages.people())  # reused


def test_only_times_the_pages_whose_path_holds_a_fragment() -> None:
    assert pages.PagesBenchOptions().pages() == pages.PAGES
    chosen = pages.PagesBenchOptions(only=("/console/customers", "/console/sweep")).pages()
    assert {page.path for page in chosen} == {
        "/console/customers/",
        "/console/customers/?due=7",
        "/console/customers/?q=科技",
        "/console/sweep/",
    }
    assert {page.user for page in chosen} == {"manager", "admin"}
    assert pages.PagesBenchOptions(only=("/nowhere",)).pages() == ()
