"""The import's per-row helpers give what the code they stand for gives, on varied inputs:
a plan's ``as_dict`` is its ``asdict``; the text fields' check is ``Field.clean``'s; a row's
choices are read in the active language as before; a remembered phone is the parsed one;
``compact_json`` is the compact encoder; an encrypted text is written as the field's own
``get_db_prep_save`` writes it, and reads back the same; an aware moment is adapted as its
field adapts it."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import QueryDict
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.customers.crypto import decrypt, is_token
from highseas.customers.models import Contact, Customer
from highseas.engine.normalize import parse_phone
from highseas.engine.planner import Outcome
from highseas.intake import columns
from highseas.intake.columns import CUSTOMER_FIELDS, ParsedRow, parse_row
from highseas.intake.importer import MODEL_FIELDS, TEXT_LIMITS, Importer, RowPlan
from highseas.pools import rows
from highseas.pools.rows import compact_json, insert_instances, reserve_ids

texts = st.text(
    st.sampled_from(["a", "Z", "0", " ", "\x00", "北", "京", "＠", "@", ".", "-", "é", "\t"]),
    max_size=260,
)
ids = st.none() | st.integers(min_value=1, max_value=2**40)


@given(
    st.builds(
        RowPlan,
        line=st.integers(min_value=1, max_value=10**6),
        action=st.sampled_from(["create", "duplicate", "skip", "merge", "error"]),
        code=st.text(max_size=12),
        detail=st.text(max_size=40),
        duplicate_of=ids,
        duplicate_line=ids,
        holder=st.text(max_size=12),
        owner_id=ids,
        routed=st.booleans(),
        customer_id=ids,
    )
)
def test_a_plans_dict_is_its_asdict(plan: RowPlan) -> None:
    made = plan.as_dict()
    assert made == dataclasses.asdict(plan)
    assert list(made) == list(dataclasses.asdict(plan))  # the spooled JSON, key for key
    assert json.dumps(made, ensure_ascii=False) == json.dumps(
        dataclasses.asdict(plan), ensure_ascii=False
    )


def _clean_messages(name: str, value: Any) -> list[str]:
    """What ``Importer._field_errors`` said before its fast path: ``Field.clean``'s."""
    try:
        MODEL_FIELDS[name].clean(value, None)
    except ValidationError as invalid:
        return [str(m) for m in invalid.messages]
    return []


def test_the_fast_path_covers_the_plain_text_fields_only() -> None:
    assert set(TEXT_LIMITS) == {
        "name",
        "phone",
        "credit_code",
        "province",
        "city",
        "address",
        "industry",
    }
    assert all(TEXT_LIMITS[name] == MODEL_FIELDS[name].max_length for name in TEXT_LIMITS)


@settings(max_examples=300)
@given(name=st.sampled_from(CUSTOMER_FIELDS), value=texts | st.integers(-5, 10**10))
def test_a_fields_messages_are_cleans(name: str, value: Any) -> None:
    importer = SimpleNamespace(_cleaned={})
    assert Importer._field_errors(importer, name, value) == _clean_messages(name, value)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(TEXT_LIMITS))
def test_a_text_at_and_past_its_limit(name: str) -> None:
    importer = SimpleNamespace(_cleaned={})
    limit = TEXT_LIMITS[name]
    for value in ("", "x" * limit, "x" * (limit + 1), "北" * limit, "a\x00b"):
        found = Importer._field_errors(importer, name, value)  # type: ignore[arg-type]
        assert found == _clean_messages(name, value)
    assert Importer._field_errors(importer, name, "x" * (limit + 1))  # type: ignore[arg-type]


def _parse_row_before(cells: dict[str, str]) -> ParsedRow:
    """``parse_row`` as it was: each choice read with the language looked up for it."""
    parsers: dict[str, Callable[[str], Any]] = {
        **columns.PARSERS,
        **{
            name: (
                lambda v, name=name: columns._choice(name, v, translation.get_language())  # type: ignore[misc]
            )
            for name in columns.CHOICES
        },
    }
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, raw in cells.items():
        text = (
            columns._text(raw) if name not in ("name", "address", "activity_note") else raw.strip()
        )
        if not text:
            continue
        parser = parsers.get(name)
        try:
            values[name] = parser(text) if parser else text
        except ValueError as error:
            errors[name] = [str(error)]
    row = ParsedRow(
        fields={name: values[name] for name in CUSTOMER_FIELDS if name in values},
        owner=values.get("owner", ""),
        errors=errors,
    )
    row.fields.setdefault("source", "import")
    if "deal_status" in values:
        row.deal = {
            "stage": values["deal_status"],
            "amount": values.get("deal_amount", Decimal(0)),
            "at": values.get("deal_date"),
        }
    elif "deal_amount" in values or "deal_date" in values:
        errors["deal_status"] = [str(translation.gettext("a deal needs its status (won or lost)"))]
    if "activity_at" in values:
        row.activity = {
            "at": values["activity_at"],
            "kind": values.get("activity_kind", "note"),
            "note": values.get("activity_note", ""),
        }
    return row


