"""The condition language of assignment rules: each operator, validation with JSON paths, and
properties over generated trees."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from highseas.engine.conditions import FIELDS, Problem, evaluate, predicate, validate

CUSTOMER: dict[str, Any] = {
    "province": "广东",
    "city": "深圳",
    "industry": "software",
    "employees": 120,
    "revenue_band": "10m-100m",
    "source": "referral",
    "campaign": "2026 Shenzhen Expo",
    "level": "A",
    "kind": "company",
    "tags": ["重点", "VIP"],
    "custom": {"product_line": "ERP", "budget": 7.5, "signed": True, "note": ""},
}


def leaf(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return (
        {"field": field, "op": op} if value is None else {"field": field, "op": op, "value": value}
    )


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        (leaf("province", "eq", "广东"), True),
        (leaf("province", "eq", "广东省"), False),
        (leaf("employees", "eq", 120.0), True),
        (leaf("custom.signed", "eq", 1), False),  # True never equals 1
        (leaf("custom.budget", "eq", "7.5"), False),  # a number never equals a text
        (leaf("province", "ne", "浙江"), True),
        (leaf("custom.missing", "ne", "x"), True),  # missing is ne anything
        (leaf("industry", "in", ["retail", "software"]), True),
        (leaf("tags", "in", ["VIP", "新客"]), True),  # any element
        (leaf("tags", "not_in", ["新客"]), True),
        (leaf("level", "not_in", ["A", "B"]), False),
        (leaf("employees", "gte", 120), True),
        (leaf("employees", "lte", 119), False),
        (leaf("employees", "between", [100, 120]), True),
        (leaf("custom.budget", "between", [7, 8]), True),
        (leaf("custom.signed", "gte", 0), False),  # booleans are not numbers
        (leaf("campaign", "contains", "Expo"), True),
        (leaf("campaign", "contains", "expo"), False),  # case matters
        (leaf("tags", "contains", "重点"), True),
        (leaf("tags", "contains", "重"), False),  # whole elements, not substrings
        (leaf("custom.product_line", "exists"), True),
        (leaf("custom.note", "exists"), False),  # blank is not there
        (leaf("custom.missing", "exists", False), True),
        ({}, True),
        ({"all": []}, True),
        ({"any": []}, False),
        ({"not": leaf("level", "eq", "A")}, False),
        ({"any": [leaf("level", "eq", "C"), leaf("city", "eq", "深圳")]}, True),
        ({"all": [leaf("level", "eq", "A"), {"not": leaf("tags", "contains", "VIP")}]}, False),
    ],
)
def test_each_operator_and_node(tree: dict[str, Any], expected: bool) -> None:
    assert validate(tree) == []
    assert evaluate(tree, CUSTOMER) is expected


def test_a_missing_value_matches_only_negative_tests() -> None:
    empty: dict[str, Any] = {}
    assert not evaluate(leaf("employees", "gte", 0), empty)
    assert not evaluate(leaf("province", "in", ["广东"]), empty)
    assert evaluate(leaf("province", "not_in", ["广东"]), empty)
    assert evaluate(leaf("employees", "exists", False), empty)


def test_custom_fields_read_a_flat_key_too() -> None:
    assert evaluate(leaf("custom.tier", "eq", "gold"), {"custom.tier": "gold"})


@pytest.mark.parametrize(
    ("tree", "problems"),
    [
        ([], ["$: Expected an object: a leaf with field/op/value, or all/any/not."]),
        ({"foo": 1}, ['$: Expected "field"/"op"/"value", or one of "all", "any", "not".']),
        ({"all": {}}, ['$.all: "all" takes a list of conditions.']),
        ({"all": [], "any": []}, ['$: "all" must be the only key here, not also any.']),
        (
            {"all": [{}]},
            ['$.all[0]: Expected "field"/"op"/"value", or one of "all", "any", "not".'],
        ),
        (
            {"any": [leaf("province", "in", "广东")]},
            ['$.any[0].value: "in" takes a non-empty list.'],
        ),
        ({"not": leaf("tags", "gte", 1)}, ['$.not.op: "gte" does not apply to tags.']),
        (leaf("employees", "between", [9, 1]), ['$.value: "between" needs low <= high.']),
        (leaf("employees", "eq", "many"), ["$.value: Expected a number."]),
        (leaf("level", "eq", "a"), ["$.value: Unknown value 'a'; use one of A, B, C."]),
        (leaf("province", "eq"), ['$.value: "eq" needs a value.']),
        (
            leaf("province", "like", "x"),
            [
                "$.op: Unknown operator 'like'; use one of eq, ne, in, "
                "not_in, gte, lte, between, contains, exists."
            ],
        ),
        (
            leaf("custom.", "eq", "x"),
            [
                "$.field: Unknown field 'custom.'; use one of campaign, city, employees, industry, "
                "kind, level, province, revenue_band, source, tags or custom.<key>."
            ],
        ),
        ({**leaf("city", "eq", "x"), "extra": 1}, ["$: Unknown keys: extra."]),
        (leaf("campaign", "contains", ""), ['$.value: "contains" takes a non-empty text.']),
        (leaf("custom.x", "exists", "yes"), ['$.value: "exists" takes true or false.']),
        (leaf("custom.x", "in", [{"a": 1}]), ["$.value: Expected a text, a number or true/false."]),
    ],
)
def test_validation_names_each_problem_with_its_path(tree: Any, problems: list[str]) -> None:
    assert [str(p) for p in validate(tree, {"level": ["A", "B", "C"]})] == problems


def test_every_problem_of_a_tree_is_reported_not_just_the_first() -> None:
    tree = {"all": [leaf("x", "eq", 1), leaf("employees", "gte", "9"), {"not": []}]}
    assert [p.path for p in validate(tree)] == ["$.all[0].field", "$.all[1].value", "$.all[2].not"]


def test_deep_or_huge_trees_are_refused() -> None:
    deep: dict[str, Any] = leaf("city", "eq", "x")
    for _ in range(20):
        deep = {"not": deep}
    assert any("nest" in p.message for p in validate(deep))
    huge = {"any": [leaf("city", "eq", str(i)) for i in range(600)]}
    assert Problem("$", "A condition may have at most 500 parts.") in validate(huge)


# --- properties ---------------------------------------------------------------------------------

TEXTS = st.sampled_from(["广东", "浙江", "software", "A", "B", "VIP", ""])
NUMBERS = st.one_of(st.integers(-5, 200), st.floats(-5, 200, allow_nan=False))
VALUES = st.one_of(st.none(), TEXTS, NUMBERS, st.booleans(), st.lists(TEXTS, max_size=3))
TEXT_FIELDS = ["province", "city", "industry", "source", "campaign", "level", "kind"]


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["text", "number", "tags", "custom"]))
    if kind == "text":
        field = draw(st.sampled_from(TEXT_FIELDS))
        op = draw(st.sampled_from(["eq", "ne", "in", "not_in", "contains", "exists"]))
        value: Any = draw(TEXTS.filter(bool))
    elif kind == "number":
        field = "employees"
        op = draw(st.sampled_from(["eq", "ne", "in", "not_in", "gte", "lte", "between", "exists"]))
        value = draw(NUMBERS)
    elif kind == "tags":
        field, op = "tags", draw(st.sampled_from(["in", "not_in", "contains", "exists"]))
        value = draw(TEXTS.filter(bool))
    else:
        field = "custom." + draw(st.sampled_from(["a", "b"]))
        op = draw(
            st.sampled_from(
                ["eq", "ne", "in", "not_in", "gte", "lte", "between", "contains", "exists"]
            )
        )
        value = draw(
            st.one_of(TEXTS.filter(bool), NUMBERS, st.booleans())
            if op in ("eq", "ne", "in", "not_in")
            else TEXTS.filter(bool)
            if op == "contains"
            else NUMBERS
        )
    if op in ("in", "not_in"):
        value = [value, *draw(st.lists(st.just(value), max_size=1))]
    elif op == "between":
        value = sorted([value, draw(NUMBERS)])
    elif op == "exists":
        value = draw(st.booleans())
    return {"field": field, "op": op, "value": value}


trees = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(children, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(children, max_size=3)),
        st.builds(lambda x: {"not": x}, children),
    ),
    max_leaves=8,
)
customers = st.fixed_dictionaries(
    {name: VALUES for name in sorted(FIELDS)},
    optional={"custom": st.dictionaries(st.sampled_from(["a", "b"]), VALUES, max_size=2)},
)


@given(trees)
def test_generated_trees_are_valid(tree: dict[str, Any]) -> None:
    assert validate(tree) == []


@given(trees, customers)
def test_evaluation_is_total_and_not_negates(
    tree: dict[str, Any], customer: dict[str, Any]
) -> None:
    result = evaluate(tree, customer)
    assert isinstance(result, bool)
    assert evaluate({"not": tree}, customer) is not result


@given(st.lists(trees, max_size=4), customers)
def test_all_and_any_follow_de_morgan(
    parts: list[dict[str, Any]], customer: dict[str, Any]
) -> None:
    each = [predicate(part)(customer) for part in parts]
    assert evaluate({"all": parts}, customer) is all(each)
    assert evaluate({"any": parts}, customer) is any(each)
    negated = {"any": [{"not": part} for part in parts]}
    assert evaluate({"not": {"all": parts}}, customer) is evaluate(negated, customer)


@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.sampled_from(["all", "any", "not", "field", "op", "value", "x"]),
                inner,
                max_size=3,
            ),
        ),
        max_leaves=10,
    )
)
def test_validation_never_crashes_on_any_json(tree: Any) -> None:
    problems = validate(tree)
    assert all(isinstance(p, Problem) and p.path.startswith("$") for p in problems)
