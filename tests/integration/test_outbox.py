"""The outbox of e-mail and webhook deliveries: queued with the notification, sent by workers,
retried with back-off, never lost, never sent twice — even by workers draining at once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone
from pytest_django.fixtures import Settings

from highseas.customers.models import Customer
from highseas.notify import outbox
from highseas.notify.models import Delivery, Notification
from highseas.notify.outbox import LEASE, MAX_ATTEMPTS, deliver_due, record, retry_delay, take_due
from highseas.notify.services import notify
from highseas.pools.models import Pool, RecyclePolicy
from highseas.pools.sweep import sweep

NOTHING = {"delivered": 0, "retrying": 0, "failed": 0}


def queued_at() -> datetime:
    return Delivery.objects.order_by("pk").values_list("next_attempt_at", flat=True)[0]


@pytest.mark.django_db
def test_a_rolled_back_notification_queues_nothing(org: dict[str, Any], emailing: None) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        notify(org["rep_a"].pk, "test", "不会发出")
        assert Delivery.objects.count() == 1
        raise RuntimeError("the business change failed")
    assert (Notification.objects.count(), Delivery.objects.count()) == (0, 0)


@pytest.mark.django_db
def test_the_sweep_queues_the_owner_s_e_mail_and_sends_none_itself(
    org: dict[str, Any],
    emailing: None,
    make_customer: Callable[..., Customer],
    mailoutbox: list[mail.EmailMessage],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    start = timezone.now() - timedelta(days=30)
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=7)
    pool = Pool.objects.get(pk=org["east_pool"].pk)
    make_customer(org["admin"], owner=org["rep_a"], pool=pool, now=start)
    with django_capture_on_commit_callbacks(execute=True):
        assert len(sweep(timezone.now()).recycled) == 1
    assert mailoutbox == []
    (delivery,) = Delivery.objects.all()
    assert (delivery.channel, delivery.target, delivery.state) == (
        "email",
        "rep_a@example.com",
        "pending",
    )
    assert deliver_due() == {**NOTHING, "delivered": 1}
    assert [m.to for m in mailoutbox] == [["rep_a@example.com"]]
    assert (
        mailoutbox[0].extra_headers["Message-ID"].startswith(f"<highseas-delivery-{delivery.pk}@")
    )


@pytest.mark.django_db
def test_a_taken_delivery_is_due_for_nobody_else_until_its_lease_ends(
    org: dict[str, Any], emailing: None, mailoutbox: list[mail.EmailMessage]
) -> None:
    notify(org["rep_a"].pk, "test", "租约")
    at = queued_at()
    (taken,) = take_due(at)
    assert taken.attempts == 1
    assert take_due(at + LEASE - timedelta(seconds=1)) == []
    assert deliver_due(at + LEASE - timedelta(seconds=1)) == NOTHING
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_worker_killed_before_sending_leaves_it_to_the_next_after_the_lease(
    org: dict[str, Any], emailing: None, mailoutbox: list[mail.EmailMessage]
) -> None:
    notify(org["rep_a"].pk, "test", "接手")
    at = queued_at()
    (lost,) = take_due(at)  # the worker that took it dies here
    assert deliver_due(at + LEASE) == {**NOTHING, "delivered": 1}
    assert len(mailoutbox) == 1
    assert record(lost, None, at + LEASE) == "lost_lease"  # a late report changes nothing
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.sent_at) == ("sent", 2, at + LEASE)


@pytest.mark.django_db
def test_a_failing_channel_backs_off_then_gives_up_and_keeps_the_delivery(
    org: dict[str, Any], emailing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "send", lambda delivery: "SMTPServerDisconnected: gone")
    notify(org["rep_a"].pk, "test", "重试")
    at = queued_at()
    waits = []
    for _attempt in range(1, MAX_ATTEMPTS):
        assert deliver_due(at) == {**NOTHING, "retrying": 1}
        next_at = Delivery.objects.get().next_attempt_at
        waits.append(next_at - at)
        assert deliver_due(next_at - timedelta(microseconds=1)) == NOTHING
        at = next_at
    assert waits == [retry_delay(n) for n in range(1, MAX_ATTEMPTS)]
    assert waits[:3] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert deliver_due(at) == {**NOTHING, "failed": 1}
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert delivery.last_error == "SMTPServerDisconnected: gone"
    assert deliver_due(at + timedelta(days=30)) == NOTHING


@pytest.mark.django_db
def test_a_channel_that_recovers_sends_once(
    org: dict[str, Any], emailing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[int] = []
    outcomes = iter(["timed out", None])

    def flaky(delivery: Delivery) -> str | None:
        outcome = next(outcomes)
        if outcome is None:
            sent.append(delivery.pk)
        return outcome

    monkeypatch.setattr(outbox, "send", flaky)
    notify(org["rep_a"].pk, "test", "恢复")
    at = queued_at()
    assert deliver_due(at) == {**NOTHING, "retrying": 1}
    assert deliver_due(at + retry_delay(1)) == {**NOTHING, "delivered": 1}
    assert deliver_due(at + timedelta(days=1)) == NOTHING
    assert sent == [Delivery.objects.get().pk]
    assert Delivery.objects.get().last_error == ""


@pytest.mark.django_db(transaction=True)
def test_workers_draining_at_once_send_each_delivery_exactly_once(
    org: dict[str, Any], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HIGHSEAS_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    sent: list[int] = []
    lock = threading.Lock()

    def post(delivery: Delivery) -> str | None:
        with lock:
            sent.append(delivery.pk)
        return None

    monkeypatch.setattr(outbox, "send", post)
    for index in range(120):
        notify(org["rep_a" if index % 2 else "rep_b"].pk, "test", f"通知{index}")
    barrier = threading.Barrier(4)
    crashes: list[BaseException] = []

    def drain() -> None:
        try:
            barrier.wait(timeout=30)
            while deliver_due(batch_size=7)["delivered"]:
                pass
        except BaseException as crash:  # reported by the assertion below
            crashes.append(crash)
        finally:
            connection.close()

    workers = [threading.Thread(target=drain) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert crashes == []
    assert Counter(sent) == Counter(Delivery.objects.values_list("pk", flat=True))
    assert len(sent) == 120
    assert set(Delivery.objects.values_list("state", "attempts")) == {("sent", 1)}
