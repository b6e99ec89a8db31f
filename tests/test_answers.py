"""Judging printed output: competition tokens (``stdout_matches``) and math answers
(``answer_matches``), on the forms real programs print and real datasets write (pure Python)."""

from __future__ import annotations

from fractions import Fraction
from random import Random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tracepile.analysis.answers import answer_matches, stdout_matches

# (printed by a program, expected answer as a dataset writes it)
MATCHING_ANSWERS = [
    ("29.0\n", "29"),  # a float sum of integers, printed by the Jupyter-style rewrite
    ("7.999999999999998\n", "8"),  # numpy.linalg.det
    ("1/9\n", "\\dfrac{1}{9}"),  # fractions.Fraction
    ("7/12\n", "\\frac{7}{12}"),  # sympy.Rational
    ("0.5833333333333334\n", "\\frac{7}{12}"),
    ("-0.5\n", "-\\frac{1}{2}"),
    ("0.5\n", "\\frac12"),
    ("3*sqrt(2)\n", "3\\sqrt{2}"),  # sympy's printing against LaTeX
    ("4.242640687119285\n", "3\\sqrt2"),
    ("sqrt(3)/2\n", "\\frac{\\sqrt{3}}{2}"),
    ("pi/4\n", "\\frac{\\pi}{4}"),
    ("1024\n", "2^{10}"),
    ("1000\n", "1,000"),
    ("1000\n", "1{,}000"),
    ("25.0\n", "25\\%"),
    ("18\n", "\\$18"),
    ("1.5e-3\n", "0.0015"),
    ("-1.1102230246251565e-16\n", "0"),  # float residue of an exact zero
    ("The roots are:\n[1, 4]\n", "1, 4"),  # the last line, a printed list against a bare list
    ("[1, 4]\n", "\\boxed{1,4}"),
    ("(1/2, 2)\n", "\\left( \\frac{1}{2}, 2 \\right)"),
    ("(0, 1]\n", "(0,1]"),
    ("Yes\n", "\\text{yes}"),
    ("(A)\n", "\\text{(A)}"),
    ("x**2 + 1\n", "x**2+1"),
    ("\\boxed{5}\n", "$5$"),
]
DIFFERENT_ANSWERS = [
    ("20.0\n", "5"),  # the fixture's wrong Betty solution
    ("8\n", "9"),
    ("0.333\n", "\\frac{1}{3}"),  # 1e-3 off: a rounded print is not the answer
    ("1 2\n", "12"),  # two numbers are not one
    ("[1, 4]\n", "(1, 4)"),  # a list is not a point
    ("(0, 1)\n", "[0, 1]"),  # an open interval is not a closed one
    ("[1, 4]\n", "1, 4, 5"),
    ("3*sqrt(3)\n", "3\\sqrt{2}"),
    ("1e999999999\n", "1"),  # absurd exponents are read, not built
    ("\n", "0"),
    ("B\n", "\\text{(A)}"),
]


@pytest.mark.parametrize(("printed", "expected"), MATCHING_ANSWERS)
def test_answer_matches(printed: str, expected: str) -> None:
    assert answer_matches(printed, expected)


@pytest.mark.parametrize(("printed", "expected"), DIFFERENT_ANSWERS)
def test_answer_differs(printed: str, expected: str) -> None:
    assert not answer_matches(printed, expected)


def test_answer_reading_is_bounded_on_hostile_output() -> None:
    assert not answer_matches("[" * 100_000 + "]" * 100_000, "1")
    assert answer_matches("(" * 149 + "1" + ")" * 149, "1")  # deep, but within the parser's limit
    assert not answer_matches("(" * 250 + "1" + ")" * 250, "1")  # too long to evaluate
    assert not answer_matches("9" * 5000, "1")  # past int()'s digit limit
    assert answer_matches("[[[[1]]]]", "[[[[1]]]]")


