"""Ledger reasons the system writes are stored as a code with parameters and read in the
reader's language (web page, API, admin); a person's words stay as typed; the data migration
gives old rows their code from the text in either language and keeps unknown text."""

from __future__ import annotations

import html
import importlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone, translation

from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind, OwnershipState, Status
from highseas.pools import ownership, reasons
from highseas.pools.ledger import Entry, record_event, record_events, state_of
from highseas.pools.models import ClaimPolicy, ClaimRequest, OwnershipEvent
from highseas.pools.reasons import TEMPLATES, Reason
from tests.web.pages import signed_in

pytestmark = pytest.mark.django_db

HAN = re.compile(r"[\u3400-\u9fff]")
SAMPLE = {
    "limit": 30,
    "file": "customers.csv",
    "campaign": "Spring fair",
    "rule": "Hangzhou",
    "run": 7,
    "id": 12,
    "name": "Yunfan",
    "receiver": "REP_B",
    "requester": "REP_A",
    "manager": "MGR_EAST",
    "reason": "met at the fair",
}


def sample(code: str) -> Reason:
    names = re.findall(r"%\((\w+)\)s", TEMPLATES[code])
    return Reason(code, {name: SAMPLE[name] for name in names})


def english(code: str) -> str:
    """The English text, from the template itself (no catalogue involved)."""
    return TEMPLATES[code] % sample(code).params


def chinese(code: str) -> str:
    with translation.override("zh-hans"):
        text = sample(code).render()
    assert HAN.search(text) and text != english(code), f"{code} has no Chinese text"
    return text


@pytest.fixture
def owned(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])


@pytest.mark.parametrize("writer", ["zh-hans", "en"])
@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_a_coded_reason_reads_in_each_readers_language(
    org: dict[str, Any], owned: Customer, api: Any, code: str, writer: str
) -> None:
    state = state_of(owned)
    with translation.override(writer):
        row = record_event(
            owned,
            EventKind.FROZEN,
            state,
            state,
            actor=org["rep_a"],
            reason=sample(code),
            at=timezone.now(),
        )
    stored = OwnershipEvent.objects.get(pk=row.pk)
    assert (stored.reason_code, stored.reason) == (code, english(code))
    for reader, expected in (("en", english(code)), ("zh-hans", chinese(code))):
        with translation.override(reader):
            assert stored.reason_text == expected
        answer = api(org["rep_a"]).get(
            f"/api/v1/customers/{owned.pk}/ownership/", HTTP_ACCEPT_LANGUAGE=reader
        )
        last = answer.json()[-1] if answer.json()[-1]["id"] == row.pk else answer.json()[0]
        assert last["id"] == row.pk
        assert (last["reason"], last["reason_code"]) == (expected, code)
        assert last["reason_params"] == ({**sample(code).params} or None)
        client = signed_in(org["rep_a"])
        client.cookies["django_language"] = reader
        page = html.unescape(client.get(f"/customers/{owned.pk}/").content.decode())
        assert expected in page
        admin = signed_in(org["admin"])
        admin.cookies["django_language"] = reader
        listed = html.unescape(admin.get("/admin/pools/ownershipevent/").content.decode())
        assert expected in listed


def test_record_events_stores_the_code_and_a_persons_words_as_typed(
    org: dict[str, Any], owned: Customer
) -> None:
    state = state_of(owned)
    record_events(
        [
            Entry(
                owned.pk,
                EventKind.FROZEN,
                state,
                state,
                sample(reasons.IDLE_LIMIT),
                org["rep_a"].pk,
                "rep_a",
            ),
            Entry(
                owned.pk, EventKind.FROZEN, state, state, "客户暂无需求", org["rep_a"].pk, "rep_a"
            ),
        ],
        at=timezone.now(),
    )
    coded, typed = OwnershipEvent.objects.order_by("-id")[:2][::-1]
    assert (coded.reason_code, coded.reason_params) == ("idle_limit", {"limit": 30})
    assert (typed.reason_code, typed.reason_params, typed.reason) == ("", None, "客户暂无需求")
    with translation.override("en"):
        assert (coded.reason_text, typed.reason_text) == (
            "No effective follow-up for 30 days",
            "客户暂无需求",
        )


def test_an_unknown_code_is_refused_before_anything_is_written() -> None:
    with pytest.raises(ValueError):
        Reason("made_up")


def test_the_services_write_codes_and_keep_a_reps_words(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    registered = make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])
    created = make_customer(org["admin"], pool=org["east_pool"])
    typed = make_customer(org["admin"], pool=org["east_pool"])
    with translation.override("zh-hans"):
        ownership.claim(org["rep_a"], created.pk)  # the fast path (claim_statements)
        ownership.claim(org["rep_b"], typed.pk, reason="老客户转介绍")
        ownership.transfer(org["east_manager"], created.pk, org["rep_b"])
        ownership.release(org["rep_b"], created.pk, reason="暂无需求")
    rows = {
        (e.customer_id, e.kind): (e.reason_code, e.reason)
        for e in OwnershipEvent.objects.filter(customer__in=[registered, created, typed])
    }
    assert rows == {
        (registered.pk, "created"): ("registered_by_owner", "Registered by the owner"),
        (created.pk, "created"): ("created", "Created"),
        (created.pk, "claimed"): ("claimed", "Claimed from the pool"),
        (created.pk, "transferred"): ("transferred_by_manager", "Transferred by a manager"),
        (created.pk, "released"): ("", "暂无需求"),
        (typed.pk, "created"): ("created", "Created"),
        (typed.pk, "claimed"): ("", "老客户转介绍"),
    }


