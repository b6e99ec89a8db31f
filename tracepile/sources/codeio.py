"""The `codeio` source kind: one CodeI/O-style JSON record per line -> a normalised program.

Three published layouts are read (the first present code field picks one):

- CodeI/O / PyEdu (``hkust-nlp/CodeIO-PyEdu-Reasoning-Raw``): ``problem_description,
  io_requirements, refcode, funcname, ios[{input, output}], source, category, meta``.
  ``refcode`` and ``funcname`` are required; ``ios`` too, unless the record carries the
  ``input_generator`` its I/O pairs were (or are to be) drawn from.
- reasoning-gym's ``codeio.jsonl``: ``task_description, input_output_spec, code_sample,
  input_generator`` (``def generate_inputs(rng: Random)``) and scores; entry ``main_solution``.
- reasoning-gym's preprocessing output: ``query, parameters, reference_code, input_generator``
  (``def input_generator()``); entry ``main``.

A record with no I/O pairs but an input generator becomes a program with no inputs whose
``meta_json`` holds the generator (``input_generator``); the ingest stage runs it in the sandbox
to draw the inputs (``udfs/generate_inputs.py``). Optional fields may be missing or null but
never of the wrong type.

Values are kept as Python has them (``analysis/values.py``'s typed encoding, dict key order
kept). JSON cannot write a tuple, a set, bytes or an int-keyed dict, so a record may say
``"io_format": "python"``: then each ``ios[].input`` is the text between a call's parentheses
(``"[1, 2], (3, 4), key={5: 'a'}"``, positional arguments named by the entry's signature) and
each ``ios[].output`` a string holding a Python literal; both are parsed, never evaluated.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from tracepile.analysis.hashing import canonical_json, content_id
from tracepile.analysis.values import NoForm, NotALiteral, encode, parse_call_arguments, parse_literal
from tracepile.sources.records import Rejection, decode_record, json_type_name
from tracepile.vocab import Domain, IngestReason, RunMode, SourceKind

SOURCE_KIND = SourceKind.CODEIO
# "json": ios[].input an object of keyword arguments, ios[].output any JSON; "python": ios[].input
# the text between a call's parentheses and ios[].output a Python literal, read by literal parsing
IO_FORMATS = ("json", "python")
GENERATOR_FIELD = "input_generator"  # the record's field, and the meta_json key that carries it

# The raw category is kept beside the domain, which is one of a closed set (vocab.Domain).
_DOMAIN_KEYWORDS = (
    (Domain.COMPETITION, ("competition", "contest", "codeforces", "leetcode", "olympiad")),
    (Domain.MATH, ("math", "arithmetic", "number theory", "geometry", "algebra", "probability")),
    (Domain.LOGIC_PUZZLES, ("puzzle", "logic")),
    (Domain.ALGORITHMS, ("algorithm", "data structure", "graph", "sort", "search", "dynamic")),
)


@dataclass(frozen=True)
class Layout:
    """Where one published record layout keeps a program's parts. ``entry_point`` None: the
    record names its entry function in ``funcname``; else the layout's fixed name. ``meta`` None:
    everything the layout does not read is the record's meta; else that field is."""

    code: str
    problem: str
    io_requirements: str
    entry_point: str | None
    meta: str | None


CODEIO_LAYOUT = Layout("refcode", "problem_description", "io_requirements", None, "meta")
LAYOUTS = (
    CODEIO_LAYOUT,
    Layout("code_sample", "task_description", "input_output_spec", "main_solution", None),
    Layout("reference_code", "query", "parameters", "main", None),
)


def domain_for_category(category: str) -> str:
    lowered = category.lower()
    for domain, keywords in _DOMAIN_KEYWORDS:
        if any(word in lowered for word in keywords):
            return domain.value
    return Domain.GENERAL.value


