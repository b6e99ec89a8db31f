"""Issue 23 item 5, the prompt side: ``answer_in_prompt`` finds an input's expected output in the
code or problem text shown for it, on docstrings as real repositories write them (the three
below are from TheAlgorithms/Python) and on example lines of problem statements."""

from __future__ import annotations

import pytest

from tracepile.analysis.values import encode
from tracepile.translation.prompts import answer_in_prompt

GCD = '''\
def greatest_common_divisor(a: int, b: int) -> int:
    """
    Calculate Greatest Common Divisor (GCD).
    >>> greatest_common_divisor(24, 40)
    8
    >>> greatest_common_divisor(-3, 9)
    3
    >>> greatest_common_divisor(24, 40) == gcd_by_iterative(24, 40)
    True
    """
    return abs(b) if a == 0 else greatest_common_divisor(b % a, a)
'''

REVERSE_WORDS = '''\
def reverse_words(input_str: str) -> str:
    """
    Reverses words in a given string
    >>> sentence = "I love Python"
    >>> reverse_words(sentence) == " ".join(sentence.split()[::-1])
    True
    >>> reverse_words(sentence)
    'Python love I'
    """
    input_str = input_str.split(" ")
    return " ".join(reversed(input_str))
'''

PRIME_FACTORS = '''\
def prime_factors(n: int) -> list[int]:
    """
    Returns prime factors of n as a list.

    >>> prime_factors(100)
    [2, 2, 5, 5]
    >>> prime_factors(10**-2)
    []
    >>> prime_factors('hello')
    Traceback (most recent call last):
        ...
    TypeError: '<=' not supported between instances of 'int' and 'str'
    """
    i = 2
    factors = []
    while i * i <= n:
        if n % i:
            i += 1
        else:
            n //= i
            factors.append(i)
    if n > 1:
        factors.append(n)
    return factors
'''

SPLIT = '''\
def split_pair(text: str, sep: str = ",") -> tuple[str, str]:
    """Splits at the first separator.

    >>> split_pair("a,b")
    ('a', 'b')
    >>> print(split_pair("x;y", sep=";"))
    ('x', 'y')
    """
    head, _, tail = text.partition(sep)
    return head, tail
'''


def _asked(code: str, entry: str, arguments: dict, expected: object, problem: str = "") -> bool:
    return answer_in_prompt(problem, code, entry, encode(arguments), encode(expected))


@pytest.mark.parametrize(
    ("code", "entry", "arguments", "expected"),
    [
        (GCD, "greatest_common_divisor", {"a": 24, "b": 40}, 8),
        (GCD, "greatest_common_divisor", {"a": -3, "b": 9}, 3),
        (REVERSE_WORDS, "reverse_words", {"input_str": "I love Python"}, "Python love I"),  # bound first
        (PRIME_FACTORS, "prime_factors", {"n": 100}, [2, 2, 5, 5]),
        (SPLIT, "split_pair", {"text": "a,b"}, ("a", "b")),  # the default written or not
        (SPLIT, "split_pair", {"text": "a,b", "sep": ","}, ("a", "b")),
        (SPLIT, "split_pair", {"text": "x;y", "sep": ";"}, ("x", "y")),  # printed
    ],
)
def test_a_doctest_with_the_input_and_its_output_shows_the_answer(code, entry, arguments, expected) -> None:
    assert _asked(code, entry, arguments, expected)


@pytest.mark.parametrize(
    ("code", "entry", "arguments", "expected"),
    [
        (GCD, "greatest_common_divisor", {"a": 24, "b": 41}, 1),  # another input
        (GCD, "greatest_common_divisor", {"a": 40, "b": 24}, 8),  # the arguments in another order
        (PRIME_FACTORS, "prime_factors", {"n": 12}, [2, 2, 3]),
        (PRIME_FACTORS, "prime_factors", {"n": 0.01}, []),  # `10**-2` is an expression, not shown as 0.01
        (SPLIT, "split_pair", {"text": "a;b", "sep": ";"}, ("a;b", "")),
    ],
)
def test_other_inputs_and_unread_arguments_do_not_count(code, entry, arguments, expected) -> None:
    assert not _asked(code, entry, arguments, expected)


def test_a_doctest_whose_output_is_another_value_does_not_count() -> None:
    # `... == gcd_by_iterative(24, 40)` prints True for the call with these arguments: not 8
    code = GCD.replace(">>> greatest_common_divisor(24, 40)\n    8\n", "")
    assert not _asked(code, "greatest_common_divisor", {"a": 24, "b": 40}, 8)
    # a tuple's output against a list answer: not the same value
    assert not _asked(SPLIT, "split_pair", {"text": "a,b"}, ["a", "b"])


@pytest.mark.parametrize(
    "problem",
    [
        "Write fib(n). For example, fib(10) == 55.",
        "Examples: `fib(10)` -> `55`; fib(3) -> 2",
        "fib(10) returns 55, since the sequence starts 0, 1.",
        "Example 1:\nInput: n = 10\nOutput: 55\nExplanation: F(10) = F(9) + F(8).",
    ],
)
def test_examples_in_a_problem_statement_show_the_answer(problem) -> None:
    code = "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"
    assert _asked(code, "fib", {"n": 10}, 55, problem)
    assert not _asked(code, "fib", {"n": 11}, 89, problem)
    assert not _asked(code, "fib", {"n": 10}, 56, problem)


def test_json_spelling_in_a_statement_example_is_read() -> None:
    problem = 'Example:\nInput: s = "racecar"\nOutput: true\n'
    code = "def is_palindrome(s):\n    return s == s[::-1]\n"
    assert _asked(code, "is_palindrome", {"s": "racecar"}, True, problem)
    assert not _asked(code, "is_palindrome", {"s": "racecar"}, False, problem)
