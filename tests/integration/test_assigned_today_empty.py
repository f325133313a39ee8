"""``AssignedToday`` for a run whose rules reach no rep (every named team empty): a later
reading adds nothing, as the ORM's ``__in=[]`` answered, on both databases."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from highseas.routing.snapshots import AssignedToday

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=timezone.get_default_timezone())


def test_a_later_reading_with_no_reps_adds_nothing() -> None:
    known = AssignedToday([], NOW)
    assert known.read() == {}
    assert known.read() == {}
