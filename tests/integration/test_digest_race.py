"""Two workers running the digest job at the same moment send each user's digest once: two
threads, and two processes, each with its own database connection, released together."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from highseas.accounts.models import Role, User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.notify import texts
from highseas.notify.digest import send_due_digests
from highseas.notify.models import Delivery, Notification, NotificationPreference
from highseas.notify.preferences import save_preferences
from highseas.notify.services import notify
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)

REPS = 12


@pytest.fixture
def due(
    settings: Any,
    org: dict[str, Any],
    make_user: Callable[..., User],
    make_customer: Callable[..., Customer],
) -> datetime:
    """Twelve reps with e-mail, each warned of two customers, all with the same digest time."""
    settings.HIGHSEAS_EMAIL_NOTIFICATIONS = True
    settings.HIGHSEAS_WEBHOOK_URL = ""
    now = timezone.now()
    moments = set()
    for index in range(REPS):
        rep = make_user(Role.REP, f"racer{index}", team=org["east"])
        rep.email = f"racer{index}@example.com"
        rep.save(update_fields=["email"])
        save_preferences(Viewer(rep), rep.pk, {}, now)
        moments.add(NotificationPreference.objects.get(pk=rep.pk).next_digest_at)
        for _ in range(2):
            customer = make_customer(org["admin"], owner=rep)
            notify(
                rep.pk,
                "recycle_warning",
                texts.SystemText(texts.WILL_RECYCLE, {"customer": customer.name}),
                customer_id=customer.pk,
            )
    (moment,) = moments
    assert moment is not None
    return moment


def assert_once_each() -> None:
    digests = Notification.objects.filter(kind="digest")
    per_user = list(digests.values_list("recipient__username", flat=True))
    assert sorted(per_user) == sorted(f"racer{i}" for i in range(REPS))
    assert Delivery.objects.filter(notification__kind="digest").count() == REPS
    assert not Delivery.objects.exclude(notification__kind="digest").exists()


def test_two_threads_send_each_digest_once(due: datetime) -> None:
    sent: list[dict[str, int]] = [{}, {}]

    def work(index: int) -> None:
        sent[index] = send_due_digests(due + timedelta(minutes=1))

    assert race(2, work) == {"ok": 2}
    assert_once_each()
    assert sent[0]["sent"] + sent[1]["sent"] == REPS


def _worker(moment: datetime, start: Any, results: Any) -> None:
    connection.close()  # the forked child opens its own connection
    try:
        connection.ensure_connection()
        start.wait(timeout=30)
        results.put(send_due_digests(moment))
    except Exception as crash:  # reported through the queue, never swallowed
        results.put({"crash": repr(crash)})
    finally:
        connection.close()


def test_two_worker_processes_send_each_digest_once(due: datetime) -> None:
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(2), context.Queue()
    connection.close()
    workers = [
        context.Process(target=_worker, args=(due + timedelta(minutes=1), start, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert all("crash" not in outcome for outcome in outcomes), outcomes
    assert sum(outcome["sent"] for outcome in outcomes) == REPS
    assert_once_each()


def test_two_workers_that_both_read_a_due_digest_send_it_once(
    due: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both workers read the user's row as due before either writes (held together right after
    the read): the compare-and-set lets one through. On SQLite this cannot happen: ``atomic``
    begins with ``BEGIN IMMEDIATE``, so the second worker reads only after the first commits."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes write transactions from their start")

    from highseas.notify import digest

    together = threading.Barrier(2, timeout=30)
    read = digest.of_row

    def read_then_wait(row: NotificationPreference) -> Any:
        found = read(row)
        together.wait()
        return found

    monkeypatch.setattr(digest, "of_row", read_then_wait)
    now = due + timedelta(minutes=1)
    users = User.objects.filter(username__startswith="racer").order_by("pk")[:4]
    for user in users:
        outcomes: list[str] = []

        def take(_index: int, pk: int = user.pk, into: list[str] = outcomes) -> None:
            into.append(digest.digest_one(pk, due, now))

        assert race(2, take) == {"ok": 2}
        assert sorted(outcomes) == ["sent", "taken"]
    assert Notification.objects.filter(kind="digest").count() == len(users)
