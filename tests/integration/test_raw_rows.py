"""``raw_rows.instance`` builds the instance ``Model.from_db`` builds, field for field, without
Django's generic ``__init__`` while nothing listens to ``pre_init``/``post_init``; with a
listener it takes ``from_db`` itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from django.db.models.signals import post_init

from highseas.accounts import raw_rows
from highseas.accounts.models import ApiToken, User
from highseas.accounts.tokens import issue_token
from highseas.customers.models import Customer
from highseas.pools import ownership
from highseas.pools.models import Pool

pytestmark = pytest.mark.django_db


def _row(model: type[Model], attnames: tuple[str, ...], pk: int) -> tuple[Any, ...]:
    columns = ", ".join(raw_rows.column_names(model, "", attnames))
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} WHERE id = %s", [pk])
        found = cursor.fetchone()
    assert found is not None
    return tuple(found)


def _facts(instance: Model) -> dict[str, Any]:
    """Everything an instance holds: its class, fields, deferred fields and state."""
    fields = {k: v for k, v in instance.__dict__.items() if k != "_state"}
    state = instance._state
    return {
        "class": type(instance),
        "fields": fields,
        "deferred": instance.get_deferred_fields(),
        "adding": state.adding,
        "db": state.db,
        "cache": dict(state.fields_cache),
    }


@pytest.fixture
def from_db_refused(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``Model.from_db`` fails the test when called (the direct path must not need it)."""

    def refuse(cls: type[Model], db: str, names: list[str], values: list[Any]) -> Model:
        raise AssertionError(f"{cls.__name__}.from_db was called")

    monkeypatch.setattr(Model, "from_db", classmethod(refuse))
    yield


@pytest.fixture
def cases(org: dict[str, Any], make_customer: Callable[..., Customer]) -> list[Any]:
    """(model, attnames, pk): whole rows of every model the hot paths build, one partial."""
    customer = make_customer(org["admin"], pool=org["east_pool"], phone="13800138000")
    ownership.claim(org["rep_a"], customer.pk)
    token, _secret = issue_token(org["rep_a"], device="tests", audited=False)
    return [
        (Customer, raw_rows.concrete_attnames(Customer), customer.pk),
        (User, raw_rows.concrete_attnames(User), org["rep_a"].pk),
        (ApiToken, raw_rows.concrete_attnames(ApiToken), token.pk),
        (Pool, raw_rows.concrete_attnames(Pool), org["east_pool"].pk),
        (Pool, ("id", "name", "masked_fields"), org["east_pool"].pk),
    ]


def test_an_instance_is_what_from_db_builds(cases: list[Any]) -> None:
    built = [raw_rows.instance(m, names, _row(m, names, pk)) for m, names, pk in cases]

    def listener(**kwargs: Any) -> None:
        pass

    post_init.connect(listener)
    try:  # a receiver sends every instance through from_db, as the ORM builds them
        through_init = [raw_rows.instance(m, names, _row(m, names, pk)) for m, names, pk in cases]
    finally:
        post_init.disconnect(listener)
    for direct, generic in zip(built, through_init, strict=True):
        assert _facts(direct) == _facts(generic)


def test_a_whole_row_is_the_instance_the_orm_reads(cases: list[Any]) -> None:
    for model, names, pk in cases[:4]:
        direct = raw_rows.instance(model, names, _row(model, names, pk))
        assert _facts(direct) == _facts(model._base_manager.get(pk=pk))


def test_a_field_not_read_loads_on_first_use(cases: list[Any], from_db_refused: None) -> None:
    model, names, pk = cases[4]
    pool = raw_rows.instance(model, names, _row(model, names, pk))
    assert pool.get_deferred_fields() == {
        f.attname for f in Pool._meta.concrete_fields if f.attname not in names
    }
    assert "created_at" not in pool.__dict__


def test_the_direct_path_does_not_use_from_db(cases: list[Any], from_db_refused: None) -> None:
    for model, names, pk in cases:
        assert raw_rows.instance(model, names, _row(model, names, pk)).pk == pk


def test_a_listener_is_heard(cases: list[Any]) -> None:
    heard: list[Any] = []

    def listener(sender: type[Model], instance: Model, **kwargs: Any) -> None:
        heard.append(instance)

    post_init.connect(listener)
    try:
        model, names, pk = cases[0]
        built = raw_rows.instance(model, names, _row(model, names, pk))
    finally:
        post_init.disconnect(listener)
    assert heard == [built]


def test_an_instance_of_python_values_is_what_from_db_builds_of_them(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """``raw_rows.loaded``: values already in Python form (a rule's grant knows its customer's
    id, name, status, pool and owner), not converted again."""
    customer = make_customer(org["admin"], pool=org["east_pool"])
    names = ("id", "name", "status", "pool_id", "owner_id")
    values = (customer.pk, customer.name, "owned", org["east_pool"].pk, org["rep_a"].pk)
    built = raw_rows.loaded(Customer, names, values)
    assert _facts(built) == _facts(Customer.from_db("default", list(names), list(values)))
    assert built.get_deferred_fields() == {
        f.attname for f in Customer._meta.concrete_fields if f.attname not in names
    }
    assert built.phone == customer.phone  # a field not named loads on first use


def test_fields_named_out_of_the_models_order_are_refused() -> None:
    """``from_db`` would place them by position, ``loaded`` by name: it refuses either way."""
    with pytest.raises(ValueError, match="model's order"):
        raw_rows.loaded(Customer, ("name", "id"), ("星辰科技", 1))