@pytest.mark.parametrize(
    ("actual", "expected", "same"),
    [
        ("1 2 3\n", "1\n2\n3", True),
        ("  YES  \n", "YES", True),
        ("", "\n", True),
        ("0.3333333\n", "0.333333333", True),  # 3.3e-8 off
        ("1000000.5\n", "1000000.0", True),  # 0.5 off is within 1e-6 relative of 1e6
        ("0.333\n", "0.334", False),
        ("1 2\n", "2 1", False),
        ("1 2 3\n", "1 2", False),
        ("100000000000000000001\n", "100000000000000000000", False),  # integers as written
        ("yes\n", "YES", False),
        ("nan\n", "nan", True),
        ("inf\n", "1e999", False),
    ],
)
def test_stdout_matches(actual: str, expected: str, same: bool) -> None:
    assert stdout_matches(actual, expected) is same


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_an_integer_matches_its_latex_and_formatted_forms(n: int) -> None:
    for expected in (f"\\boxed{{{n}}}", f"${n}$", f"{n:,}", f"{n}.0", f"\\frac{{{2 * n}}}{{2}}"):
        assert answer_matches(f"{n}\n", expected), expected


@given(st.integers(-1000, 1000), st.integers(1, 1000))
def test_a_fraction_matches_however_it_is_written(numerator: int, denominator: int) -> None:
    value = Fraction(numerator, denominator)
    latex = (
        f"\\frac{{{numerator}}}{{{denominator}}}"
        if numerator >= 0
        else f"-\\dfrac{{{-numerator}}}{{{denominator}}}"
    )
    assert answer_matches(f"{value}\n", latex)  # as fractions/sympy print it, reduced
    assert answer_matches(f"{float(value)!r}\n", f"\\boxed{{{latex}}}")  # as a float prints it


@given(st.fractions(max_denominator=1000), st.fractions(max_denominator=1000))
def test_different_fractions_differ(a: Fraction, b: Fraction) -> None:
    assume(abs(a - b) > Fraction(1, 10**5) * max(abs(a), abs(b), 1))
    assert not answer_matches(f"{a}\n", f"\\frac{{{b.numerator}}}{{{b.denominator}}}")


@given(
    st.floats(min_value=1e-3, max_value=1e9) | st.floats(min_value=-1e9, max_value=-1e-3),
    st.floats(min_value=-1e-7, max_value=1e-7),
)
def test_float_noise_under_the_tolerance_matches(x: float, relative_noise: float) -> None:
    assert answer_matches(f"{x * (1 + relative_noise)!r}\n", repr(x))


@given(
    st.floats(min_value=1e-3, max_value=1e9) | st.floats(min_value=-1e9, max_value=-1e-3),
    st.floats(min_value=1e-5, max_value=1.0),
    st.sampled_from([1, -1]),
)
def test_float_error_over_the_tolerance_differs(x: float, relative_error: float, sign: int) -> None:
    assert not answer_matches(f"{x * (1 + sign * relative_error)!r}\n", repr(x))


@given(st.text(max_size=200))
def test_any_text_matches_itself_and_never_raises(text: str) -> None:
    assert answer_matches(text, text)
    assert isinstance(answer_matches(text, "42"), bool)


_TOKENS = st.lists(st.from_regex(r"[A-Za-z0-9.+-]{1,8}", fullmatch=True), min_size=1, max_size=8)
# Words and integers: two of them that differ as text differ to a judge (1.0 and 1.00 would not).
_DISTINCT_TOKENS = st.lists(
    st.from_regex(r"[A-Za-z]{1,6}|[0-9]{1,6}", fullmatch=True), min_size=2, max_size=8
)


@given(_TOKENS, st.sampled_from([" ", "\n", "\t", "  \n "]))
def test_stdout_ignores_how_tokens_are_spaced(tokens: list[str], separator: str) -> None:
    assert stdout_matches(separator.join(tokens) + "\n", " ".join(tokens))


@given(_DISTINCT_TOKENS, st.randoms(use_true_random=False))
def test_reordered_tokens_do_not_match(tokens: list[str], rng: Random) -> None:
    shuffled = list(tokens)
    rng.shuffle(shuffled)
    assume(shuffled != tokens)
    assert not stdout_matches(" ".join(shuffled), " ".join(tokens))


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=5), st.data())
def test_stdout_floats_within_1e_6(values: list[float], data: st.DataObject) -> None:
    noise = data.draw(st.floats(min_value=-1e-8, max_value=1e-8))
    printed = " ".join(repr(v + noise * max(1.0, abs(v))) for v in values)
    assert stdout_matches(printed, " ".join(repr(v) for v in values))
    off = " ".join(repr(v + 1e-4 * max(1.0, abs(v))) for v in values)
    assert not stdout_matches(off, " ".join(repr(v) for v in values))
