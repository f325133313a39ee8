"""The batch screening of an import (``dedup.screen_many``) answers every row exactly as
``dedup.screen`` answers it alone, against the same database."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.customers import duplicates
from highseas.engine.errors import HighSeasError
from highseas.intake.creation import create_customer
from highseas.pools import dedup
from highseas.pools.models import Pool

pytestmark = pytest.mark.django_db

NAMES = ["北京星辰科技有限公司", "星辰科技（北京）有限公司", "杭州云帆网络有限公司", "云帆网络"]
NAMES += ["张伟"]
PHONES = ["13800138000", "+86 138 0013 8000", "13912345678", "０７５５-２８７８０８０８", ""]
EMAILS = ["sales@xingchen.cn", "SALES@xingchen.cn ", "hi@yunfan.com", ""]
CREDITS = ["91110108MA01ABCD1X", "91330106MA2CDEF01Y", ""]

row = st.fixed_dictionaries(
    {
        "name": st.sampled_from(NAMES),
        "kind": st.sampled_from(["company", "company", "person"]),
        "phone": st.sampled_from(PHONES),
        "email": st.sampled_from(EMAILS),
        "credit_code": st.sampled_from(CREDITS),
    }
)


def outcome(result: Any) -> Any:
    if isinstance(result, HighSeasError):
        return (result.code, result.facts["holder"], [m["id"] for m in result.facts["matches"]])
    return (result.keys, result.warnings)


def screened_alone(fields: dict[str, Any], pool: Pool) -> Any:
    try:
        return dedup.screen(fields, pool=pool, entry_point="import", warnings=False)
    except HighSeasError as refusal:
        return refusal


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    existing=st.lists(row, max_size=6),
    batch=st.lists(row, min_size=1, max_size=12),
    policy=st.sampled_from(["block", "warn", "allow"]),
    worked_out=st.booleans(),
)
def test_a_batch_is_screened_row_by_row_alike(
    org: dict[str, Any],
    existing: list[dict[str, Any]],
    batch: list[dict[str, Any]],
    policy: str,
    worked_out: bool,
) -> None:
    """… also when the caller gives the rows' keys with their blind values worked out
    (``duplicates.probe_of``, as an import prepares its rows)."""
    pool = org["east_pool"]
    with transaction.atomic():
        pool.duplicate_policy = {"manual": "allow", "api": "allow", "import": policy}
        pool.save(update_fields=["duplicate_policy"])
        for fields in existing:
            create_customer(actor=org["admin"], fields=dict(fields), pool=pool, route=False)
        probes = [duplicates.probe_of(dict(f)) for f in batch] if worked_out else None
        for probe in probes or ():  # the columns a customer stores, as ``key_values``
            assert probe.columns == duplicates.key_values(probe.keys)
        together = dedup.screen_many(
            [dict(f) for f in batch], pool=pool, entry_point="import", probes=probes
        )
        alone = [screened_alone(dict(f), pool) for f in batch]
        assert [outcome(r) for r in together] == [outcome(r) for r in alone]
        transaction.set_rollback(True)


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(list(duplicates.KEY_COLUMNS)), value=st.text(min_size=1, max_size=40))
def test_a_probes_values_are_the_lookups_values(key: str, value: str) -> None:
    """An import's probes (``probe_values``, from a copy of each key's HMAC object) ask
    for exactly what a lookup asks for (``lookup_values``: ``crypto.blinds``)."""
    assert duplicates.probe_values(key, value) == duplicates.lookup_values(key, value)


def test_a_probe_asks_under_every_readable_key_during_a_rotation(
    tmp_path: Any, settings: Any
) -> None:
    """A rotation makes another keyring: the probe's values follow it (the new key's first,
    then the old one's), as the lookup's do."""
    from highseas.customers import crypto

    settings.HIGHSEAS_DATA_KEY = ""
    settings.HIGHSEAS_DATA_KEY_FILE = tmp_path / "keys" / "data_keys.json"
    crypto.invalidate()
    try:
        before = duplicates.probe_values("phone", "13800138000")
        assert before == crypto.blinds("phone", "13800138000") and len(before) == 1
        ring = crypto.begin_rotation()
        during = duplicates.probe_values("phone", "13800138000")
        assert during == crypto.blinds("phone", "13800138000")
        assert len(during) == 2 and during[1] == before[0] and ring.old
        probe = duplicates.probe_of({"name": "远航", "phone": "138 0013 8000"})
        assert probe.asked["phone"] == crypto.blinds("phone", probe.keys.phone)
        assert len(probe.asked["phone"]) == 2
    finally:
        crypto.invalidate()