CELLS = {
    "name": st.sampled_from(["  杭州云帆科技有限公司 ", "Acme Ltd", ""]),
    "kind": st.sampled_from(["公司", "个人", "company", "Company", "Person", "企业", "法人", ""]),
    "level": st.sampled_from(["A", "高", "b类", "C", "d", "", "Ａ"]),
    "source": st.sampled_from(["网站", "Referral", "导入", "web_form", "电视", "Import", ""]),
    "employees": st.sampled_from(["1,200", "200人", "１２", "many", ""]),
    "deal_status": st.sampled_from(["赢单", "lost", "Won", "平局", ""]),
    "deal_amount": st.sampled_from(["¥5万", "1,000.5", "abc", ""]),
    "deal_date": st.sampled_from(["2024年3月1日", "2024-02-30", ""]),
    "activity_at": st.sampled_from(["2024-03-01 09:30", "yesterday", ""]),
    "activity_kind": st.sampled_from(["电话", "Visit", "微信", "smoke", ""]),
    "owner": st.sampled_from(["rep_a", " 王五 ", ""]),
}


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.fixed_dictionaries({}, optional=CELLS), language=st.sampled_from(["zh-hans", "en"]))
def test_a_row_parses_as_before(cells: dict[str, str], language: str) -> None:
    with translation.override(language):
        assert parse_row(cells) == _parse_row_before(cells)


PHONES = st.lists(
    st.sampled_from(
        ["1", "3", "8", "0", "+", "86", "-", " ", "(", ")", "转", "ext", "#", "/", "、", "１"]
    ),
    max_size=20,
).map("".join)


@given(PHONES)
def test_a_remembered_phone_is_the_parsed_one(raw: str) -> None:
    assert parse_phone(raw) == parse_phone.__wrapped__(raw)
    assert parse_phone(raw) == parse_phone.__wrapped__(raw)  # the second, remembered


json_keys = st.text(max_size=6) | st.integers(-(2**70), 2**70) | st.floats() | st.booleans()
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_keys, inner),
    max_leaves=12,
)


def _keys_not_text(value: Any) -> bool:
    if isinstance(value, dict):
        return any(not isinstance(k, str) or _keys_not_text(v) for k, v in value.items())
    return isinstance(value, list) and any(_keys_not_text(v) for v in value)


@given(json_values)
def test_compact_json_is_the_compact_encoders_value(value: Any) -> None:
    """The same value as the stdlib's compact encoder wrote; the same text unless a float is
    written with an exponent (``1e-05`` and ``1e-5``). A key that is not text goes to the
    stdlib's encoder, as a whole, and comes out as before, text and all."""
    ours, stdlib = compact_json(value), rows._COMPACT.encode(value)
    assert json.loads(ours) == json.loads(stdlib)
    if _keys_not_text(value) or not re.search(r"\de", stdlib):
        assert ours == stdlib


def test_compact_json_writes_text_as_typed_and_compact() -> None:
    assert compact_json({"name": "北京华为", "ids": [1, 2], "kind": Outcome.ASSIGNED}) == (
        '{"name":"北京华为","ids":[1,2],"kind":"assigned"}'
    )
    assert compact_json({}) == "{}" and compact_json([]) == "[]"


def test_compact_json_goes_to_the_stdlib_for_what_orjson_would_write_otherwise() -> None:
    """Keys that are not text, a dict whose ``items`` is its own (a ``QueryDict``), a float
    key, an integer past 64 bits, and a NaN inside such a value: the stdlib's text."""
    query = QueryDict("a=1&a=2&b=3")
    for value in (
        {2: "a", False: None, 1.5e-05: 2},
        {"query": query},
        {"n": 2**70, "also": [-(2**80), float("nan")]},
    ):
        assert compact_json(value) == rows._COMPACT.encode(value)
    assert compact_json({"query": query}) == '{"query":{"a":"2","b":"3"}}'


def test_compact_json_refuses_what_the_stdlib_refused() -> None:
    """A datetime, a date (as a value or a key), a set, a ``Decimal``: refused, as the
    stdlib refused them."""
    moment, day = datetime(2026, 12, 5, 9), date(2026, 12, 5)
    for refused in ({"at": moment}, {"at": day}, {day: 1}, {"s": {1, 2}}, [Decimal("1.5")]):
        with pytest.raises(TypeError):
            compact_json(refused)
        with pytest.raises(TypeError):
            rows._COMPACT.encode(refused)


