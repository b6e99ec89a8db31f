"""Python values as the corpus holds them: one typed encoding, Python literals, comparison.

A program's inputs, return values, expected outputs and question answers are Python
values. JSON alone bends them (a tuple becomes a list, ``{1: 'a'}`` gets a str key, ``nan``
and ``bytes`` have no form), so every table column that holds a value holds its **typed
JSON**: plain JSON where the value is JSON-native (so tools that read JSON see the usual
thing), and a one-key tagged object for the rest:

==================  ============================================
``(1, 2)``          ``{"$tuple": [1, 2]}``
``{1, 2}``          ``{"$set": [1, 2]}`` (members in a canonical order)
``frozenset({1})``  ``{"$frozenset": [1]}``
``b"hi"``           ``{"$bytes": "aGk="}`` (base64)
``bytearray(b"")``  ``{"$bytearray": ""}``
``{1: "a"}``        ``{"$dict": [[1, "a"]]}`` (any dict with a non-str key, in its order)
``float("nan")``    ``{"$float": "nan"}`` (also ``"inf"``, ``"-inf"``)
``1+2j``            ``{"$complex": [1.0, 2.0]}``
==================  ============================================

A str-keyed dict keeps its key order, and one whose only key is a tag is written as
``$dict`` too, so decoding is never ambiguous. Ints of any size stay JSON numbers.
Texts (CoE steps, final answers, question answers) write values as Python literals
(``to_literal``), read back without evaluating anything (``parse_literal``).
"""

from __future__ import annotations

import ast
import base64
import json
import math
from collections.abc import Callable
from typing import Any

REL_TOL = 1e-6
ABS_TOL = 1e-9

_TAGS = ("$tuple", "$set", "$frozenset", "$bytes", "$bytearray", "$dict", "$float", "$complex")


class NoForm(ValueError):
    """A value the encoding cannot hold: names its type and where it sits in the whole."""

    def __init__(self, type_name: str, where: str) -> None:
        self.type_name, self.where = type_name, where
        super().__init__(
            f"a {type_name} at {where} has no form: values are None, bool, int, float, complex, str, "
            "bytes, and lists, tuples, sets, frozensets and dicts of them"
        )


def _member_order(value: Any) -> tuple[str, str]:
    """A canonical order for a set's members: iteration order changes with the hash seed."""
    return type(value).__name__, to_literal(value)


def _sorted_members(items: Any) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:  # mixed types: by type name, then literal text
        return sorted(items, key=_member_order)


def _plain(value: Any, where: str) -> Any:
    """``value`` as the JSON data of its typed encoding."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, list):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, tuple):
        return {"$tuple": [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]}
    if isinstance(value, set | frozenset):
        tag = "$set" if isinstance(value, set) else "$frozenset"
        return {tag: [_plain(item, f"{where} member") for item in _sorted_members(value)]}
    if isinstance(value, dict):
        if all(type(key) is str for key in value) and not (len(value) == 1 and next(iter(value)) in _TAGS):
            return {key: _plain(item, f"{where}[{key!r}]") for key, item in value.items()}
        return {
            "$dict": [
                [_plain(key, f"{where} key"), _plain(item, f"{where}[{key!r}]")]
                for key, item in value.items()
            ]
        }
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, bytearray):
        return {"$bytearray": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, complex):
        return {"$complex": [_plain(value.real, where), _plain(value.imag, where)]}
    raise NoForm(type(value).__name__, where)


def to_data(value: Any, where: str = "the value") -> Any:
    """The JSON data (dicts, lists, scalars) of ``value``'s typed encoding; ``NoForm`` if none."""
    return _plain(value, where)


# Bound once: a program in the sandbox that patches ``json.dumps`` does not reach its report.
_WRITE_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode(value: Any, where: str = "the value") -> str:
    """``value``'s typed JSON text (no insignificant whitespace, key order kept)."""
    return _WRITE_JSON(_plain(value, where))


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$tuple": lambda items: tuple(from_data(item) for item in items),
    "$set": lambda items: {from_data(item) for item in items},
    "$frozenset": lambda items: frozenset(from_data(item) for item in items),
    "$bytes": lambda text: base64.b64decode(text),
    "$bytearray": lambda text: bytearray(base64.b64decode(text)),
    "$dict": lambda pairs: {from_data(key): from_data(item) for key, item in pairs},
    "$float": float,
    "$complex": lambda parts: complex(from_data(parts[0]), from_data(parts[1])),
}