def _parameters(code: str, entry_point: str) -> list[str] | None:
    """The names a positional argument of ``entry_point`` fills, in order; None when the code
    does not parse or defines no such top-level function (the dedup filters say why later)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            return [argument.arg for argument in (*node.args.posonlyargs, *node.args.args)]
    return None


def _python_input(text: Any, where: str, parameters: list[str] | None) -> dict[str, Any] | Rejection:
    """``io_format: python``: an input is the text between a call's parentheses, each argument a
    Python literal (parsed, never evaluated); positional ones are named by the entry's signature."""
    if not isinstance(text, str):
        return Rejection(IngestReason.WRONG_TYPE, f"{where} is {json_type_name(text)}, expected string")
    try:
        positional, keywords = parse_call_arguments(text)
    except NotALiteral as exc:
        return Rejection(IngestReason.WRONG_TYPE, f"{where} is not call arguments of literals: {exc}")
    if positional and parameters is None:
        return Rejection(
            IngestReason.UNSUPPORTED_CALL_FORM, f"{where} has positional arguments but no entry signature"
        )
    names = parameters or []
    if len(positional) > len(names):
        return Rejection(
            IngestReason.UNSUPPORTED_CALL_FORM,
            f"{where} gives {len(positional)} positional arguments; the entry takes {len(names)}",
        )
    named = dict(zip(names, positional, strict=False))
    if twice := sorted(named.keys() & keywords.keys()):
        return Rejection(IngestReason.WRONG_TYPE, f"{where} gives {', '.join(twice)} twice")
    return named | keywords


def _input_json(kwargs: dict[str, Any], where: str) -> str | Rejection:
    """Keyword arguments in the typed encoding: sorted by name (a call cannot tell their order,
    and the ids of earlier corpora stay), every value inside in its own order."""
    try:
        return encode({name: kwargs[name] for name in sorted(kwargs)}, where)
    except NoForm as exc:
        return Rejection(IngestReason.WRONG_TYPE, str(exc))


def _expected(item: dict[str, Any], where: str, python: bool) -> str | Rejection | None:
    """A missing "output" is unknown (SQL NULL); "output": null means the call returns None."""
    if "output" not in item:
        return None
    output = item["output"]
    if python:
        if not isinstance(output, str):
            return Rejection(IngestReason.WRONG_TYPE, f"{where} is {json_type_name(output)}, expected string")
        try:
            output = parse_literal(output)
        except NotALiteral as exc:
            return Rejection(IngestReason.WRONG_TYPE, f"{where} is not a Python literal: {exc}")
    return encode(output, where)


def _normalise_ios(
    ios: list[Any], python: bool, parameters: list[str] | None
) -> list[dict[str, str | None]] | Rejection:
    inputs: list[dict[str, str | None]] = []
    for index, item in enumerate(ios):
        if not isinstance(item, dict):
            got = json_type_name(item)
            return Rejection(IngestReason.WRONG_TYPE, f"ios[{index}] is {got}, expected object")
        if "input" not in item:
            return Rejection(IngestReason.MISSING_FIELD, f"ios[{index}].input")
        if python:
            kwargs = _python_input(item["input"], f"ios[{index}].input", parameters)
            if isinstance(kwargs, Rejection):
                return kwargs
        elif isinstance(item["input"], dict):
            kwargs = item["input"]
        else:
            got = json_type_name(item["input"])
            return Rejection(
                IngestReason.WRONG_TYPE,
                f"ios[{index}].input is {got}, expected object (kwargs), or a string of call arguments "
                'with "io_format": "python"',
            )
        input_json = _input_json(kwargs, f"ios[{index}].input")
        expected = _expected(item, f"ios[{index}].output", python)
        for parsed in (input_json, expected):
            if isinstance(parsed, Rejection):
                return parsed
        inputs.append({"input_json": input_json, "expected_output_json": expected})  # type: ignore[dict-item]
    return inputs


def _generator(record: dict[str, Any]) -> Any:
    """The record's input generator; a blank one is none (the dataset's failed generations)."""
    value = record.get(GENERATOR_FIELD)
    return None if isinstance(value, str) and not value.strip() else value


