"""The audit log console page: managers and admins, the API's filters, Chinese by default."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog

pytestmark = pytest.mark.django_db


def _page(client: Client, user: Any, query: str = "") -> Any:
    client.force_login(user)
    return client.get(f"/console/audit/{query}")


def test_an_admin_sees_every_row_in_chinese(client: Client, org: dict[str, Any]) -> None:
    record_audit(org["rep_c"], AuditLog.Action.EXPORT, rows=2)
    record_audit(org["rep_a"], AuditLog.Action.REVEAL, field="phone")
    page = _page(client, org["admin"]).content.decode()
    assert page.count("data-entry=") == 2
    assert "查看了脱敏字段" in page
    assert 'href="/console/audit/"' in page


def test_a_manager_sees_only_their_subtree(client: Client, org: dict[str, Any]) -> None:
    mine = record_audit(org["rep_a"], AuditLog.Action.EXPORT)
    record_audit(org["rep_c"], AuditLog.Action.EXPORT)
    page = _page(client, org["east_manager"]).content.decode()
    assert page.count("data-entry=") == 1
    assert f'data-entry="{mine.pk}"' in page


def test_a_rep_is_refused(client: Client, org: dict[str, Any]) -> None:
    assert _page(client, org["rep_a"]).status_code == 403


def test_the_page_filters_like_the_api(client: Client, org: dict[str, Any]) -> None:
    record_audit(org["rep_a"], AuditLog.Action.EXPORT)
    reveal = record_audit(org["rep_a"], AuditLog.Action.REVEAL)
    page = _page(client, org["admin"], "?action=reveal&actor=rep_a&since=2000-01-01")
    assert page.content.decode().count("data-entry=") == 1
    assert f'data-entry="{reveal.pk}"' in page.content.decode()


def test_an_unreadable_filter_is_said_plainly(client: Client, org: dict[str, Any]) -> None:
    page = _page(client, org["admin"], "?since=2026-02-30")
    assert page.status_code == 400
    assert "alert error" in page.content.decode()
