"""The two prompts: translation (for the model that writes the CoE) and training (in the corpus).

- The **translation prompt** gives a translator model the question, the input, the code
  and the trace, and asks for a step-by-step solution that uses the exact values, writes
  no code, never mentions a trace, writes each stated value as ``name = value`` in inline
  code, and ends with ``Final answer: <Python literal>``. The shared instructions come
  first (the system message), so an engine with prefix caching reuses them across rows.
- The **training prompt** is the user turn of a training example: the question, the code
  and the input, and the request to predict the output by tracing the code step by step.

Values are shown and asked for as Python literals (a tuple as a tuple, ``True``, ``None``),
inputs as the keyword arguments of a call. ``answer_in_prompt`` tells whether the code or
problem text shown for an input already holds that input's expected output (a doctest or
an example), which the generate stage must not ask.

Token lengths are real counts when a tokenizer is available (a local model path, or the
serving model's own through its server: ``backends.OpenAIBackend``); otherwise
``estimate_tokens`` (characters / 3.5, rounded up). The estimate is close at the median but
not on the safe side: on 285 translation prompts (ok runs of the bundled sample and of the
first 300 PyEdu programs) it was 0.97 of SmolLM2's own count at the median and 0.58 at worst,
and 6 prompts under 3,000 by the estimate were over it in the model's tokens: a model's own
count is what holds a limit.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import xxhash

from tracepile.analysis.pyast import holding_ast_lock
from tracepile.analysis.values import decode, values_equal
from tracepile.translation.trace_model import UNPARSED, keyword_arguments, literal
from tracepile.vocab import SCRIPT_MODES, RunMode

PROMPT_VERSION = "coe-v2"  # part of every prompt hash: change it when the wording changes

TRANSLATION_INSTRUCTIONS = """\
You turn a program's real execution into a step-by-step solution of a question.
You are given the question, the input, the Python code that answers it, and a
line-by-line record of running that code on the input.
Write the solution as a person reasoning through the computation in plain language:
- follow the computation step by step and use the exact intermediate values it produced;
- write every value you state for a variable as inline code, like `total = 12`, and every
  value as a Python literal, as Python prints it: `True`, `None`, a tuple as `(1, 2)`;
- summarise long loops: the first iterations in full, then how the values evolve;
- do not write code, and never mention code execution, a trace, a log or a debugger;
- end with one line: Final answer: <the result as a Python literal>"""

TRAINING_REQUEST = (
    "Given the code and the input below, predict the output by tracing the code step by step. "
    "End with a line 'Final answer: <the output as a Python literal>'."
)
# a script's result is what it prints (run modes stdin and answer)
SCRIPT_REQUEST = (
    "Given the code and the input below, predict what the program prints by tracing the code step "
    "by step. End with a line 'Final answer: <the printed output>' (as a JSON string if it spans "
    "several lines)."
)
SCRIPT_ANSWER_NOTE = (
    "The result is what the program prints: end with the line Final answer: <the printed output> "
    "(as a JSON string if it spans several lines)."
)


@dataclass(frozen=True)
class ProgramRun:
    """One ok execution with what the prompts need of its program."""

    problem: str
    code: str
    entry_point: str
    input_json: str
    trace_text: str
    run_mode: str = RunMode.CALL


def _script_input(run: ProgramRun) -> str:
    """A script's input as the prompts show it: its standard input, or that it reads none."""
    stdin = decode(run.input_json).get("stdin", "")
    return f"Standard input:\n```\n{stdin}\n```" if stdin else "Standard input: none"


def translation_messages(run: ProgramRun) -> list[dict[str, str]]:
    if run.run_mode in SCRIPT_MODES:
        given, note = _script_input(run), f"\n\n{SCRIPT_ANSWER_NOTE}"
    else:
        arguments = keyword_arguments(run.input_json)
        given, note = f"Input (keyword arguments of {run.entry_point}):\n{arguments}", ""
    user = (
        f"Question:\n{run.problem.strip()}\n\n"
        f"{given}\n\n"
        f"Code:\n```python\n{run.code.strip()}\n```\n\n"
        f"Execution record:\n{run.trace_text.strip()}{note}"
    )
    return [{"role": "system", "content": TRANSLATION_INSTRUCTIONS}, {"role": "user", "content": user}]


def training_prompt(run: ProgramRun) -> str:
    if run.run_mode in SCRIPT_MODES:
        request, given = SCRIPT_REQUEST, _script_input(run)
    else:
        arguments = keyword_arguments(run.input_json)
        request, given = TRAINING_REQUEST, f"Input (keyword arguments of {run.entry_point}): {arguments}"
    return f"{run.problem.strip()}\n\n{request}\n\nCode:\n```python\n{run.code.strip()}\n```\n\n{given}"


