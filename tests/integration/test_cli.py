"""The `highseas` command line: init is idempotent; check passes on good data, fails on bad."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from highseas.accounts.models import User
from highseas.config.cli import main
from highseas.customers.models import Customer
from highseas.pools.models import Pool

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_init_twice_creates_one_admin_and_one_default_pool() -> None:
    assert _run("init", "--admin-username", "root", "--admin-password", "S3cret!pass")[0] == 0
    code, output = _run("init", "--admin-username", "root", "--admin-password", "S3cret!pass")
    assert code == 0
    assert "root exists" in output
    assert User.objects.filter(username="root", role="admin", is_superuser=True).count() == 1
    assert list(Pool.objects.filter(is_default=True).values_list("name", flat=True)) == ["默认公海"]


def test_init_without_a_password_refuses_to_create_the_admin() -> None:
    code, output = _run("init", "--admin-username", "nobody")
    assert code == 2
    assert "--admin-password" in output
    assert not User.objects.filter(username="nobody").exists()


def test_init_can_reset_the_admin_password() -> None:
    _run("init", "--admin-username", "root", "--admin-password", "first-pass-1")
    _run("init", "--admin-username", "root", "--admin-password", "second-pass-2")
    assert User.objects.get(username="root").check_password("second-pass-2")


def test_check_passes_on_data_made_by_the_services(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    make_customer(org["rep_a"], owner=org["rep_a"])
    make_customer(org["admin"], pool=org["east_pool"])
    code, output = _run("check_invariants")
    assert code == 0, output
    assert "checked 2 customers and 2 ledger events" in output


def test_check_fails_when_an_owner_changed_without_a_ledger_row(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["rep_a"], owner=org["rep_a"])
    Customer.objects.filter(pk=customer.pk).update(owner=org["rep_b"])
    code, output = _run("check_invariants")
    assert code == 1
    assert "ledger_mismatch: 1" in output
    assert f"customer {customer.pk}" in output


def test_check_fails_when_a_customer_has_no_ledger(org: dict[str, Any]) -> None:
    from django.utils import timezone

    Customer.objects.create(
        name="无账本", status="pooled", pool=org["east_pool"], created_at=timezone.now()
    )
    code, output = _run("check_invariants")
    assert code == 1
    assert "ledger_missing: 1" in output


def test_the_console_command_maps_check_to_the_invariants(
    org: dict[str, Any],
    make_customer: Callable[..., Customer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    customer = make_customer(org["rep_a"], owner=org["rep_a"])
    Customer.objects.filter(pk=customer.pk).update(owner=org["rep_c"])
    with pytest.raises(SystemExit) as exit_:
        main(["check"])
    assert exit_.value.code == 1
    assert "ledger_mismatch" in capsys.readouterr().out


def test_check_reports_a_quota_broken_behind_the_services_back(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    from highseas.pools import ownership
    from highseas.pools.models import ClaimPolicy, OwnershipEvent

    customers = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(3)]
    for customer in customers:
        ownership.claim(org["rep_a"], customer.pk)
    assert _run("check_invariants")[0] == 0
    # Claims that recorded no quota (as rows written before claims recorded theirs) are judged
    # by the quota in force now.
    OwnershipEvent.objects.filter(kind="claimed").update(policy_ref="")
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_quota=2, holding_cap=2)
    code, output = _run("check_invariants")
    assert code == 1
    assert "claim_quota_exceeded: 1" in output
    assert "holding_cap_exceeded: 1" in output