def _checked_types(record: dict[str, Any], layout: Layout) -> Rejection | None:
    """A required field missing, or the first field present with the wrong type."""
    required = {layout.code: str} | ({"funcname": str} if layout.entry_point is None else {})
    for field, expected_type in required.items():
        if record.get(field) is None:
            return Rejection(IngestReason.MISSING_FIELD, field)
        if not isinstance(record[field], expected_type):
            got = json_type_name(record[field])
            return Rejection(IngestReason.WRONG_TYPE, f"{field} is {got}, expected string")
    if record.get("ios") is None and _generator(record) is None:
        return Rejection(IngestReason.MISSING_FIELD, "ios" if layout is CODEIO_LAYOUT else GENERATOR_FIELD)
    typed = (layout.problem, str), (layout.io_requirements, str), ("source", str), ("category", str)
    for field, expected_type in (*typed, ("ios", list), (GENERATOR_FIELD, str)):
        value = record.get(field)
        if value is not None and not isinstance(value, expected_type):
            got, expected = json_type_name(value), json_type_name(expected_type())
            return Rejection(IngestReason.WRONG_TYPE, f"{field} is {got}, expected {expected}")
    return None


def _meta(record: dict[str, Any], layout: Layout) -> Any:
    """The record's meta: its ``meta`` field, or for a layout without one what it does not read
    (reasoning-gym's generation counts and quality scores); None when there is none."""
    if layout.meta is not None:
        return record.get(layout.meta)
    read = {
        layout.code, layout.problem, layout.io_requirements, "source", "category", "ios", "io_format",
        GENERATOR_FIELD,
    }  # fmt: skip
    rest = {key: value for key, value in record.items() if key not in read}
    return rest or None


def _with_generator(meta: Any, generator: str) -> dict[str, Any]:
    """The record's meta with the generator beside it (a meta that is not an object kept whole)."""
    if meta is None:
        return {GENERATOR_FIELD: generator}
    return {**(meta if isinstance(meta, dict) else {"meta": meta}), GENERATOR_FIELD: generator}


def parse_codeio_record(raw: bytes) -> dict[str, Any] | Rejection:
    """Parse one line. Returns the program's content fields (with ``program_id``) or why not."""
    record = decode_record(raw)
    if isinstance(record, Rejection):
        return record
    layout = next((lay for lay in LAYOUTS if record.get(lay.code) is not None), CODEIO_LAYOUT)
    wrong = _checked_types(record, layout)
    if wrong is not None:
        return wrong
    code: str = record[layout.code]
    if not code.strip():
        return Rejection(IngestReason.EMPTY_CODE, f"{layout.code} is blank")
    entry_point: str = layout.entry_point or record["funcname"].strip()
    if not entry_point.isidentifier():
        return Rejection(
            IngestReason.INVALID_ENTRY_POINT, f"funcname {entry_point[:80]!r} is not an identifier"
        )
    generator: str | None = _generator(record)
    io_format = record.get("io_format") or "json"
    if io_format not in IO_FORMATS:
        return Rejection(
            IngestReason.WRONG_TYPE, f"io_format {str(io_format)[:40]!r} is none of {IO_FORMATS}"
        )
    python = io_format == "python"
    inputs = _normalise_ios(
        record.get("ios") or [], python, _parameters(code, entry_point) if python else None
    )
    if isinstance(inputs, Rejection):
        return inputs

    category = record.get("category") or ""
    content = {
        "source_kind": SOURCE_KIND.value,
        "source": record.get("source") or "unknown",
        "category": category,
        "problem": record.get(layout.problem) or "",
        "io_requirements": record.get(layout.io_requirements) or "",
        "code": code,
        "entry_point": entry_point,
        "inputs": inputs,
    }
    meta = _meta(record, layout)
    if inputs or generator is None:  # I/O pairs given: ids as they always were, no generator kept
        program_id = content_id(content)
    else:  # the inputs are the generator's: two generators are two programs
        program_id = content_id({**content, GENERATOR_FIELD: generator})
        meta = _with_generator(meta, generator)
    return {
        "program_id": program_id,
        **content,
        "run_mode": RunMode.CALL.value,  # outside the content: a call is how programs always ran
        "domain": domain_for_category(category),
        "meta_json": canonical_json(meta) if meta is not None else None,
    }
