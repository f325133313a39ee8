"""Insights over a small book built through the services: each figure is computed here by
hand from what the book holds and compared exactly; scoping by role; rescore changes levels
through the edit service (audit row, schedule recomputed) and a dry run writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from highseas.accounts.models import AuditLog
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.insights.breakdowns import breakdown, claim_effectiveness
from highseas.insights.performance import fairness, rep_figures, window
from highseas.insights.value import rescore
from highseas.pools import followups, ownership
from highseas.pools.models import RecyclePolicy
from highseas.pools.sweep import Scope, sweep

NOW = timezone.now().replace(microsecond=0)


def day(n: float) -> datetime:
    return NOW - timedelta(days=n)


SINCE, UNTIL = day(20), day(1)


def by_hand_gini(values: list[int]) -> float:
    """Mean absolute difference over twice the mean, pair by pair."""
    n, total = len(values), sum(values)
    if not n or not total:
        return 0.0
    return sum(abs(a - b) for a in values for b in values) / (2 * n * total)


@pytest.fixture
def book(
    org: dict[str, Any], make_pool: Callable[..., Any], make_customer: Callable[..., Customer]
) -> dict[str, Any]:
    """rep_a, rep_b (east) and rep_c (south), over the window [day 20, day 1)."""
    admin, manager = org["admin"], org["east_manager"]
    rep_a, rep_b, rep_c = org["rep_a"], org["rep_b"], org["rep_c"]
    east, south = org["east_pool"], org["south_pool"]
    RecyclePolicy.objects.filter(pool=east).update(idle_days=90, exempt_levels=["A"])
    short = make_pool("短期公海", teams=[org["east"]], recycle_policy={"idle_days": 5})

    def pooled(pool: Any = east, **fields: Any) -> Customer:
        return make_customer(admin, pool=pool, now=day(70), **fields)

    def touch(rep: Any, customer: Customer, at: datetime, kind: str = "call") -> None:
        followups.log_activity(rep, customer.pk, kind=kind, occurred_at=at, now=at)

    def deal(rep: Any, customer: Customer, amount: int, stage: str, at: datetime) -> None:
        followups.open_deal(rep, customer.pk, amount=Decimal(amount), stage=stage, now=at)

    c1 = pooled(level="A")  # rep_a since day 30: followed, won 50000
    ownership.claim(rep_a, c1.pk, now=day(30))
    touch(rep_a, c1, day(10))
    deal(rep_a, c1, 50_000, "won", day(8))
    c2 = pooled()  # claimed in the window, first contact after 6 hours, lost
    ownership.claim(rep_a, c2.pk, now=day(15))
    touch(rep_a, c2, day(15) + timedelta(hours=6), "visit")
    deal(rep_a, c2, 8_000, "lost", day(5))
    c3 = pooled()  # assigned in the window, first contact after 30 hours, won 20000
    ownership.assign(manager, c3.pk, rep_a, now=day(12))
    touch(rep_a, c3, day(12) + timedelta(hours=30))
    deal(rep_a, c3, 20_000, "won", day(3))
    c4 = pooled(short)  # claimed in the window, never touched, recycled on day 6
    ownership.claim(rep_a, c4.pk, now=day(18))
    c5 = pooled()  # rep_a's for 60 days without a follow-up: hoarded
    ownership.claim(rep_a, c5.pk, now=day(60))
    c6 = pooled(level="A")  # rep_b's since day 25, touched before the window only
    ownership.claim(rep_b, c6.pk, now=day(25))
    touch(rep_b, c6, day(21))
    c7 = pooled()  # claimed by rep_a (touched after 1 hour), transferred to rep_b on day 9
    ownership.claim(rep_a, c7.pk, now=day(19))
    touch(rep_a, c7, day(19) + timedelta(hours=1))
    ownership.transfer(manager, c7.pk, rep_b, now=day(9))
    touch(rep_b, c7, day(9) + timedelta(hours=2))
    c8 = pooled(south)  # rep_c: claimed and won in the window
    ownership.claim(rep_c, c8.pk, now=day(5))
    deal(rep_c, c8, 10_000, "won", day(4))
    swept = sweep(now=day(6), scope=Scope(pool_id=short.pk))
    assert [item.customer for item in swept.recycled] == [c4.pk]
    names = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"]
    customers = dict(zip(names, [c1, c2, c3, c4, c5, c6, c7, c8], strict=True))
    return {**org, **customers, "short": short}


def rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["username"]: row for row in report["reps"]}


@pytest.mark.django_db
class TestRepFigures:
    def test_each_figure_matches_the_book(self, book: dict[str, Any]) -> None:
        found = rows(rep_figures(Viewer(book["admin"]), since=SINCE, until=UNTIL))
        # rep_a holds c1 c2 c3 c5 (c4 recycled, c7 transferred); claimed c2 c4 c7 in the
        # window; held c1..c5 and c7 in it, touched c1 c2 c3 c7; won c1 c3, lost c2;
        # gains c2 (6 h), c3 (30 h), c4 (never), c7 (1 h).
        assert found["rep_a"] == {
            "rep": book["rep_a"].pk,
            "username": "rep_a",
            "display_name": "REP_A",
            "holdings": 4,
            "claims": 3,
            "recycled": 1,
            "follow_up_rate": 4 / 6,
            "won": 2,
            "lost": 1,
            "win_rate": 2 / 3,
            "revenue": Decimal(70_000),
            "median_hours_to_first_contact": 6.0,
        }
        # rep_b holds c6 c7; held both in the window, touched c7 only; gained c7 (2 h).
        assert {
            k: found["rep_b"][k] for k in found["rep_b"] if k not in ("rep", "display_name")
        } == {
            "username": "rep_b",
            "holdings": 2,
            "claims": 0,
            "recycled": 0,
            "follow_up_rate": 1 / 2,
            "won": 0,
            "lost": 0,
            "win_rate": None,
            "revenue": Decimal(0),
            "median_hours_to_first_contact": 2.0,
        }
        # rep_c holds c8, claimed and won it, never touched it.
        assert (found["rep_c"]["holdings"], found["rep_c"]["claims"]) == (1, 1)
        assert (found["rep_c"]["follow_up_rate"], found["rep_c"]["win_rate"]) == (0.0, 1.0)
        assert found["rep_c"]["median_hours_to_first_contact"] is None

    def test_the_window_excludes_its_end(self, book: dict[str, Any]) -> None:
        found = rows(rep_figures(Viewer(book["admin"]), since=SINCE, until=day(8)))
        assert (found["rep_a"]["won"], found["rep_a"]["revenue"]) == (0, Decimal(0))
        found = rows(
            rep_figures(Viewer(book["admin"]), since=SINCE, until=day(8) + timedelta(seconds=1))
        )
        assert (found["rep_a"]["won"], found["rep_a"]["revenue"]) == (1, Decimal(50_000))

    def test_a_manager_sees_the_reps_of_their_subtree(self, book: dict[str, Any]) -> None:
        east = rows(rep_figures(Viewer(book["east_manager"]), since=SINCE, until=UNTIL))
        south = rows(rep_figures(Viewer(book["south_manager"]), since=SINCE, until=UNTIL))
        assert (sorted(east), sorted(south)) == (["rep_a", "rep_b"], ["rep_c"])

    def test_a_rep_reads_only_their_own_row(self, book: dict[str, Any]) -> None:
        found = rep_figures(Viewer(book["rep_b"]), since=SINCE, until=UNTIL)
        assert [row["username"] for row in found["reps"]] == ["rep_b"]

    def test_a_reversed_window_names_until(self, book: dict[str, Any]) -> None:
        with pytest.raises(HighSeasError) as refused:
            rep_figures(Viewer(book["admin"]), since=UNTIL, until=SINCE)
        assert refused.value.code == ErrorCode.VALIDATION_ERROR
        assert list(refused.value.facts["errors"]) == ["until"]

    def test_the_default_window_is_the_last_thirty_calendar_days(self) -> None:
        span = window(now=NOW)
        today = timezone.localtime(NOW).replace(hour=0, minute=0, second=0, microsecond=0)
        assert (span.since, span.until) == (today - timedelta(days=29), NOW)
        # with only ``until`` given, the 30 days before it, to the second
        assert window(until=NOW).since == NOW - timedelta(days=30)


@pytest.mark.django_db
class TestFairness:
    def test_gini_and_hoarding_match_the_book(self, book: dict[str, Any]) -> None:
        found = fairness(Viewer(book["admin"]), since=SINCE, until=UNTIL)
        assert found["gini_holdings"] == pytest.approx(by_hand_gini([4, 2, 1]), abs=1e-12)
        # new in the window: rep_a claimed c2 c4 c7 and was assigned c3; rep_c claimed c8
        assert found["gini_new"] == pytest.approx(by_hand_gini([4, 0, 1]), abs=1e-12)
        assert found["hoarding"]["total"] == 1
        assert [(r["username"], r["hoarded"]) for r in found["hoarding"]["reps"]] == [("rep_a", 1)]

    def test_reps_with_nothing_count_in_the_gini(
        self, book: dict[str, Any], make_user: Callable[..., Any]
    ) -> None:
        make_user("rep", "rep_idle", team=book["east"])
        found = fairness(Viewer(book["east_manager"]), since=SINCE, until=UNTIL)
        assert found["reps"] == 3
        assert found["gini_holdings"] == pytest.approx(by_hand_gini([4, 2, 0]), abs=1e-12)

    def test_the_other_manager_sees_none_of_these_reps(self, book: dict[str, Any]) -> None:
        found = fairness(Viewer(book["south_manager"]), since=SINCE, until=UNTIL)
        assert (found["reps"], found["hoarding"]["total"]) == (1, 0)

    def test_a_rep_is_refused(self, book: dict[str, Any]) -> None:
        with pytest.raises(HighSeasError) as refused:
            fairness(Viewer(book["rep_a"]), since=SINCE, until=UNTIL)
        assert refused.value.code == ErrorCode.PERMISSION_DENIED


def by_hand_score(wins: int, amount: int, days: float) -> float:
    return round(
        100
        * (0.3 * (1 - days / 365) + 0.3 * wins / (wins + 2) + 0.4 * amount / (amount + 100_000)),
        2,
    )


@pytest.fixture
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.mark.django_db
@pytest.mark.usefixtures("english")
class TestRescore:
    def expected(self, book: dict[str, Any], names: list[str]) -> list[dict[str, Any]]:
        # c1: A -> B (one win of 50000, 8 days ago); c3: C -> B (20000, 3 days ago);
        # c6: A -> C (no win); c8: C -> B (10000, 4 days ago); the others stay C
        scores = {"c1": by_hand_score(1, 50_000, 8), "c3": by_hand_score(1, 20_000, 3)}
        scores |= {"c6": 0.0, "c8": by_hand_score(1, 10_000, 4)}
        moves = {"c1": ("A", "B"), "c3": ("C", "B"), "c6": ("A", "C"), "c8": ("C", "B")}
        reasons = {
            "c1": "1 win in the last 12 months, ¥50,000 in all",
            "c3": "1 win in the last 12 months, ¥20,000 in all",
            "c6": "no win in the last 12 months",
            "c8": "1 win in the last 12 months, ¥10,000 in all",
        }
        return [
            {"customer": book[n].pk, "from": moves[n][0], "to": moves[n][1], "score": scores[n]}
            | {"reason": reasons[n]}
            for n in names
        ]

    def test_levels_change_with_an_audit_row_and_a_new_schedule(self, book: dict[str, Any]) -> None:
        before = Customer.objects.get(pk=book["c6"].pk)
        assert before.recycle_due_at is None  # A is exempt in the east pool
        found = rescore(Viewer(book["admin"]), now=NOW)
        assert found["changes"] == self.expected(book, ["c1", "c3", "c6", "c8"])
        levels = dict(Customer.objects.values_list("pk", "level"))
        assert [levels[book[n].pk] for n in ("c1", "c3", "c6", "c8")] == ["B", "B", "C", "B"]
        after = Customer.objects.get(pk=book["c6"].pk)
        assert after.recycle_due_at == day(21) + timedelta(days=90)
        audited = AuditLog.objects.filter(action=AuditLog.Action.CUSTOMER_EDIT)
        assert sorted(
            (row.target_id, row.detail["before"], row.detail["after"]) for row in audited
        ) == sorted((str(c["customer"]), c["from"], c["to"]) for c in found["changes"])

    def test_a_dry_run_writes_nothing(self, book: dict[str, Any]) -> None:
        levels = dict(Customer.objects.values_list("pk", "level"))
        found = rescore(Viewer(book["admin"]), now=NOW, dry_run=True)
        assert found["changes"] == self.expected(book, ["c1", "c3", "c6", "c8"])
        assert dict(Customer.objects.values_list("pk", "level")) == levels
        assert not AuditLog.objects.filter(action=AuditLog.Action.CUSTOMER_EDIT).exists()

    def test_a_manager_rescores_their_subtree_only(self, book: dict[str, Any]) -> None:
        found = rescore(Viewer(book["east_manager"]), now=NOW)
        assert found["changes"] == self.expected(book, ["c1", "c3", "c6"])
        assert Customer.objects.get(pk=book["c8"].pk).level == "C"

    def test_a_second_rescore_changes_nothing(self, book: dict[str, Any]) -> None:
        rescore(Viewer(book["admin"]), now=NOW)
        assert rescore(Viewer(book["admin"]), now=NOW)["changes"] == []

    def test_a_rep_is_refused_and_nothing_changes(self, book: dict[str, Any]) -> None:
        levels = dict(Customer.objects.values_list("pk", "level"))
        with pytest.raises(HighSeasError) as refused:
            rescore(Viewer(book["rep_a"]), now=NOW)
        assert refused.value.code == ErrorCode.PERMISSION_DENIED
        assert dict(Customer.objects.values_list("pk", "level")) == levels


@pytest.mark.django_db
class TestBreakdowns:
    """Gains in [day 20, day 1): rep_a c2 (6 h, lost), c3 (30 h, won 20000), c4 (never
    contacted), c7 (1 h); rep_b c7 by transfer (2 h); rep_c c8 (never contacted, won 10000)."""

    def label(self, book: dict[str, Any]) -> None:
        for name, source, industry, province in (
            ("c2", "website", "制造业", "浙江"),
            ("c3", "website", "制造业", "上海"),
            ("c4", "referral", "", "浙江"),
            ("c7", "exhibition", "零售", "浙江"),
            ("c8", "website", "零售", "广东"),
        ):
            Customer.objects.filter(pk=book[name].pk).update(
                source=source, industry=industry, province=province
            )

    def test_by_rep_matches_the_book(self, book: dict[str, Any]) -> None:
        found = breakdown(Viewer(book["admin"]), by="rep", since=SINCE, until=UNTIL)
        assert found["groups"] == [
            {
                "key": "rep_a",
                "gains": 4,
                "won": 1,
                "conversion": 0.25,
                "revenue": Decimal(20_000),
                "median_hours_to_first_contact": 6.0,
            },
            {
                "key": "rep_b",
                "gains": 1,
                "won": 0,
                "conversion": 0.0,
                "revenue": Decimal(0),
                "median_hours_to_first_contact": 2.0,
            },
            {
                "key": "rep_c",
                "gains": 1,
                "won": 1,
                "conversion": 1.0,
                "revenue": Decimal(10_000),
                "median_hours_to_first_contact": None,
            },
        ]

    def test_by_first_touch_channel(self, book: dict[str, Any]) -> None:
        self.label(book)
        found = breakdown(Viewer(book["admin"]), by="source", since=SINCE, until=UNTIL)
        # website: c2 c3 c8 (won c3 c8); exhibition: c7 twice (rep_a and rep_b); referral: c4
        assert [(g["key"], g["gains"], g["won"], g["revenue"]) for g in found["groups"]] == [
            ("website", 3, 2, Decimal(30_000)),
            ("exhibition", 2, 0, Decimal(0)),
            ("referral", 1, 0, Decimal(0)),
        ]
        assert found["groups"][0]["median_hours_to_first_contact"] == 18.0  # 6 h and 30 h

    def test_by_industry_and_region(self, book: dict[str, Any]) -> None:
        self.label(book)
        admin = Viewer(book["admin"])
        industry = breakdown(admin, by="industry", since=SINCE, until=UNTIL)["groups"]
        region = breakdown(admin, by="region", since=SINCE, until=UNTIL)["groups"]
        assert [(g["key"], g["gains"], g["won"]) for g in industry] == [
            ("零售", 3, 1),
            ("制造业", 2, 1),
            ("", 1, 0),
        ]
        assert [(g["key"], g["gains"], g["won"]) for g in region] == [
            ("浙江", 4, 0),
            ("上海", 1, 1),
            ("广东", 1, 1),
        ]

    def test_by_team_within_a_managers_subtree(self, book: dict[str, Any]) -> None:
        found = breakdown(Viewer(book["east_manager"]), by="team", since=SINCE, until=UNTIL)
        assert [(g["key"], g["gains"], g["won"]) for g in found["groups"]] == [
            (book["east"].name, 5, 1)
        ]

    def test_an_unknown_grouping_names_by(self, book: dict[str, Any]) -> None:
        with pytest.raises(HighSeasError) as refused:
            breakdown(Viewer(book["admin"]), by="colour", since=SINCE, until=UNTIL)
        assert list(refused.value.facts["errors"]) == ["by"]

    def test_a_rep_is_refused(self, book: dict[str, Any]) -> None:
        with pytest.raises(HighSeasError) as refused:
            breakdown(Viewer(book["rep_a"]), by="rep", since=SINCE, until=UNTIL)
        assert refused.value.code == ErrorCode.PERMISSION_DENIED


@pytest.mark.django_db
class TestClaimEffectiveness:
    def test_each_claims_fate_matches_the_book(self, book: dict[str, Any]) -> None:
        found = rows(claim_effectiveness(Viewer(book["admin"]), since=SINCE, until=UNTIL))
        # rep_a claimed c2 (contacted, lost), c4 (never contacted, recycled), c7 (contacted,
        # transferred: not a return); rep_c claimed c8 (never contacted, won)
        pick = ("claims", "contacted", "won", "returned", "contact_rate", "return_rate")
        assert {k: found["rep_a"][k] for k in pick} == dict(
            zip(pick, (3, 2, 0, 1, 2 / 3, 1 / 3), strict=True)
        )
        assert found["rep_b"]["claims"] == 0 and found["rep_b"]["win_rate"] is None
        assert {k: found["rep_c"][k] for k in pick} == dict(
            zip(pick, (1, 0, 1, 0, 0.0, 0.0), strict=True)
        )

    def test_a_rep_is_refused(self, book: dict[str, Any]) -> None:
        with pytest.raises(HighSeasError) as refused:
            claim_effectiveness(Viewer(book["rep_a"]), since=SINCE, until=UNTIL)
        assert refused.value.code == ErrorCode.PERMISSION_DENIED


@pytest.mark.django_db
class TestFairnessMore:
    def test_the_gini_of_claims(self, book: dict[str, Any]) -> None:
        found = fairness(Viewer(book["admin"]), since=SINCE, until=UNTIL)
        assert found["gini_claims"] == pytest.approx(by_hand_gini([3, 0, 1]), abs=1e-12)

    def test_a_customer_bouncing_between_pool_and_reps(
        self, book: dict[str, Any], make_customer: Callable[..., Customer]
    ) -> None:
        ball = make_customer(book["admin"], pool=book["east_pool"], now=day(30), name="皮球公司")
        for rep, start in ((book["rep_a"], 17), (book["rep_b"], 15), (book["rep_b"], 2)):
            ownership.claim(rep, ball.pk, now=day(start))
            ownership.release(rep, ball.pk, reason="没有需求", now=day(start - 0.5))
        found = fairness(Viewer(book["east_manager"]), since=SINCE, until=UNTIL)["bouncing"]
        # three returns in the window (day 16.5, 14.5, 1.5) from two reps; c4's one does not count
        assert found == {
            "min_returns": 2,
            "total": 1,
            "customers": [{"customer": ball.pk, "name": "皮球公司", "returns": 3, "reps": 2}],
        }
