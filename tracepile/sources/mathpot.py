"""The `math` source kind: one program-of-thought solution per JSON line -> a script that prints
its answer (run mode ``answer``).

Formats, recognised per record:

- OpenMathInstruct-1 (``nvidia/OpenMathInstruct-1``): ``question`` (``problem`` in later
  releases), ``generated_solution`` (text with ``<llm-code>...</llm-code>`` blocks, each
  usually followed by the ``<llm-code-output>`` the dataset's interpreter printed),
  ``expected_answer``, ``predicted_answer``, ``is_correct``, ``dataset`` (gsm8k, math),
  ``error_message``, ``generation_type``. The blocks ran in one interpreter session, so they
  are joined, in order, into one program.
- plain: ``question``, ``code``, ``answer``.

The solutions ran in a Jupyter-like shell, where the value of a final bare expression is the
output; such a last statement is wrapped in ``print(...)`` in place, line numbers unchanged.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from tracepile.analysis.hashing import canonical_json, content_id
from tracepile.analysis.pyast import parse
from tracepile.config import MathConfig
from tracepile.sources.records import Rejection, decode_record, json_type_name
from tracepile.vocab import SCRIPT_ENTRY, Domain, IngestReason, RunMode, SourceKind

SOURCE_KIND = SourceKind.MATH
OPENMATHINSTRUCT_SOURCE = "openmathinstruct-1"
PLAIN_SOURCE = "math-plain"
IO_REQUIREMENTS = "Prints the answer."
# A solution the dataset marks wrong, skipped under ``correct_only``: a record the dataset
# holds that is not wanted, so a reason of vocab.SKIPPED_RECORD_REASONS (no reject-rate alarm).
# Wanted: a reason of its own, IngestReason.INCORRECT_SOLUTION = "incorrect_solution".
INCORRECT_SOLUTION_REASON = IngestReason.INCORRECT_SOLUTION
CLAIMED_OUTPUT_CHARS = 2000  # of each <llm-code-output> the dataset shows, kept in meta_json

_CODE_BLOCK_RE = re.compile(r"<llm-code>(.*?)</llm-code>", re.DOTALL)
_CODE_OUTPUT_RE = re.compile(r"<llm-code-output>(.*?)</llm-code-output>", re.DOTALL)
# Lines as the tokenizer counts them (str.splitlines also splits at \f, \x1c, \u2028...).
_LINE_RE = re.compile(r".*?(?:\r\n|\r|\n)|.+\Z", re.DOTALL)
_ANSWER_TYPES = (str, int, float)  # a plain file may give the answer as a JSON number
_OPENMATH_OPTIONAL: dict[str, tuple[type, ...]] = {
    "predicted_answer": (str,),
    "is_correct": (bool,),
    "dataset": (str,),
    "error_message": (str,),
    "generation_type": (str,),
}
_FORMATS = (
    "OpenMathInstruct-1 (question or problem, generated_solution, expected_answer) "
    "or plain (question, code, answer)"
)


def _check(record: dict[str, Any], field: str, types: tuple[type, ...], required: bool) -> Rejection | None:
    value = record.get(field)
    if value is None:
        return Rejection(IngestReason.MISSING_FIELD, field) if required else None
    # bool is an int to isinstance; an answer of `true` is not a number.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        expected = " or ".join(json_type_name(t()) for t in types)
        return Rejection(IngestReason.WRONG_TYPE, f"{field} is {json_type_name(value)}, expected {expected}")
    return None


def _answer_text(value: str | int | float) -> str:
    return value if isinstance(value, str) else repr(value)


def print_final_expression(code: str, tree: ast.Module) -> tuple[str, bool]:
    """``code`` with its last statement, when a bare expression other than a ``print(...)``
    call, wrapped in ``print(...)`` in place (every line keeps its number); and whether it was."""
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr) or (
        isinstance(last.value, ast.Call)
        and isinstance(last.value.func, ast.Name)
        and last.value.func.id == "print"
    ):
        return code, False
    assert last.end_lineno is not None and last.end_col_offset is not None  # set by ast.parse
    # A bare tuple (`a, b`) shows as one tuple, as the shell showed it, not as print's arguments.
    opening, closing = ("print((", "))") if isinstance(last.value, ast.Tuple) else ("print(", ")")
    lines = _LINE_RE.findall(code)
    # AST column offsets count UTF-8 bytes; the end goes in first so the start stays valid.
    for line_number, offset, text in (
        (last.end_lineno, last.end_col_offset, closing),
        (last.lineno, last.col_offset, opening),
    ):
        encoded = lines[line_number - 1].encode("utf-8")
        lines[line_number - 1] = (encoded[:offset] + text.encode() + encoded[offset:]).decode("utf-8")
    return "".join(lines), True


def _openmath_program(record: dict[str, Any]) -> tuple[str, dict[str, Any]] | Rejection:
    solution: str = record["generated_solution"]
    blocks = _CODE_BLOCK_RE.findall(solution)
    if not blocks:
        return Rejection(IngestReason.NO_CODE_BLOCK, "generated_solution has no <llm-code> block")
    # Each block sits on its own lines between the tags; the session ran them one after another.
    code = "\n".join(block.strip("\n").rstrip() for block in blocks) + "\n"
    claimed = [output.strip("\n")[:CLAIMED_OUTPUT_CHARS] for output in _CODE_OUTPUT_RE.findall(solution)]
    meta = {
        "format": OPENMATHINSTRUCT_SOURCE,
        "expected_answer": _answer_text(record["expected_answer"]),
        **{field: record.get(field) for field in _OPENMATH_OPTIONAL},
        "claimed_outputs": claimed,
        "code_blocks": len(blocks),
    }
    return code, meta


def parse_math_record(raw: bytes, settings: MathConfig) -> dict[str, Any] | Rejection:
    """Parse one line. Returns the program's content fields (with ``program_id``) or why not."""
    record = decode_record(raw)
    if isinstance(record, Rejection):
        return record

    if "generated_solution" in record:
        question_field = "problem" if "question" not in record and "problem" in record else "question"
        checks = [
            _check(record, question_field, (str,), True),
            _check(record, "generated_solution", (str,), True),
            _check(record, "expected_answer", _ANSWER_TYPES, True),
            *(_check(record, field, types, False) for field, types in _OPENMATH_OPTIONAL.items()),
        ]
        source = OPENMATHINSTRUCT_SOURCE
    elif "code" in record:
        question_field, source = "question", PLAIN_SOURCE
        checks = [
            _check(record, "question", (str,), True),
            _check(record, "code", (str,), True),
            _check(record, "answer", _ANSWER_TYPES, True),
            _check(record, "dataset", (str,), False),
        ]
    else:
        return Rejection(
            IngestReason.UNKNOWN_FORMAT, f"expected {_FORMATS}; got fields {sorted(record)[:20]}"
        )
    rejection = next((check for check in checks if check is not None), None)
    if rejection is not None:
        return rejection

    if settings.correct_only and record.get("is_correct") is False:
        return Rejection(INCORRECT_SOLUTION_REASON, "is_correct is false (ingest.math.correct_only)")
    if source == OPENMATHINSTRUCT_SOURCE:
        program = _openmath_program(record)
        if isinstance(program, Rejection):
            return program
        code, meta = program
    else:
        code = record["code"]
        meta = {"format": PLAIN_SOURCE, "expected_answer": _answer_text(record["answer"])}
    if not code.strip():
        return Rejection(IngestReason.EMPTY_CODE, "the program is blank")
    try:
        tree = parse(code)
    except SyntaxError as exc:
        return Rejection(IngestReason.SYNTAX_ERROR, f"line {exc.lineno}: {exc.msg}")
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return Rejection(IngestReason.SYNTAX_ERROR, f"{type(exc).__name__}: {exc}")
    code, meta["final_expression_printed"] = print_final_expression(code, tree)

    content = {
        "source_kind": SOURCE_KIND.value,
        "source": source,
        "category": record.get("dataset") or "",
        "problem": record[question_field],
        "io_requirements": IO_REQUIREMENTS,
        "code": code,
        "entry_point": SCRIPT_ENTRY,
        "run_mode": RunMode.ANSWER.value,
        "inputs": [{"input_json": "{}", "expected_output_json": canonical_json(meta["expected_answer"])}],
    }
    return {
        "program_id": content_id(content),
        **content,
        "domain": Domain.MATH.value,
        "meta_json": canonical_json(meta),
    }
