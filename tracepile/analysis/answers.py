"""How a script run's printed output is judged against its expected output (run modes ``stdin``
and ``answer``). Pure and standard-library only: the sandbox's parent process imports it.

- ``stdout_matches``: competition judging, token by token, floats within 1e-6.
- ``answer_matches``: a math answer, as a number where both sides read as one (integers,
  decimals, ``a/b``, ``\\frac``, ``\\sqrt``, ``\\pi``, sympy's ``sqrt(2)/2``), else as
  normalised text, else element by element for lists and tuples.

Untrusted text is never evaluated: numbers are parsed, and an expression is walked over a
handful of AST node kinds in floating point (no ``eval``, no sympy).
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from fractions import Fraction

from tracepile.analysis.pyast import AST_LOCK
from tracepile.analysis.values import decode, matches_expected
from tracepile.vocab import RunMode

TOLERANCE = 1e-6  # relative (or absolute, for stdout tokens near zero), as judges allow
_ZERO_TOLERANCE = 1e-12  # absolute, so a float residue like -1.1e-16 still reads as 0
_MAX_EXPONENT = 400  # a decimal exponent beyond this is read as a float (Fraction would build 10**e)
_MAX_EXPRESSION_CHARS = 300  # longer text is not an answer worth evaluating
_MAX_NESTING = 4  # lists of tuples of ... compared element-wise this deep

_DECIMAL = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"  # unambiguous: no backtracking blow-up
_DECIMAL_RE = re.compile(_DECIMAL)
_RATIO_RE = re.compile(rf"({_DECIMAL})/({_DECIMAL})")
_FRAC_RE = re.compile(rf"([+-]?)\\frac\{{({_DECIMAL})\}}\{{({_DECIMAL})\}}|([+-]?)\\frac(\d)(\d)")
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_INTEGER_TOKEN_RE = re.compile(r"[+-]?\d+")
_TEXT_MACRO_RE = re.compile(r"\\(?:text|textbf|textrm|mathrm|mbox)\s*\{([^{}]*)\}")
_SPACE_RE = re.compile(r"\s+")
_SPACING = ("\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\ ", "{,}")
_OPEN, _CLOSE = "([{", ")]}"
# A printed Python list or set stands for the bare comma list a math answer writes.
_SAME_BRACKETS = ({"[]", ""}, {"{}", ""})


def stdout_matches(actual: str, expected: str) -> bool:
    """Token-wise, whitespace-insensitive; a token pair agrees as text or, where either has a
    fraction or exponent, as floats within 1e-6 absolute or relative to the expected."""
    got, want = actual.split(), expected.split()
    return len(got) == len(want) and all(_token_matches(a, e) for a, e in zip(got, want, strict=True))


def _token_matches(actual: str, expected: str) -> bool:
    if actual == expected:
        return True
    if not (_DECIMAL_RE.fullmatch(actual) and _DECIMAL_RE.fullmatch(expected)):
        return False
    # Integers are compared as written, as judges do: 10**20 + 1 is not 10**20.
    if _INTEGER_TOKEN_RE.fullmatch(actual) and _INTEGER_TOKEN_RE.fullmatch(expected):
        return False
    a, e = float(actual), float(expected)
    return abs(a - e) <= TOLERANCE * max(1.0, abs(e))


def answer_matches(printed: str, expected: str) -> bool:
    """The printed output (whole, stripped, or else its last non-empty line) is the expected
    answer: numerically within 1e-6 relative, else as normalised text, else element-wise."""
    whole = printed.strip()
    lines = [line for line in whole.splitlines() if line.strip()]
    candidates = dict.fromkeys([whole, *lines[-1:]])  # the last line only when there are several
    return any(_matches(candidate, expected) for candidate in candidates)


def _matches(actual: str, expected: str, depth: int = 0) -> bool:
    a, e = _unwrap(actual), _unwrap(expected)
    a_value, e_value = _number(a), _number(e)
    if a_value is not None and e_value is not None:
        return _close(a_value, e_value)
    if _text(a) == _text(e):
        return True
    # Nesting is bounded: printed output is untrusted and may be a million brackets deep.
    return depth < _MAX_NESTING and _sequences_match(a, e, depth)


def _unwrap(text: str) -> str:
    """The answer inside its LaTeX packaging: the last ``\\boxed{}``, ``$...$``, ``\\(...\\)``."""
    text = text.strip()
    boxed = text.rfind("\\boxed")
    if boxed >= 0:
        group = _brace_group(text, boxed + len("\\boxed"))
        if group is not None:
            text = group[0].strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(text) > len(left) + len(right) and text.startswith(left) and text.endswith(right):
            text = text[len(left) : -len(right)].strip()
    return _TEXT_MACRO_RE.sub(r"\1", text)


def _brace_group(text: str, start: int) -> tuple[str, int] | None:
    """The ``{...}`` group at ``start`` (spaces skipped) and the index after it, or None."""
    while start < len(text) and text[start] == " ":
        start += 1
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start + 1 : index], index + 1
    return None


def _text(text: str) -> str:
    for spacing in _SPACING:
        text = text.replace(spacing, "")
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    # Spaces are insignificant, except between digits: "1 2" is two numbers, not 12.
    return _SPACE_RE.sub(lambda space: " " if _between_digits(text, space) else "", text).lower()


def _between_digits(text: str, space: re.Match[str]) -> bool:
    start, end = space.span()
    return start > 0 and end < len(text) and text[start - 1].isdigit() and text[end].isdigit()


def _number(text: str) -> Fraction | float | None:
    """The number ``text`` writes, exactly where it can be (a Fraction), else as a float from a
    small closed expression language; None for anything else."""
    cleaned = _text(text).replace("\\$", "").replace("^{\\circ}", "").replace("^\\circ", "")
    cleaned = cleaned.removesuffix("\\%").removesuffix("%")  # 25\% is the number 25
    if _THOUSANDS_RE.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    exact = _exact(cleaned)
    return exact if exact is not None else _evaluate(cleaned)


def _exact(text: str) -> Fraction | None:
    if _DECIMAL_RE.fullmatch(text):
        return _decimal(text)
    if ratio := _RATIO_RE.fullmatch(text):
        return _divide("", ratio[1], ratio[2])
    if frac := _FRAC_RE.fullmatch(text):
        sign, numerator, denominator = (frac[1], frac[2], frac[3]) if frac[2] else (frac[4], frac[5], frac[6])
        return _divide(sign, numerator, denominator)
    return None


def _decimal(text: str) -> Fraction | None:
    exponent = text.lower().partition("e")[2]
    if exponent and abs(int(exponent)) > _MAX_EXPONENT:
        return None  # left to the float reading
    try:
        return Fraction(text)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        return None


def _divide(sign: str, numerator: str, denominator: str) -> Fraction | None:
    top, bottom = _decimal(numerator), _decimal(denominator)
    if top is None or not bottom:
        return None
    return -top / bottom if sign == "-" else top / bottom


def _close(a: Fraction | float, b: Fraction | float) -> bool:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        difference = abs(a - b)  # exact: 1/3 against 0.3333333 is decided without rounding
        return difference <= TOLERANCE * max(abs(a), abs(b)) or difference <= _ZERO_TOLERANCE
    return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=_ZERO_TOLERANCE)


# The expression language: numbers, + - * / ^ **, sqrt and pi, in LaTeX or Python spelling.
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_MACROS = {"\\pi": "pi", "\\cdot": "*", "\\times": "*"}
_IMPLICIT_PRODUCT_RE = re.compile(r"(?<=[\d)])(?=[(a-z])|(?<=\))(?=\d)")


def _evaluate(text: str) -> float | None:
    if len(text) > _MAX_EXPRESSION_CHARS:
        return None
    try:
        python = _latex_to_python(text)
        with AST_LOCK:
            tree = ast.parse(python, mode="eval")
        value = _walk(tree.body)
    except (SyntaxError, ValueError, ArithmeticError, RecursionError, MemoryError, TypeError):
        return None
    # A complex power (negative base, fractional exponent) is not a real answer.
    return value if isinstance(value, float) and math.isfinite(value) else None


def _latex_to_python(text: str) -> str:
    """``3\\sqrt{2}``, ``\\frac{\\pi}{4}``, ``2^{10}`` in Python syntax (ValueError where a macro
    has no argument)."""
    out: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("\\frac", index):
            top = _argument(text, index + len("\\frac"))
            bottom = _argument(text, top[1])
            out.append(f"(({_latex_to_python(top[0])})/({_latex_to_python(bottom[0])}))")
            index = bottom[1]
        elif text.startswith("\\sqrt", index):
            radicand = _argument(text, index + len("\\sqrt"))
            out.append(f"sqrt({_latex_to_python(radicand[0])})")
            index = radicand[1]
        elif macro := next((m for m in _MACROS if text.startswith(m, index)), None):
            out.append(_MACROS[macro])
            index += len(macro)
        else:
            out.append({"{": "(", "}": ")", "^": "**"}.get(text[index], text[index]))
            index += 1
    return _IMPLICIT_PRODUCT_RE.sub("*", "".join(out))


def _argument(text: str, start: int) -> tuple[str, int]:
    """A LaTeX macro argument: a brace group, or one character (``\\frac12``, ``\\sqrt2``)."""
    group = _brace_group(text, start)
    if group is not None:
        return group
    if start < len(text) and text[start].isalnum():
        return text[start], start + 1
    raise ValueError(f"a macro without its argument at {start}")


def _walk(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)  # floats throughout: a huge integer power overflows, never hangs
    if isinstance(node, ast.Name) and node.id == "pi":
        return math.pi
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _walk(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_walk(node.left), _walk(node.right))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "sqrt"
        and len(node.args) == 1
        and not node.keywords
    ):
        return math.sqrt(_walk(node.args[0]))
    raise ValueError(f"not a number: {type(node).__name__}")


def _sequences_match(actual: str, expected: str, depth: int) -> bool:
    """``[1, 4]`` printed against ``1, 4``; ``(0.5, 2)`` against ``\\left(\\frac12, 2\\right)``."""
    a, e = _elements(_text(actual)), _elements(_text(expected))
    if a is None or e is None:
        return False
    (a_brackets, a_items), (e_brackets, e_items) = a, e
    if a_brackets != e_brackets and {a_brackets, e_brackets} not in _SAME_BRACKETS:
        return False
    return len(a_items) == len(e_items) and all(
        _matches(x, y, depth + 1) for x, y in zip(a_items, e_items, strict=True)
    )


def _elements(text: str) -> tuple[str, list[str]] | None:
    """(outer brackets, top-level comma-separated items) for a list, tuple, set or interval;
    None for a single item."""
    text = text.replace("\\{", "{").replace("\\}", "}")
    brackets = ""
    if len(text) >= 2 and text[0] in _OPEN and text[-1] in _CLOSE and _outer_pair(text):
        brackets, text = text[0] + text[-1], text[1:-1]
    items: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    items.append(text[start:])
    return (brackets, items) if brackets or len(items) > 1 else None


def _outer_pair(text: str) -> bool:
    """The first bracket closes at the last character (so ``(1)+(2)`` is not one group).
    Intervals may mix kinds, ``(0, 1]``, so depth counts any bracket."""
    depth = 0
    for index, char in enumerate(text):
        depth += 1 if char in _OPEN else -1 if char in _CLOSE else 0
        if depth == 0:
            return index == len(text) - 1
    return False


def result_matches(run_mode: str, result_json: str, expected_json: str) -> bool:
    """Whether a run's result is the expected output, as its run mode (``vocab.RunMode``)
    compares them: a return value JSON-equal; printed output token-wise (competition
    judging) or as a math answer."""
    if run_mode == RunMode.CALL:
        return matches_expected(result_json, expected_json)
    printed, expected = decode(result_json), decode(expected_json)  # typed JSON: a str is plain JSON
    if not isinstance(printed, str) or not isinstance(expected, str):
        return False
    return (
        stdout_matches(printed, expected) if run_mode == RunMode.STDIN else answer_matches(printed, expected)
    )
