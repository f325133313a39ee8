"""Sign-in and the landing page, in Chinese by default and in English on request."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle() -> None:
    cache.clear()


def test_the_login_page_speaks_chinese_by_default(client: Client) -> None:
    page = client.get("/login/").content.decode()
    assert "登录" in page
    assert '<html lang="zh-hans">' in page


def test_an_anonymous_visitor_is_sent_to_sign_in(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_signed_in_rep_sees_who_they_are(
    client: Client, org: dict[str, Any], make_customer: Any
) -> None:
    make_customer(org["rep_a"], owner=org["rep_a"], name="杭州云帆网络科技有限公司")
    response = client.post("/login/", {"username": "rep_a", "password": "pw-rep_a"}, follow=True)
    page = response.content.decode()
    assert "您好，REP_A" in page
    assert "销售代表" in page
    assert "华东销售部" in page
    assert "杭州云帆网络科技有限公司" in page
    assert 'data-stat="holdings">1<' in page


def test_the_language_switches_to_english(client: Client, org: dict[str, Any]) -> None:
    client.post("/login/", {"username": "rep_a", "password": "pw-rep_a"})
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/").content.decode()
    assert "Hello, REP_A" in page
    assert "Sales rep" in page


def test_a_wrong_password_is_refused_in_plain_words(client: Client, org: dict[str, Any]) -> None:
    page = client.post("/login/", {"username": "rep_a", "password": "nope"}).content.decode()
    assert "alert error" in page


def test_repeated_failures_lock_the_login_for_a_while(client: Client, org: dict[str, Any]) -> None:
    for _ in range(5):
        client.post("/login/", {"username": "rep_a", "password": "nope"})
    page = client.post("/login/", {"username": "rep_a", "password": "pw-rep_a"})
    assert "登录失败次数过多" in page.content.decode()
    assert "_auth_user_id" not in client.session


def test_pages_load_no_asset_from_the_network(client: Client, org: dict[str, Any]) -> None:
    pages = [client.get("/login/")]
    client.post("/login/", {"username": "rep_a", "password": "pw-rep_a"})
    pages.append(client.get("/"))
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert "<link" in html
        assert "http://" not in html and "https://" not in html
