"""The typed value encoding and Python literals (analysis/values.py): pure, no Spark."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracepile.analysis.values import (
    NoForm,
    NotALiteral,
    decode,
    encode,
    matches_expected,
    parse_call_arguments,
    parse_literal,
    to_literal,
    values_equal,
)

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8)
)
hashables = st.recursive(
    scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6
)
values = st.recursive(
    scalars | st.complex_numbers(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.sets(hashables, max_size=4)
        | st.frozensets(hashables, max_size=3)
        | st.dictionaries(hashables, inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down, NaN equal to NaN, dict order included."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(map(_same, a.items(), b.items()))
    if isinstance(a, set | frozenset):
        return len(a) == len(b) and all(any(_same(x, y) for y in b) for x in a)
    return bool(a == b) or repr(a) == repr(b)


@settings(max_examples=300, deadline=None)
@given(values)
def test_encoding_round_trips_every_value_with_its_types_and_order(value: Any) -> None:
    text = encode(value)
    json.loads(text)  # always valid JSON for tools that read JSON
    assert _same(decode(text), value)


@settings(max_examples=300, deadline=None)
@given(values)
def test_literals_round_trip_without_evaluation(value: Any) -> None:
    assert _same(parse_literal(to_literal(value)), value)


@settings(max_examples=100, deadline=None)
@given(st.sets(st.text(max_size=4), max_size=6))
def test_a_set_encodes_the_same_whatever_its_iteration_order(members: set[str]) -> None:
    assert encode(members) == encode(set(reversed(list(members))))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ((1, 2), '{"$tuple":[1,2]}'),
        ({1: "a", "1": "b"}, '{"$dict":[[1,"a"],["1","b"]]}'),
        ({"b": 1, "a": 2}, '{"b":1,"a":2}'),
        ({"$tuple": 1}, '{"$dict":[["$tuple",1]]}'),  # a str-keyed dict that looks like a tag
        (float("nan"), '{"$float":"nan"}'),
        (b"hi", '{"$bytes":"aGk="}'),
        (10**30, "1000000000000000000000000000000"),
    ],
)
def test_plain_json_where_json_holds_the_value_tags_elsewhere(value: Any, text: str) -> None:
    assert encode(value) == text


def test_a_value_with_no_form_says_which_and_where() -> None:
    with pytest.raises(
        NoForm, match=r"a builtin_function_or_method at the return value\['k'\]\[1\] has no form"
    ):
        encode({"k": [1, len]}, "the return value")


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('x')",
        "open('f')",
        "[1, 2",
        "x",
        "lambda: 1",
        "dict(**k)",
        "{[1]: 2}",
        "1 + 1",
    ],
)
def test_what_is_not_a_literal_is_refused_never_run(text: str) -> None:
    with pytest.raises(NotALiteral):
        parse_literal(text)


def test_call_arguments_are_positional_and_keyword_literals() -> None:
    assert parse_call_arguments("[1, 2], (3, 4), key={5: 'a'}") == ([[1, 2], (3, 4)], {"key": {5: "a"}})
    assert parse_call_arguments("") == ([], {})
    for bad in ("*xs", "**kw", "f(x)", "1,, 2"):
        with pytest.raises(NotALiteral):
            parse_call_arguments(bad)


def test_a_tuple_is_not_a_list_but_a_json_expectation_is_met_by_its_json_form() -> None:
    assert not values_equal((1, 2), [1, 2])
    assert matches_expected(encode((1, 2)), "[1, 2]")  # a record made by json.dumps could say no more
    assert matches_expected(encode({1: "a"}), '{"1": "a"}')
    assert not matches_expected(encode((1, 2)), encode((2, 1)))
    assert not matches_expected(encode([1, 2]), encode((1, 2)))  # a typed expectation is exact
    assert matches_expected(encode({"a": 1, "b": 2}), encode({"b": 2, "a": 1}))  # == ignores order