def from_data(data: Any) -> Any:
    """The Python value of typed-encoding JSON data (as ``json.loads`` gives it)."""
    if isinstance(data, list):
        return [from_data(item) for item in data]
    if isinstance(data, dict):
        if len(data) == 1:
            ((key, inner),) = data.items()
            if key in _DECODERS:
                return _DECODERS[key](inner)
        return {key: from_data(item) for key, item in data.items()}
    return data


def decode(text: str) -> Any:
    """The Python value of a typed JSON text."""
    return from_data(json.loads(text))


def to_literal(value: Any) -> str:
    """``value`` as Python literal source that ``parse_literal`` reads back to an equal value:
    ``repr`` for scalars, sets in canonical order, ``float('nan')`` for what repr cannot
    write as a literal."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({repr(value)!r})"
    if isinstance(value, list):
        return "[" + ", ".join(map(to_literal, value)) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(map(to_literal, value))
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, set | frozenset):
        members = ", ".join(to_literal(item) for item in _sorted_members(value))
        if isinstance(value, frozenset):
            return f"frozenset({{{members}}})" if value else "frozenset()"
        return f"{{{members}}}" if value else "set()"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{to_literal(key)}: {to_literal(item)}" for key, item in value.items()) + "}"
    if isinstance(value, bytearray):
        return f"bytearray({bytes(value)!r})"
    if isinstance(value, complex) and not (math.isfinite(value.real) and math.isfinite(value.imag)):
        return f"complex({to_literal(value.real)}, {to_literal(value.imag)})"
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return repr(value)
    raise NoForm(type(value).__name__, "the value")


class NotALiteral(ValueError):
    """Text that is not a Python literal of the encodable kinds."""


_CONSTRUCTORS = {"set": set, "frozenset": frozenset, "tuple": tuple, "list": list, "bytearray": bytearray}
_SPECIAL_FLOATS = {"nan", "inf", "-inf", "infinity", "-infinity", "+inf"}


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and not isinstance(node.value, type(Ellipsis)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _literal(node.operand)
        if isinstance(operand, int | float | complex) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        left, right = _literal(node.left), _literal(node.right)
        if isinstance(left, int | float) and isinstance(right, complex) and not isinstance(left, bool):
            return left + right if isinstance(node.op, ast.Add) else left - right
    if isinstance(node, ast.List):
        return [_literal(item) for item in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(item) for item in node.elts)
    if isinstance(node, ast.Set):
        return {_literal(item) for item in node.elts}
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(key): _literal(item) for key, item in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "dict"
        and not node.args
    ) and all(keyword.arg is not None for keyword in node.keywords):  # dict(a=1): a literal's spelling
        return {keyword.arg: _literal(keyword.value) for keyword in node.keywords}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "complex":
        parts = [_literal(arg) for arg in node.args]
        if not node.keywords and len(parts) == 2 and all(type(part) is float for part in parts):
            return complex(*parts)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and not node.keywords
        and len(node.args) <= 1
    ):
        name = node.func.id
        argument = _literal(node.args[0]) if node.args else None
        if name == "float" and isinstance(argument, str) and argument.strip().lower() in _SPECIAL_FLOATS:
            return float(argument)
        if name in _CONSTRUCTORS and (argument is None or isinstance(argument, list | tuple | set | bytes)):
            return _CONSTRUCTORS[name](() if argument is None else argument)
    raise NotALiteral(f"not a literal: {ast.unparse(node)[:80]}")


def parse_literal(text: str) -> Any:
    """The value of a Python literal (also ``set()``, ``frozenset({...})``, ``float('nan')``,
    ``dict(a=1)``, ``bytearray(b'...')``): parsed, never evaluated. ``NotALiteral`` otherwise."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise NotALiteral(f"not a literal: {exc}") from exc
    try:
        return _literal(tree.body)
    except (TypeError, RecursionError) as exc:  # an unhashable set member or dict key
        raise NotALiteral(f"not a literal: {exc}") from exc