def prompt_hash(messages: list[dict[str, str]], backend_version: str = "") -> str:
    """32 hex digits naming the exact prompt (and the backend's own version, e.g. the
    template renderer's): one part of a generation's key."""
    payload = json.dumps([PROMPT_VERSION, backend_version, messages], sort_keys=True, ensure_ascii=False)
    return xxhash.xxh3_128_hexdigest(payload.encode("utf-8"))


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 3.5)


def count_tokens(tokenizer: Any | None, messages: list[dict[str, str]]) -> int:
    """Prompt tokens: the chat template's real count with a tokenizer, else the estimate."""
    if tokenizer is not None:
        return len(tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True))
    return sum(estimate_tokens(m["content"]) + 4 for m in messages)


# --- is the answer in the prompt? ------------------------------------------------------------

_MISSING = object()  # a parameter without a default
_EXAMPLE_LINK = re.compile(
    r"\s*`?\s*(?:==|->|=>|→|:|\breturns?\b|\bshould (?:return|be|give)\b|\bgives\b|\boutputs?\b"
    r"|\bevaluates to\b|\bis\b)\s*`?\s*",
    re.IGNORECASE,
)
_IO_EXAMPLE = re.compile(r"\bInput\s*:\s*(.+?)\s*\n?\s*Output\s*:\s*([^\n]+)", re.IGNORECASE)
_DOCSTRING_END = re.compile(r"(\"{3}|'{3}).*$")  # a docstring's closing quotes and what follows
_TRAILING = " \t.,;`'\")]}"  # what may follow a literal in prose, cut one by one
_LONGEST_ANSWER = 400  # characters of text tried as a written output


@holding_ast_lock
def shows_its_answer(row: dict[str, Any]) -> bool:
    """Whether an execution row's problem text or code (what its prompts show) holds its
    output as an example: such a sample teaches copying, not tracing. Calls only: a script's
    shown code has no call of an entry function to match."""
    if (row.get("run_mode") or RunMode.CALL) != RunMode.CALL or row.get("return_json") is None:
        return False
    return answer_in_prompt(
        row["problem"], row["code"], row["entry_point"], row["input_json"], row["return_json"]
    )


def answer_in_prompt(problem: str, code: str, entry_point: str, input_json: str, expected_json: str) -> bool:
    """Whether the problem text or the code shown for an input holds that input's expected
    output where an example gives it: a doctest (``>>> f(3, 4)`` and the output line after
    it, earlier ``>>> x = ...`` bindings read), the call followed by ``==``, ``->``,
    ``returns`` ... and the output, or an ``Input: a = 3`` / ``Output: 7`` pair. Arguments
    are matched to the input by the entry function's parameters (defaults included), values
    compared as Python values. Pure; nothing is evaluated."""
    try:
        arguments, expected = decode(input_json), decode(expected_json)
    except ValueError:
        return False
    call = _Call(entry_point, _parameters(code, entry_point), arguments)
    return any(
        _in_doctests(text, call, expected)
        or _in_examples(text, call, expected)
        or _in_io_pairs(text, call, expected)
        for text in (problem, code)
    )


