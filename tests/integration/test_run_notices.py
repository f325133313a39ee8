"""An assignment run tells each receiver once, however many batches it takes (a run whose
batches shrink while claims wait has many): one notification per run and rep that each batch
adds to, in the batch's transaction (``notify.services.notify_tallies``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from highseas.customers.models import Customer
from highseas.notify.models import Delivery, Notification
from highseas.notify.outbox import deliver_due
from highseas.notify.services import TALLY_QUIET, Tally, notify_tallies
from highseas.routing.models import AssignmentRule
from highseas.routing.runs import ApplyMode
from highseas.routing.services import run_assignment

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _given(user_id: int) -> list[Notification]:
    return list(Notification.objects.filter(recipient_id=user_id, kind="assigned"))


def _backlog_and_a_rule(
    org: dict[str, Any], make_customer: Callable[..., Customer], count: int
) -> list[Customer]:
    """``count`` pooled customers of the east pool, then a rule giving them to its reps in
    turn (made after them, so none is routed on create)."""
    customers = [
        make_customer(org["admin"], pool=org["east_pool"], now=NOW - timedelta(days=1))
        for _ in range(count)
    ]
    AssignmentRule.objects.create(
        name="东区轮流",
        position=1,
        conditions={},
        target={"team": org["east"].pk, "strategy": "round_robin"},
    )
    return customers


def test_a_run_of_several_batches_tells_each_rep_once_with_the_total(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customers = _backlog_and_a_rule(org, make_customer, 14)
    result = run_assignment(
        org["admin"],
        pool=org["east_pool"],
        dry_run=False,
        now=NOW,
        seed=3,
        batch_size=4,
        apply_mode=ApplyMode.BULK,
    )
    assert result.run.batches == 4 and result.run.assigned == 14
    by_rep: dict[int, list[int]] = {}
    for decision in result.decisions:
        assert decision.owner_id is not None
        by_rep.setdefault(decision.owner_id, []).append(decision.customer_id)
    assert len(by_rep) == 2  # rep_a and rep_b, in turn
    names = {c.pk: c.name for c in customers}
    for rep_id, given in by_rep.items():
        (notice,) = _given(rep_id)
        assert notice.params["tally"]["count"] == len(given) == 7
        assert str(len(given)) in notice.title
        assert notice.body == "、".join(names[pk] for pk in given[:5]) + "…"
        assert notice.customer_id is None and notice.read_at is None
        assert notice.dedupe_key == f"assignment-run:{result.run.pk}:{rep_id}"

    # a customer created now is routed by a run of its own, which tells its rep on its own
    again = make_customer(org["admin"], pool=org["east_pool"], now=NOW)
    again.refresh_from_db()
    assert again.owner_id in by_rep
    newest = Notification.objects.filter(recipient_id=again.owner_id).latest("pk")
    assert newest.kind == "assigned" and newest.customer_id == again.pk
    assert len(_given(again.owner_id)) == 2


def test_a_tally_read_between_two_parts_comes_back_unread_and_keeps_its_time(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    rep = org["rep_a"]
    first = make_customer(org["admin"], pool=org["east_pool"])

    def title(total: int) -> str:
        return f"{total} given"

    notify_tallies("assigned", [Tally(rep.pk, "job:1:rep", 1, [first.name], first.pk)], title)
    (notice,) = _given(rep.pk)
    assert (notice.title, notice.customer_id, notice.body) == ("1 given", first.pk, first.name)
    Notification.objects.filter(pk=notice.pk).update(
        read_at=NOW, created_at=NOW - timedelta(hours=1)
    )
    notify_tallies("assigned", [Tally(rep.pk, "job:1:rep", 6, list("一二三四五六"))], title)
    (grown,) = _given(rep.pk)
    assert grown.pk == notice.pk and grown.title == "7 given"
    assert grown.body == f"{first.name}、一、二、三、四…"
    assert grown.read_at is None and grown.customer_id is None
    # its time stays the first's: a daily digest gathers notifications by it
    assert grown.created_at == NOW - timedelta(hours=1)


def test_each_rep_s_e_mail_of_a_run_goes_once_after_its_last_batch_with_the_total(
    org: dict[str, Any],
    make_customer: Callable[..., Customer],
    emailing: None,
    mailoutbox: list[mail.EmailMessage],
) -> None:
    _backlog_and_a_rule(org, make_customer, 8)
    before = timezone.now()
    result = run_assignment(
        org["admin"], pool=org["east_pool"], dry_run=False, now=NOW, seed=3, batch_size=2
    )
    after = timezone.now()
    assert result.run.batches == 4
    queued = sorted(Delivery.objects.values_list("notification__recipient_id", "channel"))
    assert queued == sorted([(org["rep_a"].pk, "email"), (org["rep_b"].pk, "email")])
    # each pushed ahead by the last batch that added to it
    for due in Delivery.objects.values_list("next_attempt_at", flat=True):
        assert before + TALLY_QUIET <= due <= after + TALLY_QUIET

    assert deliver_due(after)["delivered"] == 0  # the run might still be adding
    assert deliver_due(after + TALLY_QUIET)["delivered"] == 2
    assert sorted(m.to[0] for m in mailoutbox) == ["rep_a@example.com", "rep_b@example.com"]
    for message in mailoutbox:
        assert "4" in message.subject  # 4 each, not the first batch's 1