def parse_call_arguments(text: str) -> tuple[list[Any], dict[str, Any]]:
    """The arguments written between a call's parentheses (``"[1, 2], (3, 4), key={5: 'a'}"``),
    each a literal: positional values and keyword values in order. Never evaluated."""
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise NotALiteral(f"not call arguments: {exc}") from exc
    if not isinstance(call, ast.Call) or any(isinstance(arg, ast.Starred) for arg in call.args):
        raise NotALiteral("not call arguments: a starred argument")
    if any(keyword.arg is None for keyword in call.keywords):
        raise NotALiteral("not call arguments: a ** argument")
    try:
        return [_literal(arg) for arg in call.args], {kw.arg: _literal(kw.value) for kw in call.keywords}  # type: ignore[misc]
    except (TypeError, RecursionError) as exc:
        raise NotALiteral(f"not a literal: {exc}") from exc


def values_equal(actual: Any, expected: Any) -> bool:
    """Python values equal as Python compares them, with floats within tolerance (NaN equals
    NaN), bools apart from numbers and a tuple apart from a list; dict key order ignored."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        if isinstance(actual, int) and isinstance(expected, int):
            return actual == expected
        if math.isnan(actual) or math.isnan(expected):
            return math.isnan(actual) and math.isnan(expected)
        return math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(actual, complex) and isinstance(expected, complex):
        return values_equal(actual.real, expected.real) and values_equal(actual.imag, expected.imag)
    if type(actual) is not type(expected):
        return False
    if isinstance(actual, list | tuple):
        return len(actual) == len(expected) and all(map(values_equal, actual, expected))
    if isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(values_equal(actual[k], expected[k]) for k in actual)
    return bool(actual == expected)


def json_equal(actual_json: str, expected_json: str) -> bool:
    """Two typed JSON texts hold equal values."""
    return values_equal(decode(actual_json), decode(expected_json))


def _is_plain(data: Any) -> bool:
    """JSON data with no typed tag anywhere: what ``json.dumps`` of some value wrote."""
    if isinstance(data, list):
        return all(map(_is_plain, data))
    if isinstance(data, dict):
        return not (len(data) == 1 and next(iter(data)) in _TAGS) and all(map(_is_plain, data.values()))
    return True


_NOT_JSON = object()


def _json_view(value: Any) -> Any:
    """What ``json.loads(json.dumps(value))`` gives (tuples as lists, keys as strings), or
    ``_NOT_JSON`` where ``json.dumps`` would fail."""
    if isinstance(value, list | tuple):
        items = [_json_view(item) for item in value]
        return _NOT_JSON if any(item is _NOT_JSON for item in items) else items
    if isinstance(value, dict):
        viewed: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, bool) or key is None:
                key = json.dumps(key)
            elif isinstance(key, int | float):
                key = _WRITE_JSON(key)
            elif not isinstance(key, str):
                return _NOT_JSON
            viewed[key] = _json_view(item)
            if viewed[key] is _NOT_JSON:
                return _NOT_JSON
        return viewed
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _NOT_JSON


def matches_expected(actual_json: str, expected_json: str) -> bool:
    """A run's typed return value against a source's expected output. An expectation in
    typed JSON compares as Python values; one in plain JSON (a record made with
    ``json.dumps``, which turned tuples into lists and int keys into strings) also matches
    the JSON form of the return value, since that is all such a record can say."""
    actual, expected_data = decode(actual_json), json.loads(expected_json)
    expected = from_data(expected_data)
    if values_equal(actual, expected):
        return True
    return _is_plain(expected_data) and values_equal(_json_view(actual), expected)


def call_literal(kwargs: dict[str, Any]) -> str:
    """Keyword arguments as written between a call's parentheses (``a=[1, 2], b=(3,)``): what
    ``parse_call_arguments`` reads back."""
    return ", ".join(f"{name}={to_literal(value)}" for name, value in kwargs.items())


def literal_of_json(text: str, arguments: bool = False) -> str:
    """A typed JSON text as a Python literal; ``arguments``: a dict of keyword arguments as
    call arguments."""
    value = decode(text)
    return call_literal(value) if arguments and isinstance(value, dict) else to_literal(value)