@dataclass(frozen=True)
class _Call:
    """The call asked about: the entry function, its parameters and the input's arguments."""

    name: str
    parameters: list[tuple[str, Any]]  # (name, default or _MISSING), in order
    arguments: dict[str, Any]

    def made_by(self, node: ast.AST, bindings: dict[str, Any]) -> bool:
        """Whether ``node`` is a call of the entry function with exactly the input's arguments."""
        if not isinstance(node, ast.Call):
            return False
        function = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if function != self.name or any(isinstance(a, ast.Starred) for a in node.args):
            return False
        positional = [_argument(arg, bindings) for arg in node.args]
        keywords = {kw.arg: _argument(kw.value, bindings) for kw in node.keywords if kw.arg is not None}
        if _UNREAD in positional or _UNREAD in keywords.values() or len(keywords) < len(node.keywords):
            return False
        return self._same(positional, keywords)

    def given(self, text: str) -> bool:
        """Whether ``text`` (``a = 3, b = [1]``, or ``3, [1]``) gives the input's arguments."""
        try:
            node = ast.parse(f"{self.name}({text})", mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
        return self.made_by(node, {})

    def _same(self, positional: list[Any], keywords: dict[str, Any]) -> bool:
        # the function's signature unknown: the input's names, in their order
        parameters = self.parameters or [(name, _MISSING) for name in self.arguments]
        names = [name for name, _ in parameters]
        if len(positional) > len(names) or set(keywords) - set(names):
            return False
        defaults = {name: default for name, default in parameters if default is not _MISSING}
        # an argument left at its default is the same call whether it is written or not
        bound = defaults | dict(zip(names, positional, strict=False)) | keywords
        asked = defaults | self.arguments
        return bound.keys() == asked.keys() and all(values_equal(bound[name], asked[name]) for name in bound)


_UNREAD = object()


def _argument(node: ast.expr, bindings: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in bindings:
        return bindings[node.id]
    value = literal(ast.unparse(node))
    return _UNREAD if value is UNPARSED else value


def _parameters(code: str, entry_point: str) -> list[tuple[str, Any]]:
    """The entry function's parameters with their literal defaults (``_MISSING`` where none or
    not a literal); empty when the code does not define it."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == entry_point
    ]
    if not found:
        return []
    arguments = found[-1].args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = [_MISSING] * (len(positional) - len(arguments.defaults)) + [
        _default(d) for d in arguments.defaults
    ]
    keyword_only = [_default(d) if d is not None else _MISSING for d in arguments.kw_defaults]
    return [(a.arg, d) for a, d in zip(positional, defaults, strict=True)] + [
        (a.arg, d) for a, d in zip(arguments.kwonlyargs, keyword_only, strict=True)
    ]


def _default(node: ast.expr) -> Any:
    value = literal(ast.unparse(node))
    return _MISSING if value is UNPARSED else value


def _shows(written: str, expected: Any) -> bool:
    """Whether ``written`` (an output as an example writes it) is the expected output: as a
    literal (or JSON) read back, or, for text, as printed."""
    written = written.strip()
    if not written or len(written) > _LONGEST_ANSWER:
        return False
    value = literal(written)
    if value is not UNPARSED and values_equal(value, expected):
        return True
    return isinstance(expected, str) and written == expected.strip()


def _in_doctests(text: str, call: _Call, expected: Any) -> bool:
    """``>>> f(3)`` (or ``>>> print(f(3))``) then the output lines, up to a blank line or the
    next prompt; ``>>> x = [1, 2]`` binds ``x`` for the lines after it."""
    lines = text.splitlines()
    bindings: dict[str, Any] = {}
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped.startswith(">>>"):
            index += 1
            continue
        source = [stripped[3:].strip()]
        index += 1
        while index < len(lines) and lines[index].strip().startswith("..."):
            source.append(lines[index].strip()[3:].strip())
            index += 1
        output = []
        while index < len(lines) and lines[index].strip() and not lines[index].strip().startswith(">>>"):
            line, closed = _DOCSTRING_END.subn("", lines[index].strip())
            output.append(line)
            index += 1
            if closed:  # the docstring ends: what follows is code
                break
        try:
            tree = ast.parse("\n".join(source))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for statement in tree.body:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target = statement.targets[0]
                if (
                    isinstance(target, ast.Name)
                    and (value := _argument(statement.value, bindings)) is not _UNREAD
                ):
                    bindings[target.id] = value
        last = tree.body[-1] if tree.body else None
        # the output lines belong to the block's last statement, when it is an expression
        shown = isinstance(last, ast.Expr) and any(call.made_by(n, bindings) for n in ast.walk(last))
        if shown and _shows("\n".join(output), expected):
            return True
    return False


def _in_examples(text: str, call: _Call, expected: Any) -> bool:
    """``f(3, 4) == 7``, ``f(3, 4) -> 7``, ``f(3, 4) returns 7`` anywhere in the text."""
    for start in (m.start() for m in re.finditer(rf"\b{re.escape(call.name)}\s*\(", text)):
        end = _closing_paren(text, text.index("(", start))
        if end is None or not call.given(text[text.index("(", start) + 1 : end]):
            continue
        link = _EXAMPLE_LINK.match(text, end + 1)
        if link is None:
            continue
        rest = text[link.end() :].split("\n", 1)[0][:_LONGEST_ANSWER]
        while rest:
            if _shows(rest, expected):
                return True
            rest = rest[:-1].rstrip(_TRAILING) if rest[-1] in _TRAILING else _drop_word(rest)
    return False


def _drop_word(text: str) -> str:
    """``text`` without its last word: the prose after an example's output."""
    cut = max(text.rfind(" "), text.rfind(","))
    return text[:cut].rstrip(_TRAILING) if cut > 0 else ""


def _closing_paren(text: str, opening: int) -> int | None:
    depth = 0
    for index in range(opening, min(len(text), opening + 2 * _LONGEST_ANSWER)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index
    return None


def _in_io_pairs(text: str, call: _Call, expected: Any) -> bool:
    """``Input: a = 3, b = 4`` then ``Output: 7`` (the form of many problem statements)."""
    for found in _IO_EXAMPLE.finditer(text):
        given, written = found.group(1), found.group(2)
        if not call.given(given):
            continue
        while written:
            if _shows(written, expected):
                return True
            written = _drop_word(written)
    return False
