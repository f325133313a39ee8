"""Duplicate screening by pool policy and entry point, merge and its undo, keys and search."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers import crypto, fts, search
from highseas.customers.duplicates import backfill_keys
from highseas.customers.models import Activity, Contact, Customer, CustomerMerge, Deal
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.intake.creation import create_customer
from highseas.notify.models import Notification
from highseas.pools import dedup, ownership
from highseas.pools.followups import add_contact, close_deal, log_activity, open_deal
from highseas.pools.invariants import run_checks
from highseas.pools.merge import merge
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.unmerge import unmerge

pytestmark = pytest.mark.django_db

BYTEDANCE = {"name": "北京字节跳动科技有限公司", "phone": "138-0013-8000"}
BYTEDANCE_AGAIN = {"name": "字节跳动科技（北京）有限公司", "phone": "+86 13800138000"}


def trace() -> tuple[int, int]:
    return Customer.objects.count(), OwnershipEvent.objects.count()


def assert_invariants() -> None:
    report = run_checks()
    assert report.ok, (report.problems, report.examples)


def set_policy(pool: Pool, **policy: str) -> None:
    pool.duplicate_policy = {"manual": "block", "api": "block", "import": "block", **policy}
    pool.save(update_fields=["duplicate_policy"])


@pytest.fixture
def bytedance(org: dict[str, Any]) -> Customer:
    return create_customer(actor=org["rep_a"], fields=dict(BYTEDANCE), owner=org["rep_a"]).customer


def create_again(org: dict[str, Any], entry_point: str = "api", **fields: Any) -> dict[str, Any]:
    created = create_customer(
        actor=org["rep_c"],
        fields={**BYTEDANCE_AGAIN, **fields},
        owner=org["rep_c"],
        pool=org["south_pool"],
        entry_point=entry_point,
    )
    return {"customer": created.customer, "warnings": created.warnings}


def test_keys_are_stored_on_create(bytedance: Customer) -> None:
    assert (bytedance.phone_key, bytedance.name_key, bytedance.email_key) == (
        crypto.blind("phone", "+8613800138000"),
        "字节跳动科技",
        None,
    )


def test_the_same_company_written_differently_is_refused_naming_the_holder(
    org: dict[str, Any], bytedance: Customer
) -> None:
    before = trace()
    with pytest.raises(HighSeasError) as refused:
        create_again(org)
    error = refused.value
    assert error.code is ErrorCode.DUPLICATE
    assert (error.facts["holder"], error.facts["status"]) == ("REP_A", "owned")
    assert error.facts["matches"][0]["id"] == bytedance.pk
    assert error.facts["matches"][0]["matched_on"] == ["phone", "name"]
    assert trace() == before


def test_a_refusal_carries_no_private_field(org: dict[str, Any], bytedance: Customer) -> None:
    Customer.objects.filter(pk=bytedance.pk).update(
        email="ceo@bytedance.com", credit_code="91110108551385082Q", address="海淀区"
    )
    with pytest.raises(HighSeasError) as refused:
        create_again(org)
    text = str(refused.value.as_dict())
    for private in ("13800138000", "ceo@bytedance.com", "91110108551385082Q", "海淀区"):
        assert private not in text


@pytest.mark.parametrize(
    ("policy", "entry_point", "outcome"),
    [
        ({"api": "block"}, "api", "refused"),
        ({"api": "warn"}, "api", "warned"),
        ({"api": "allow"}, "api", "silent"),
        ({"manual": "warn", "api": "block"}, "manual", "warned"),
        ({"manual": "block", "import": "allow"}, "import", "silent"),
        ({"manual": "allow", "import": "block"}, "import", "refused"),
    ],
)
def test_each_entry_point_follows_its_pool_policy(
    org: dict[str, Any],
    bytedance: Customer,
    policy: dict[str, str],
    entry_point: str,
    outcome: str,
) -> None:
    set_policy(org["south_pool"], **policy)
    before = trace()
    try:
        created = create_again(org, entry_point=entry_point)
    except HighSeasError as refusal:
        assert (outcome, refusal.code, trace()) == ("refused", ErrorCode.DUPLICATE, before)
        return
    warned = [(w["id"], w["match"]) for w in created["warnings"]]
    assert warned == ([(bytedance.pk, "exact")] if outcome == "warned" else [])
    assert trace() == (before[0] + 1, before[1] + 1)


def test_a_close_name_warns_and_still_creates(org: dict[str, Any], bytedance: Customer) -> None:
    created = create_again(org, name="北京字节跳动网络技术有限公司", phone="13912345678")
    (warning,) = created["warnings"]
    assert (warning["id"], warning["match"], warning["matched_on"]) == (
        bytedance.pk,
        "fuzzy",
        ["name"],
    )
    assert 0 < warning["score"] < 100
    assert created["customer"].pk


def test_an_edit_to_anothers_phone_is_refused_and_leaves_the_row(
    org: dict[str, Any], bytedance: Customer, make_customer: Callable[..., Customer]
) -> None:
    other = make_customer(org["rep_c"], owner=org["rep_c"], name="深圳华强电子有限公司")
    with pytest.raises(HighSeasError) as refused:
        dedup.update_customer(customer=other, changes={"phone": "13800138000"})
    assert refused.value.code is ErrorCode.DUPLICATE
    other.refresh_from_db()
    assert other.phone != "13800138000"


def test_an_edit_keeps_keys_current_and_ignores_collisions_it_did_not_cause(
    org: dict[str, Any], bytedance: Customer
) -> None:
    set_policy(org["south_pool"], api="warn")
    twin = create_again(org)["customer"]
    set_policy(org["south_pool"], api="block")
    dedup.update_customer(customer=twin, changes={"industry": "software"})
    dedup.update_customer(customer=twin, changes={"email": " Sales@ByteDance.COM "})
    twin.refresh_from_db()
    assert (twin.industry, twin.email_key) == (
        "software",
        crypto.blind("email", "sales@bytedance.com"),
    )


def test_backfill_fills_rows_written_without_keys(bytedance: Customer) -> None:
    Customer.objects.filter(pk=bytedance.pk).update(phone_key=None, name_key=None)
    assert sum(backfill_keys()) == Customer.objects.count()
    bytedance.refresh_from_db()
    assert (bytedance.phone_key, bytedance.name_key) == (
        crypto.blind("phone", "+8613800138000"),
        "字节跳动科技",
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_phone_make_one_customer(org: dict[str, Any]) -> None:
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def create(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            create_customer(
                actor=org["admin"],
                fields={"name": f"并发客户{index}号商行", "phone": "13800138000"},
                pool=org["east_pool"],
            )
            outcomes.append("ok")
        except HighSeasError as refusal:
            outcomes.append(refusal.code.value)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert Counter(outcomes) == Counter({"ok": 1, "duplicate": 7})
    assert Customer.objects.filter(phone_key=crypto.blind("phone", "+8613800138000")).count() == 1


# --- merge and undo ------------------------------------------------------------------------


@pytest.fixture
def pair(org: dict[str, Any], bytedance: Customer) -> tuple[Customer, Customer]:
    """Two records of one company in the east team: rep_a's, and rep_b's with history."""
    set_policy(org["east_pool"], api="warn")
    twin = create_customer(
        actor=org["rep_b"],
        fields={**BYTEDANCE_AGAIN, "email": "buyer@bytedance.com", "industry": "internet"},
        owner=org["rep_b"],
        pool=org["east_pool"],
    ).customer
    add_contact(org["rep_b"], twin.pk, name="张总", phones=["13912345678"])
    log_activity(org["rep_b"], twin.pk, kind="call", note="约了拜访")
    deal = open_deal(org["rep_b"], twin.pk, amount=50_000)
    close_deal(org["rep_b"], twin.pk, deal.pk, stage="won")
    return bytedance, twin


def test_merge_moves_history_and_keeps_every_ledger_replayable(
    org: dict[str, Any], pair: tuple[Customer, Customer]
) -> None:
    survivor, twin = pair
    record = merge(org["east_manager"], survivor.pk, twin.pk, fields={"industry": "other"})
    survivor.refresh_from_db()
    twin.refresh_from_db()
    assert (survivor.email, survivor.industry, survivor.stage) == (
        "buyer@bytedance.com",
        "internet",
        "won",
    )
    assert survivor.email_key == crypto.blind("email", "buyer@bytedance.com")
    assert survivor.last_activity_at is not None
    for model in (Contact, Activity, Deal):
        assert model._default_manager.filter(customer=survivor).count() == 1
        assert not model._default_manager.filter(customer=twin).exists()
    assert (twin.status, twin.owner_id, twin.merged_into_id) == ("pooled", None, survivor.pk)
    assert (twin.phone_key, twin.name_key, twin.email_key) == (None, None, None)
    assert [e.kind for e in OwnershipEvent.objects.filter(customer=twin).order_by("id")] == [
        "created",
        "merged",
    ]
    last = OwnershipEvent.objects.filter(customer=survivor).latest("id")
    assert (last.kind, last.related_customer_id) == ("merged", twin.pk)
    assert record.undo_until == record.merged_at + timedelta(days=30)
    assert_invariants()


def test_the_owner_who_lost_a_merged_customer_is_told_in_the_merge_transaction(
    org: dict[str, Any], pair: tuple[Customer, Customer], django_capture_on_commit_callbacks: Any
) -> None:
    survivor, twin = pair
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        merge(org["east_manager"], survivor.pk, twin.pk)
    assert callbacks == []
    told = Notification.objects.get(recipient=org["rep_b"], kind="merged")
    assert (told.customer_id, survivor.name in told.body) == (survivor.pk, True)


def test_a_merged_away_customer_is_hidden_unmovable_and_no_duplicate(
    org: dict[str, Any], pair: tuple[Customer, Customer]
) -> None:
    survivor, twin = pair
    merge(org["east_manager"], survivor.pk, twin.pk)
    assert not Viewer(org["admin"]).customers().filter(pk=twin.pk).exists()
    with pytest.raises(HighSeasError) as refused:
        ownership.claim(org["rep_a"], twin.pk)
    assert refused.value.code is ErrorCode.NOT_FOUND
    assert [row["id"] for row in search.search("buyer@bytedance.com").rows] == [survivor.pk]
    with pytest.raises(HighSeasError) as again:
        create_customer(actor=org["admin"], fields=dict(BYTEDANCE_AGAIN), pool=org["south_pool"])
    assert again.value.facts["matches"][0]["id"] == survivor.pk


def test_a_rep_cannot_merge(org: dict[str, Any], pair: tuple[Customer, Customer]) -> None:
    before = trace()
    with pytest.raises(HighSeasError) as refused:
        merge(org["rep_a"], pair[0].pk, pair[1].pk)
    assert refused.value.code is ErrorCode.PERMISSION_DENIED
    assert (trace(), CustomerMerge.objects.count()) == (before, 0)


def test_unmerge_restores_both_customers_and_their_history(
    org: dict[str, Any], pair: tuple[Customer, Customer]
) -> None:
    survivor, twin = pair
    merge(org["east_manager"], survivor.pk, twin.pk)
    later = log_activity(org["rep_a"], survivor.pk, kind="visit", note="合并后的拜访")
    unmerge(org["east_manager"], survivor.pk)
    survivor.refresh_from_db()
    twin.refresh_from_db()
    assert (twin.status, twin.owner_id, twin.merged_into_id) == ("owned", org["rep_b"].pk, None)
    assert (twin.phone_key, twin.email_key) == (
        crypto.blind("phone", "+8613800138000"),
        crypto.blind("email", "buyer@bytedance.com"),
    )
    assert (survivor.email, survivor.stage, survivor.email_key) == ("", "prospect", None)
    assert Contact.objects.get(customer=twin).name == "张总"
    assert set(Activity.objects.filter(customer=survivor)) == {later}
    assert Deal.objects.filter(customer=twin).count() == 1
    assert Viewer(org["rep_b"]).customers().filter(pk=twin.pk).exists()
    assert [e.kind for e in OwnershipEvent.objects.filter(customer=twin).order_by("id")] == [
        "created",
        "merged",
        "merged",
    ]
    assert CustomerMerge.objects.get().undone_by == org["east_manager"]
    assert_invariants()


def test_unmerge_after_the_retention_window_is_refused(
    org: dict[str, Any], pair: tuple[Customer, Customer]
) -> None:
    survivor, twin = pair
    merge(org["east_manager"], survivor.pk, twin.pk)
    with pytest.raises(HighSeasError) as refused:
        unmerge(org["east_manager"], survivor.pk, now=timezone.now() + timedelta(days=31))
    assert refused.value.code is ErrorCode.STATE_CONFLICT
    twin.refresh_from_db()
    assert twin.merged_into_id == survivor.pk


def test_a_chain_is_undone_last_merge_first(
    org: dict[str, Any], pair: tuple[Customer, Customer], make_customer: Callable[..., Customer]
) -> None:
    survivor, twin = pair
    third = make_customer(
        org["rep_a"], owner=org["rep_a"], pool=org["east_pool"], name="字节跳动有限公司上海分公司"
    )
    merge(org["east_manager"], survivor.pk, twin.pk)
    merge(org["east_manager"], third.pk, survivor.pk)
    with pytest.raises(HighSeasError) as refused:
        unmerge(org["east_manager"], survivor.pk)
    assert refused.value.code is ErrorCode.STATE_CONFLICT
    unmerge(org["east_manager"], third.pk)
    unmerge(org["east_manager"], survivor.pk)
    assert not Customer.objects.filter(merged_into__isnull=False).exists()
    assert_invariants()


# --- public search -------------------------------------------------------------------------


@pytest.fixture
def book(org: dict[str, Any], make_customer: Callable[..., Customer]) -> dict[str, Customer]:
    admin = org["admin"]
    return {
        "bytedance": make_customer(admin, pool=org["east_pool"], **BYTEDANCE),
        "huawei": make_customer(
            admin, pool=org["south_pool"], name="华为技术有限公司", phone="0755-28780808"
        ),
        "tencent": make_customer(
            admin,
            owner=org["rep_c"],
            pool=org["south_pool"],
            name="腾讯科技（深圳）有限公司",
            credit_code="9144030071526726XG",
            stage="won",
        ),
    }


def found(text: str) -> list[int]:
    return [row["id"] for row in search.search(text).rows]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("字节跳动", "bytedance"),
        ("北京字节跳动科技", "bytedance"),
        ("字节跳动科技（北京）", "bytedance"),
        ("华为", "huawei"),
        ("为技术", "huawei"),
        ("+86 755 2878 0808", "huawei"),
        ("138 0013 8000", "bytedance"),
        ("Buyer@Example.invalid", None),
        ("9144030071526726XG", "tencent"),
        ("腾讯", "tencent"),
    ],
)
def test_public_search_finds_by_name_phone_email_and_code(
    book: dict[str, Customer], text: str, key: str | None
) -> None:
    assert found(text) == ([book[key].pk] if key else [])


def test_public_search_scope_can_leave_won_customers_out(book: dict[str, Customer]) -> None:
    with override_settings(HIGHSEAS_PUBLIC_SEARCH_SCOPE="prospects"):
        assert found("腾讯") == []
        assert found("9144030071526726XG") == []
    assert found("腾讯") == [book["tencent"].pk]


def test_public_search_pages_by_keyset(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    made = [
        make_customer(org["admin"], pool=org["east_pool"], name=f"星河{i}号贸易商行")
        for i in range(5)
    ]
    first = search.search("星河", limit=2)
    second = search.search("星河", before=first.next_before, limit=2)
    third = search.search("星河", before=second.next_before, limit=2)
    pages = [[row["id"] for row in page.rows] for page in (first, second, third)]
    assert pages == [[made[4].pk, made[3].pk], [made[2].pk, made[1].pk], [made[0].pk]]
    assert third.next_before is None


def test_public_search_follows_renames(book: dict[str, Customer]) -> None:
    dedup.update_customer(customer=book["huawei"], changes={"name": "荣耀终端有限公司"})
    assert (found("华为技术"), found("荣耀终端")) == ([], [book["huawei"].pk])


def test_public_search_needs_two_letters_or_one_chinese_character(
    book: dict[str, Customer],
) -> None:
    with pytest.raises(HighSeasError) as refused:
        search.search("h")
    assert refused.value.code is ErrorCode.VALIDATION_ERROR
    assert found("华") == [book["huawei"].pk]


def test_a_user_without_pools_still_searches_everything(
    book: dict[str, Customer], make_user: Callable[..., User]
) -> None:
    loner = make_user()
    assert not Viewer(loner).customers().exists()
    assert found("字节跳动") == [book["bytedance"].pk]


def test_a_bulk_load_with_the_index_suspended_is_searchable_after(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    with fts.search_index_suspended(connection):
        loaded = make_customer(org["admin"], pool=org["east_pool"], name="青松岭农业发展有限公司")
    assert found("松岭农业") == [loaded.pk]


def test_search_puts_back_an_index_whose_triggers_a_table_rebuild_dropped(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the triggers are SQLite's")
    with connection.cursor() as cursor:
        for trigger in fts.TRIGGERS:
            cursor.execute(f"DROP TRIGGER {trigger}")
    unseen = make_customer(org["admin"], pool=org["east_pool"], name="白鹭洲文化传媒有限公司")
    assert found("鹭洲文化") == [unseen.pk]
    assert fts.sqlite_index_is_complete(connection)