def test_a_claim_request_without_words_reads_as_claim_request_in_each_language(
    org: dict[str, Any], make_customer: Callable[..., Customer], api: Any
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(requires_approval=True)
    customer = make_customer(org["admin"], pool=org["east_pool"])
    with translation.override("zh-hans"):
        request = ownership.claim(org["rep_a"], customer.pk).request
    assert request is not None and ClaimRequest.objects.get(pk=request.pk).reason == ""
    with translation.override("en"):
        assert request.reason_text == "Claim request"
    with translation.override("zh-hans"):
        assert request.reason_text == "领取申请"
    from highseas.pools import requests

    requests.approve(org["east_manager"], request.pk)
    event = OwnershipEvent.objects.filter(customer=customer, kind="claimed").get()
    assert (event.reason_code, event.reason_params) == (
        "claim_approved_plain",
        {"requester": org["rep_a"].label, "manager": org["east_manager"].label},
    )


# --- the data migration -------------------------------------------------------------------

OLD = [
    # (as written before codes, the code it gets, its params)
    ("创建", "created", None),
    ("Created", "created", None),
    ("负责人自行登记", "registered_by_owner", None),
    ("从公海领取", "claimed", None),
    ("导入自 客户名单.xlsx", "imported", {"file": "客户名单.xlsx"}),
    ("Imported from leads.csv", "imported", {"file": "leads.csv"}),
    ("按规则「杭州」分配（第 7 次运行）", "rule_assigned", {"rule": "杭州", "run": "7"}),
    ("Assigned by rule «Hangzhou» (run #3)", "rule_assigned", {"rule": "Hangzhou", "run": "3"}),
    ("领取后 48 小时内未首次跟进", "first_contact_limit", {"limit": "48"}),
    ("30 天无有效跟进", "idle_limit", {"limit": "30"}),
    ("冻结期已结束", "freeze_ended", None),
    ("离职交接", "handover", None),
    (
        "申请人 REP_A，经理 MGR 批准：领取申请",
        "claim_approved_plain",
        {"requester": "REP_A", "manager": "MGR"},
    ),
    (
        "申请人 REP_A，经理 MGR 批准：展会上认识",
        "claim_approved",
        {"requester": "REP_A", "manager": "MGR", "reason": "展会上认识"},
    ),
]
UNKNOWN = ["客户暂无需求", "换人跟进", "Created by highseas bench", "创建\n补充说明"]


def _migration() -> Any:
    return importlib.import_module("highseas.pools.migrations.0008_code_old_ledger_reasons")


class _Editor:
    connection = connection


def _old_rows(org: dict[str, Any], customer: Customer) -> list[int]:
    state = OwnershipState(Status.OWNED, org["rep_a"].pk, customer.pool_id)
    ids = []
    for text in [*(t for t, _c, _p in OLD), *UNKNOWN]:
        ids.append(
            record_event(
                customer,
                EventKind.FROZEN,
                state,
                state,
                actor=org["rep_a"],
                reason=text,
                at=timezone.now(),
            ).pk
        )
    return ids


def test_the_migration_codes_known_texts_in_either_language_and_keeps_unknown_ones(
    org: dict[str, Any], owned: Customer, make_customer: Callable[..., Customer]
) -> None:
    ids = _old_rows(org, owned)
    request = ClaimRequest.objects.create(
        customer=make_customer(org["admin"], pool=org["east_pool"]),
        requester=org["rep_a"],
        reason="领取申请",
        created_at=timezone.now(),
    )
    _migration().code_reasons(apps, _Editor())
    rows = dict(OwnershipEvent.objects.filter(pk__in=ids).values_list("pk", "reason_code"))
    found = OwnershipEvent.objects.in_bulk(ids)
    for pk, (text, code, params) in zip(ids, OLD, strict=False):
        assert (found[pk].reason, rows[pk], found[pk].reason_params) == (text, code, params)
    for pk, text in zip(ids[len(OLD) :], UNKNOWN, strict=True):
        assert (found[pk].reason, found[pk].reason_code, found[pk].reason_params) == (
            text,
            "",
            None,
        )
        with translation.override("en"):
            assert found[pk].reason_text == text
    with translation.override("en"):
        assert found[ids[0]].reason_text == "Created"
        assert found[ids[6]].reason_text == "Assigned by rule «杭州» (run #7)"
    assert ClaimRequest.objects.get(pk=request.pk).reason == ""


def test_the_migration_resumes_after_a_stop_and_a_second_run_changes_nothing(
    org: dict[str, Any], owned: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _old_rows(org, owned)
    calls = {"n": 0}
    real = reasons.parse

    def failing(stored: str) -> Reason | None:
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("stopped")
        return real(stored)

    monkeypatch.setattr(reasons, "parse", failing)
    with pytest.raises(RuntimeError):
        reasons.code_old_rows(OwnershipEvent, ClaimRequest, using="default", batch=2)
    done = OwnershipEvent.objects.filter(pk__in=ids).exclude(reason_code="").count()
    assert 0 < done < len(OLD)  # the finished batches stayed, the broken one rolled back
    monkeypatch.setattr(reasons, "parse", real)
    assert reasons.code_old_rows(OwnershipEvent, ClaimRequest, using="default", batch=2) == (
        len(OLD) - done
    )
    before = list(OwnershipEvent.objects.order_by("pk").values_list("pk", "reason_code"))
    assert reasons.code_old_rows(OwnershipEvent, ClaimRequest, using="default", batch=2) == 0
    assert list(OwnershipEvent.objects.order_by("pk").values_list("pk", "reason_code")) == before
