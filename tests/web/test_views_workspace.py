"""The rep workspace through Django's test client: who sees what, and what each action does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from highseas.customers.models import Activity, Contact, Customer, Deal
from highseas.customers.search import name_filter
from highseas.intake import creation as intake
from highseas.notify.models import Notification
from highseas.pools import services as pools
from highseas.pools.models import ClaimPolicy, ClaimRequest, OwnershipEvent
from highseas.web.selectors import keyset_page
from tests.web.pages import html, messages_of, signed_in

pytestmark = pytest.mark.django_db

ASYNC = {"HTTP_X_HIGHSEAS_ASYNC": "1"}
PAGES = ["/", "/pool/", "/mine/", "/notifications/", "/customers/new/"]


@pytest.mark.parametrize("url", [*PAGES, "/customers/1/", "/console/"])
def test_an_anonymous_visitor_is_sent_to_sign_in(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_pool_list_shows_personal_fields_masked(world: dict[str, Any]) -> None:
    page = html(signed_in(world["rep_a"]).get("/pool/"))
    assert world["target"].name in page
    assert "138****8001" in page
    assert "13800138001" not in page


def test_the_pool_list_filters_by_region_industry_level_and_source(
    world: dict[str, Any],
) -> None:
    client = signed_in(world["rep_a"])
    query = "province=浙江&city=杭州&industry=软件和信息技术服务&level=A&source=web_form"
    page = html(client.get(f"/pool/?{query}"))
    assert world["target"].name in page
    assert "杭州数联信息技术有限公司" not in page  # level B, from an exhibition
    assert "苏州恒达精密机械有限公司" not in page


def test_the_pool_list_shows_owned_customers_only_when_asked(world: dict[str, Any]) -> None:
    client = signed_in(world["rep_a"])
    held = world["held_a"][0].name
    assert held not in html(client.get("/pool/"))
    assert held in html(client.get("/pool/?status=owned"))


def test_keyset_pages_cover_the_pool_once_and_go_back(world: dict[str, Any]) -> None:
    pooled = Customer.objects.filter(pool=world["east_pool"], status="pooled")
    first, after, none_before = keyset_page(pooled, after=None, before=None, size=5)
    second, _next, before = keyset_page(pooled, after=after, before=None, size=5)
    assert none_before is None and after == first[-1].pk
    assert not {c.pk for c in first} & {c.pk for c in second}
    assert [c.pk for c in second] == list(
        pooled.filter(pk__lt=after).order_by("-pk").values_list("pk", flat=True)[:5]
    )
    back, _, _ = keyset_page(pooled, after=None, before=before, size=5)
    assert [c.pk for c in back] == [c.pk for c in first]


def test_a_claim_makes_the_customer_mine(world: dict[str, Any]) -> None:
    target = world["target"]
    response = signed_in(world["rep_a"]).post(f"/customers/{target.pk}/claim/", follow=True)
    assert messages_of(response)[0].startswith(f"已领取 {target.name}。请在")
    assert Customer.objects.get(pk=target.pk).owner == world["rep_a"]


def test_a_claim_over_the_quota_is_refused_in_plain_words(world: dict[str, Any]) -> None:
    client = signed_in(world["rep_a"])
    pooled = list(
        Customer.objects.filter(
            pool=world["east_pool"], status="pooled", previous_owner__isnull=True
        )[:4]
    )
    for customer in pooled[:3]:
        assert client.post(f"/customers/{customer.pk}/claim/", **ASYNC).status_code == 200
    refused = client.post(f"/customers/{pooled[3].pk}/claim/", **ASYNC)
    assert refused.status_code == 409
    assert refused.json()["message"] == "今日领取额度已用完（已领 3 / 上限 3）。"
    assert Customer.objects.get(pk=pooled[3].pk).status == "pooled"


def test_a_claim_on_a_customer_someone_holds_names_the_holder(world: dict[str, Any]) -> None:
    held = world["held_b"][1]
    refused = signed_in(world["rep_a"]).post(f"/customers/{held.pk}/claim/", **ASYNC)
    assert refused.json()["message"] == "该客户已被 REP_B 领取。"


def test_a_claim_outside_the_reps_pools_is_refused(world: dict[str, Any]) -> None:
    south = intake.create_customer(
        actor=world["admin"], fields={"name": "广州珠江贸易有限公司"}, pool=world["south_pool"]
    ).customer
    refused = signed_in(world["rep_a"]).post(f"/customers/{south.pk}/claim/", **ASYNC)
    assert refused.json()["message"] == "您不是该公海的成员。"
    assert Customer.objects.get(pk=south.pk).status == "pooled"


def test_post_actions_require_a_csrf_token(world: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["rep_a"])
    target = world["target"]
    assert client.post(f"/customers/{target.pk}/claim/").status_code == 403
    assert Customer.objects.get(pk=target.pk).status == "pooled"
    client.get("/pool/")
    token = client.cookies["csrftoken"].value
    accepted = client.post(f"/customers/{target.pk}/claim/", {"csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert Customer.objects.get(pk=target.pk).owner == world["rep_a"]


def test_my_customers_show_the_countdown_and_the_warning_badge(world: dict[str, Any]) -> None:
    page = html(signed_in(world["rep_a"]).get("/mine/"))
    row = page[page.index("苏州博远电子有限公司") :]
    row = row[: row.index("</tr>")]
    assert "剩 11 小时" in row
    assert "data-warned" in row
    calm = page[page.index("宁波港联物流有限公司") :]
    assert "data-warned" not in calm[: calm.index("</tr>")]


def test_a_rep_sees_only_who_holds_another_reps_customer(world: dict[str, Any]) -> None:
    customer = world["held_b"][0]
    page = html(signed_in(world["rep_a"]).get(f"/customers/{customer.pk}/"))
    assert "data-public-card" in page and "REP_B" in page
    assert customer.phone and customer.phone not in page
    assert "data-timeline" not in page and 'id="deals"' not in page


def test_a_customer_outside_the_reps_pools_shows_its_pool(world: dict[str, Any]) -> None:
    south = intake.create_customer(
        actor=world["admin"],
        fields={"name": "深圳南山科技有限公司", "phone": "13600136999"},
        pool=world["south_pool"],
    ).customer
    page = html(signed_in(world["rep_a"]).get(f"/customers/{south.pk}/"))
    assert "data-public-card" in page and "华南公海" in page and "13600136999" not in page


def test_the_customer_page_says_why_it_is_mine_and_when_it_goes_back(
    world: dict[str, Any],
) -> None:
    customer = world["held_a"][1]
    page = html(signed_in(world["rep_a"]).get(f"/customers/{customer.pk}/"))
    due = timezone.localtime(Customer.objects.get(pk=customer.pk).recycle_due_at)
    assert "为什么归我？" in page
    assert "REP_A 于" in page and "登记创建" in page
    assert f"将于 {due:%Y-%m-%d %H:%M} 回收至本公海" in page
    assert "规则: 30 天无有效跟进" in page


def test_a_pooled_customer_page_is_masked_and_hides_follow_ups(world: dict[str, Any]) -> None:
    customer = world["held_a"][2]
    signed_in(world["rep_a"]).post(f"/customers/{customer.pk}/release/", {"reason": "客户暂无预算"})
    page = html(signed_in(world["rep_b"]).get(f"/customers/{customer.pk}/"))
    assert "脱敏显示" in page
    assert "136****0002" in page and "13611110002" not in page
    assert "微信发送报价单和行业案例" not in page
    assert "跟进内容仅负责人及其经理可见" in page


def test_logging_a_follow_up_restarts_the_countdown(world: dict[str, Any]) -> None:
    customer = world["held_a"][1]
    before = Customer.objects.get(pk=customer.pk).recycle_due_at
    response = signed_in(world["rep_a"]).post(
        f"/customers/{customer.pk}/activities/",
        {"kind": "call", "note": "电话确认预算", "next_contact_at": "2030-01-02T09:30"},
        follow=True,
    )
    after = Customer.objects.get(pk=customer.pk).recycle_due_at
    assert before is not None and after is not None and after > before + timedelta(days=29)
    assert messages_of(response) == [
        f"跟进已保存，回收倒计时已重新计算，到期时间为 {timezone.localtime(after):%Y-%m-%d %H:%M}。"
    ]
    activity = Activity.objects.get(customer=customer, note="电话确认预算")
    assert timezone.localtime(activity.next_contact_at).strftime("%Y-%m-%d %H:%M") == (
        "2030-01-02 09:30"
    )


def test_a_follow_up_in_the_future_is_refused(world: dict[str, Any]) -> None:
    customer = world["held_a"][1]
    response = signed_in(world["rep_a"]).post(
        f"/customers/{customer.pk}/activities/",
        {"kind": "call", "occurred_at": "2099-01-01T10:00"},
        follow=True,
    )
    assert messages_of(response) == ["跟进时间不能晚于现在。"]
    assert not Activity.objects.filter(customer=customer, occurred_at__year=2099).exists()


def test_contacts_and_deals_are_recorded_from_the_customer_page(world: dict[str, Any]) -> None:
    customer = world["held_a"][2]
    client = signed_in(world["rep_a"])
    client.post(
        f"/customers/{customer.pk}/contacts/",
        {"name": "王珂", "title": "采购经理", "phone": "13755556666", "is_primary": "on"},
    )
    client.post(f"/customers/{customer.pk}/deals/", {"amount": "88000", "stage": "proposal"})
    deal = Deal.objects.get(customer=customer, amount=88000)
    client.post(f"/customers/{customer.pk}/deals/{deal.pk}/", {"stage": "won"})
    assert Contact.objects.get(customer=customer, name="王珂").phones == ["13755556666"]
    assert Deal.objects.get(pk=deal.pk).stage == "won"
    page = html(client.get(f"/customers/{customer.pk}/"))
    assert "¥88,000.00" in page and "不会被自动回收" in page


def test_a_release_needs_a_reason_and_returns_the_customer(world: dict[str, Any]) -> None:
    customer = world["held_a"][2]
    client = signed_in(world["rep_a"])
    refused = client.post(f"/customers/{customer.pk}/release/", {"reason": ""}, follow=True)
    assert messages_of(refused) == ["请填写释放客户的原因。"]
    client.post(f"/customers/{customer.pk}/release/", {"reason": "客户已选择竞品"})
    released = Customer.objects.get(pk=customer.pk)
    assert (released.status, released.owner) == ("pooled", None)
    assert OwnershipEvent.objects.filter(customer=customer, kind="released").exists()


def test_a_rep_freezes_and_unfreezes_a_customer(world: dict[str, Any]) -> None:
    customer = world["held_a"][2]
    client = signed_in(world["rep_a"])
    until = (timezone.localtime() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/customers/{customer.pk}/freeze/", {"until": until, "reason": "等待招标"})
    assert Customer.objects.get(pk=customer.pk).status == "frozen"
    page = html(client.get(f"/customers/{customer.pk}/"))
    assert "冻结至" in page and "冻结期间不会回收" in page
    client.post(f"/customers/{customer.pk}/unfreeze/")
    assert Customer.objects.get(pk=customer.pk).status == "owned"


def test_a_rep_cannot_give_a_customer_away(world: dict[str, Any]) -> None:
    customer = world["held_a"][2]
    response = signed_in(world["rep_a"]).post(
        f"/customers/{customer.pk}/give/", {"owner": world["rep_b"].pk}, follow=True
    )
    assert messages_of(response) == ["只有该客户的主管经理可以执行此操作。"]
    assert Customer.objects.get(pk=customer.pk).owner == world["rep_a"]


def test_the_top_bar_counts_unread_notifications_and_marking_read_clears_them(
    world: dict[str, Any],
) -> None:
    client = signed_in(world["rep_a"])
    unread = Notification.objects.filter(recipient=world["rep_a"], read_at__isnull=True)
    count = unread.count()
    assert count >= 2
    assert f"data-unread>{count}</span>" in html(client.get("/"))
    first = unread.first()
    assert first is not None
    answer = client.post(f"/notifications/{first.pk}/read/", **ASYNC).json()
    assert answer["unread"] == count - 1
    client.post("/notifications/read-all/")
    assert not unread.exists()
    assert 'is-zero" data-unread>0</span>' in html(client.get("/notifications/"))


def test_a_rep_cannot_mark_someone_elses_notification(world: dict[str, Any]) -> None:
    theirs = Notification.objects.filter(recipient=world["rep_a"]).first()
    assert theirs is not None
    signed_in(world["rep_b"]).post(f"/notifications/{theirs.pk}/read/")
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_a_rep_registers_a_customer_as_their_own(world: dict[str, Any]) -> None:
    response = signed_in(world["rep_a"]).post(
        "/customers/new/",
        {
            "name": "杭州青山湖科技有限公司",
            "kind": "company",
            "level": "B",
            "source": "referral",
            "province": "浙江",
            "city": "杭州",
            "pool": world["east_pool"].pk,
        },
        follow=True,
    )
    created = Customer.objects.get(name="杭州青山湖科技有限公司")
    assert (created.owner, created.status) == (world["rep_a"], "owned")
    assert messages_of(response) == ["已登记 杭州青山湖科技有限公司。"]


def test_a_rep_at_the_cap_registers_into_the_pool_and_is_told(world: dict[str, Any]) -> None:
    pools.save_pool(world["east_pool"], claim_policy={"holding_cap": 2})
    response = signed_in(world["rep_a"]).post(
        "/customers/new/",
        {
            "name": "宁波北仑港务有限公司",
            "kind": "company",
            "level": "C",
            "source": "other",
            "pool": world["east_pool"].pk,
        },
        follow=True,
    )
    created = Customer.objects.get(name="宁波北仑港务有限公司")
    assert (created.owner, created.status) == (None, "pooled")
    assert messages_of(response) == [
        "您的客户数已达保有量上限，该客户已放入公海「华东公海」，暂未分配。"
    ]


@pytest.mark.parametrize("url", PAGES)
def test_pages_load_no_asset_from_the_network(world: dict[str, Any], url: str) -> None:
    page = html(signed_in(world["rep_a"]).get(url))
    assert "http://" not in page and "https://" not in page


def test_the_pages_speak_english_on_request(world: dict[str, Any]) -> None:
    client = signed_in(world["rep_a"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/mine/"})
    page = html(client.get("/mine/"))
    assert "Back to the pool in" in page and "Recycle soon" in page
    assert "回收倒计时" not in page


def _row(page: str, name: str) -> str:
    row = page[page.index(name) :]
    return row[: row.index("</tr>")]


def test_the_pool_list_shows_the_reps_pending_request_with_a_withdraw_button(
    world: dict[str, Any],
) -> None:
    request = world["request"]
    url = f"/pool/?pool={world['vip_pool'].pk}"
    mine = _row(html(signed_in(world["rep_b"]).get(url)), request.customer.name)
    assert f'data-pending="{request.customer_id}"' in mine
    assert f'action="/claim-requests/{request.pk}/withdraw/"' in mine
    assert f'data-claim="{request.customer_id}"' not in mine
    others = _row(html(signed_in(world["rep_a"]).get(url)), request.customer.name)
    assert f'data-claim="{request.customer_id}"' in others and "data-pending" not in others


def test_the_customer_page_shows_the_reps_pending_request(world: dict[str, Any]) -> None:
    request = world["request"]
    page = html(signed_in(world["rep_b"]).get(f"/customers/{request.customer_id}/"))
    assert f'data-pending="{request.customer_id}"' in page
    assert f'action="/claim-requests/{request.pk}/withdraw/"' in page
    assert f'data-claim="{request.customer_id}"' not in page
    other = html(signed_in(world["rep_a"]).get(f"/customers/{request.customer_id}/"))
    assert f'data-claim="{request.customer_id}"' in other and "data-pending" not in other


def test_a_claim_in_an_approval_pool_offers_a_reason_and_keeps_it(world: dict[str, Any]) -> None:
    customer = Customer.objects.get(name="江苏长江能源控股有限公司")
    client = signed_in(world["rep_a"])
    row = _row(html(client.get(f"/pool/?pool={world['vip_pool'].pk}")), customer.name)
    assert 'name="reason"' in row
    client.post(f"/customers/{customer.pk}/claim/", {"reason": "去年合作过"})
    assert ClaimRequest.objects.get(customer=customer, state="pending").reason == "去年合作过"


def test_a_pool_that_asks_for_a_reason_refuses_a_web_claim_without_one(
    world: dict[str, Any],
) -> None:
    ClaimPolicy.objects.filter(pool=world["vip_pool"]).update(requires_reason=True)
    customer = Customer.objects.get(name="江苏长江能源控股有限公司")
    client = signed_in(world["rep_a"])
    row = _row(html(client.get(f"/pool/?pool={world['vip_pool'].pk}")), customer.name)
    assert 'name="reason"' in row and "required" in row[row.index('name="reason"') :]
    refused = client.post(f"/customers/{customer.pk}/claim/", **ASYNC)
    assert refused.status_code == 409
    assert not ClaimRequest.objects.filter(customer=customer).exists()


def test_a_rep_withdraws_their_request_from_the_web(world: dict[str, Any]) -> None:
    request = world["request"]
    response = signed_in(world["rep_b"]).post(f"/claim-requests/{request.pk}/withdraw/", **ASYNC)
    assert response.status_code == 200
    assert response.json()["state"] == "withdrawn"
    assert ClaimRequest.objects.get(pk=request.pk).state == "withdrawn"
    page = html(signed_in(world["rep_b"]).get(f"/customers/{request.customer_id}/"))
    assert f'data-claim="{request.customer_id}"' in page and "data-pending" not in page


def test_another_rep_cannot_withdraw_a_request_from_the_web(world: dict[str, Any]) -> None:
    request = world["request"]
    response = signed_in(world["rep_a"]).post(f"/claim-requests/{request.pk}/withdraw/", **ASYNC)
    assert response.status_code == 409
    assert ClaimRequest.objects.get(pk=request.pk).state == "pending"


def test_an_approved_claim_says_who_asked_and_who_approved(world: dict[str, Any]) -> None:
    request = world["request"]
    signed_in(world["east_manager"]).post(f"/console/approvals/{request.pk}/approve/")
    client = signed_in(world["rep_b"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = html(client.get(f"/customers/{request.customer_id}/"))
    why = page[page.index("data-why") :]
    why = why[: why.index("</p>")]
    assert "REP_B claimed it from 华东重点客户池" in why
    assert "approved by MGR_EAST" in why
    assert "MGR_EAST claimed it" not in why


def test_my_customers_filtered_by_a_name_show_what_the_search_indexes_match(
    world: dict[str, Any], make_customer: Any
) -> None:
    """The mine page tests each of the rep's own rows for the name where it stands
    (``customers.search.row_name_filter``), and shows exactly the rows the search indexes'
    ``name_filter`` gives among them: one and two characters, pinyin, initials and longer
    texts, and never another rep's customer."""
    rep, other = world["rep_a"], world["rep_b"]
    for name in (
        "杭州云栖科技有限公司",
        "科技园区服务有限公司",
        "华为技术有限公司",
        "上海数科网络公司",
    ):
        make_customer(world["east_manager"], owner=rep, name=name)
    make_customer(world["east_manager"], owner=other, name="深圳腾讯科技有限公司")
    client = signed_in(rep)
    mine = Customer.objects.filter(owner=rep, status__in=["owned", "frozen"])
    for text in ("科技", "技", "huawei", "hw", "云栖科技", "科技有限", "数科", "腾讯", "zzz"):
        shown = {row.id for row in client.get("/mine/", {"q": text}).context["page"].object_list}
        expected = set(mine.filter(name_filter(text)).values_list("pk", flat=True))
        assert shown == expected, text
    assert len({r.id for r in client.get("/mine/", {"q": "科技"}).context["page"].object_list}) >= 2
    assert not client.get("/mine/", {"q": "腾讯"}).context["page"].object_list