def test_compact_json_writes_what_orjson_writes_otherwise() -> None:
    """The values written otherwise, where orjson writes the whole value: a float that is
    no number is null (the stdlib wrote ``NaN``, which no JSON reader takes, nor PostgreSQL's
    ``jsonb``); a ``UUID`` is written as its text (the stdlib refused it)."""
    assert compact_json([float("nan"), float("inf")]) == "[null,null]"
    assert compact_json({"id": UUID(int=1)}) == '{"id":"00000000-0000-0000-0000-000000000001"}'


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("value", ["", "13800138000", "a@b.cn", "北京 010-1234 转 8", None])
def test_an_encrypted_text_is_written_as_its_field_writes_it(value: str | None) -> None:
    for name in ("phone", "email"):
        field = Customer._meta.get_field(name)
        customer = Customer(**{name: value})
        ours = rows._encrypted_text(field, field.attname, customer)
        theirs = None if value is None else field.get_db_prep_save(value, connection)
        if value:
            assert is_token(ours) and is_token(theirs)
            assert decrypt(ours) == decrypt(theirs) == value
        else:
            assert ours == theirs


@pytest.mark.django_db
def test_customers_inserted_with_their_ids_read_back_as_built(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    template = make_customer(org["admin"], pool=org["east_pool"])
    built = []
    for phone, email in [("13800138000", "a@b.cn"), ("", ""), ("+86 10 1234 5678", "")]:
        customer = Customer.objects.get(pk=template.pk)
        customer.pk = None
        customer._state.adding = True
        customer.phone, customer.email, customer.tags = phone, email, []
        built.append(customer)
    reserve_ids(built)
    insert_instances(built, reserved=True)
    read = {c.pk: c for c in Customer.objects.filter(pk__in=[c.pk for c in built])}
    for customer in built:
        back = read[customer.pk]
        assert (back.phone, back.email, back.tags) == (customer.phone, customer.email, [])
        assert back.custom_fields == template.custom_fields
    stored = dict(
        Customer.objects.filter(pk__in=[c.pk for c in built])
        .extra(select={"raw_phone": "phone"})
        .values_list("pk", "raw_phone")
    )
    assert [is_token(stored[c.pk]) for c in built] == [True, False, True]


moments = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, dt_timezone(timedelta(hours=8)), ZoneInfo("Asia/Shanghai")]),
)


@pytest.mark.django_db
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moment=moments, name=st.sampled_from(["created_at", "owned_since", "recycle_due_at"]))
def test_a_moment_is_adapted_as_its_field_adapts_it(moment: datetime, name: str) -> None:
    field = Customer._meta.get_field(name)
    read = rows._reader(field)
    assert read(Customer(**{name: moment})) == field.get_db_prep_save(moment, connection)
    assert read(Customer(**{name: None})) is None


@settings(max_examples=300)
@given(
    moment=moments | st.datetimes(timezones=st.sampled_from([ZoneInfo("America/New_York")])),
    fold=st.sampled_from([0, 1]),
    naive=st.booleans(),
)
def test_a_moment_is_written_as_django_writes_it(moment: datetime, fold: int, naive: bool) -> None:
    """``db_datetime``'s own conversion equals Django's adapter for every moment: of any zone,
    either pass of a repeated hour, naive, asked twice in a row (the kept last one) and after
    a moment equal to Python but not to the database (the other pass)."""
    moment = moment.replace(fold=fold)
    if naive:
        moment = moment.replace(tzinfo=None)
    expected = connection.ops.adapt_datetimefield_value(moment)
    assert rows.db_datetime(moment) == expected
    assert rows.db_datetime(moment) == expected
    other = moment.replace(fold=1 - fold)
    assert rows.db_datetime(other) == connection.ops.adapt_datetimefield_value(other)
    assert rows.db_datetime(moment) == expected


@pytest.mark.django_db
def test_an_automatic_moment_is_the_one_set_on_the_instance() -> None:
    field = Customer._meta.get_field("updated_at")
    customer = Customer()
    written = rows._reader(field)(customer)
    assert customer.updated_at.utcoffset() is not None
    assert written == field.get_db_prep_save(customer.updated_at, connection)


@pytest.mark.django_db
def test_an_encrypted_json_field_is_inserted_encrypted(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """The plain-JSON shortcut is for ``JSONField`` itself: an encrypted subclass (a contact's
    phones) is written through its own method, as a token, and reads back as built."""
    customer = make_customer(org["admin"], pool=org["east_pool"])
    built = [
        Contact(customer=customer, name="张三", phones=["13800138000", "010-12345678"]),
        Contact(customer=customer, name="李四", phones=[]),
    ]
    insert_instances(built)
    stored = dict(
        Contact.objects.filter(pk__in=[c.pk for c in built])
        .extra(select={"raw_phones": "phones"})
        .values_list("pk", "raw_phones")
    )
    first = stored[built[0].pk]
    assert "13800138000" not in str(first)
    assert is_token(first) or is_token(json.loads(first))
    read = {c.pk: c.phones for c in Contact.objects.filter(pk__in=[c.pk for c in built])}
    assert read == {built[0].pk: ["13800138000", "010-12345678"], built[1].pk: []}
