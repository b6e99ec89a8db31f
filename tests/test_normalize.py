"""The normalised form: what it ignores (formatting, re-printing, comments, docstrings, renaming,
shadowed builtins) and what not; shingles that see one changed constant as one token."""

from __future__ import annotations

import ast
import io
import json
import tokenize

import pytest

from tracepile.analysis.normalize import (
    exact_key,
    literal_key,
    normalised_tokens,
    python_tokens,
    shingle_tokens,
)
from tracepile.cli import sample_path

ORIGINAL = '''
import math

def helper(values):
    """Sum of square roots."""
    total = 0
    for value in values:  # each one
        total += math.sqrt(value)
    return total

def main_solution(numbers, scale=2):
    """The entry point."""
    result = helper(numbers) * scale
    return {'result': result}
'''

SAME_PROGRAM = {
    "reformatted": """import math
def helper( values ):
  total=0
  for value in values :
    total+=math.sqrt( value )

  return total
def main_solution(numbers,scale=2):
  result=helper(numbers)*scale
  return {"result": result}
""",
    "re-printed by ast.unparse": ast.unparse(ast.parse(ORIGINAL)),
    "extra parentheses, quotes, line breaks, one-line blocks": """
import math
def helper(values):
    total = (0)
    for value in (values): total += (math.sqrt(value))
    return (total)

def main_solution(numbers, scale=(2)):
    result = (helper(numbers)
              * scale)
    return {\
        "result": result,
    }
""",
    "renamed": """
import math

def aid(xs):
    acc = 0
    for x in xs:
        acc += math.sqrt(x)
    return acc

def main_solution(numbers, scale=2):
    out = aid(numbers) * scale
    return {'result': out}
""",
}

DIFFERENT_PROGRAM = {
    "return moved into the loop": ORIGINAL.replace("    return total\n", "        return total\n"),
    "another constant": ORIGINAL.replace("total = 0", "total = 1"),
    "another string": ORIGINAL.replace("'result'", "'res'"),
    "another library call": ORIGINAL.replace("math.sqrt", "math.log"),
}


def _tokens(code: str) -> list[str]:
    return normalised_tokens(ast.parse(code), "main_solution")


def _key(code: str) -> str:
    return exact_key(_tokens(code))


@pytest.mark.parametrize("kind", sorted(SAME_PROGRAM))
def test_formatting_comments_docstrings_and_renaming_do_not_change_the_key(kind: str) -> None:
    assert _key(SAME_PROGRAM[kind]) == _key(ORIGINAL)


@pytest.mark.parametrize("change", sorted(DIFFERENT_PROGRAM))
def test_real_changes_give_another_key(change: str) -> None:
    assert _key(DIFFERENT_PROGRAM[change]) != _key(ORIGINAL)


def test_the_stream_keeps_imports_builtins_attributes_and_the_entry_point() -> None:
    tokens = _tokens(ORIGINAL)
    assert {"math", "sqrt", "main_solution", "return"} <= set(tokens)
    assert not {"helper", "values", "total", "numbers", "result"} & set(tokens)
    assert "'Sum of square roots.'" not in tokens and "'result'" in tokens
    assert tokens.count("\n2") == 1  # the loop body is the only line two levels deep


def test_shingle_stream_uses_one_placeholder_so_an_inserted_name_shifts_nothing() -> None:
    edited = ORIGINAL.replace("    total = 0\n", "    seen = 0\n    total = 0\n")
    before = shingle_tokens(_tokens(ORIGINAL))
    after = shingle_tokens(_tokens(edited))
    assert len(after) - len(before) == 4  # the new line: marker, name, '=', 0
    assert before[-12:] == after[-12:]


def test_one_changed_constant_is_one_changed_shingle_token_but_another_exact_key() -> None:
    edited = ORIGINAL.replace("scale=2", "scale=3")
    before, after = shingle_tokens(_tokens(ORIGINAL)), shingle_tokens(_tokens(edited))
    assert before == after  # every literal is one placeholder in the shingles
    assert _key(edited) != _key(ORIGINAL)  # the exact key keeps the literal
    assert literal_key(_tokens(edited)) != literal_key(_tokens(ORIGINAL))  # and so does the band salt


REPLACE = "def main_solution(s):\n    return s.replace('a', 'b')\n"


@pytest.mark.parametrize(
    ("other", "literals_only"),
    [
        (REPLACE.replace("'a', 'b'", "'c', 'd'"), True),  # the example
        (REPLACE.replace("'a', 'b'", "'b', 'a'"), True),  # the same literals in another order
        (REPLACE.replace("'b')", "'b', 1)"), False),  # one literal more
        (REPLACE.replace("return", "flag = True\n    return").replace(")\n", ") if flag else s\n"), False),
    ],
)
def test_the_literal_key_tells_programs_with_other_constants_apart(other: str, literals_only: bool) -> None:
    # the shingles cannot tell programs that differ only in literals apart; the literal key can
    assert (shingle_tokens(_tokens(other)) == shingle_tokens(_tokens(REPLACE))) is literals_only
    assert literal_key(_tokens(other)) != literal_key(_tokens(REPLACE))


DEAD_STORE = REPLACE.replace("    return", "    unused = 3\n    return")


@pytest.mark.parametrize(
    ("program", "inert"),
    [
        (DEAD_STORE, True),  # nothing reads it: its constant cannot change the result
        ("unused = 'x'\n" + REPLACE, True),  # at module level too
        (DEAD_STORE.replace("return s", "return unused or s"), False),  # read: it counts
        (DEAD_STORE.replace("    unused = 3", "    global unused\n    unused = 3"), False),  # a global
        (DEAD_STORE.replace("return s", "return globals().get('unused') or s"), False),  # read by name
        ("class Box:\n    unused = 3\n\n" + REPLACE, False),  # a class attribute: read as self.unused
        (DEAD_STORE.replace("unused = 3", "unused = -3"), False),  # an expression, not a constant
    ],
)
def test_the_literal_key_leaves_out_only_constants_that_nothing_reads(program: str, inert: bool) -> None:
    same = literal_key(_tokens(program)) == literal_key(_tokens(REPLACE))
    assert same is inert


@pytest.mark.parametrize("kind", sorted(SAME_PROGRAM))
def test_the_literal_key_ignores_what_the_exact_key_ignores(kind: str) -> None:
    assert literal_key(_tokens(SAME_PROGRAM[kind])) == literal_key(_tokens(ORIGINAL))


def test_the_literal_key_ignores_structure_without_constants() -> None:
    other_operator = ORIGINAL.replace("helper(numbers) * scale", "helper(numbers) + scale")
    assert _key(other_operator) != _key(ORIGINAL)
    assert literal_key(_tokens(other_operator)) == literal_key(_tokens(ORIGINAL))


def test_a_shadowed_builtin_is_renamed_like_any_name_the_program_binds() -> None:
    shadowing = "def main_solution(n):\n    list = [n]\n    max = 2\n    return list * max\n"
    renamed = "def main_solution(n):\n    items = [n]\n    times = 2\n    return items * times\n"
    assert _key(shadowing) == _key(renamed)
    assert "list" not in _tokens(shadowing)
    assert "len" in _tokens("def main_solution(n):\n    return len(n)\n")  # only bound ones


def test_names_inside_f_strings_are_renamed_too() -> None:
    first = "def main_solution(n):\n    total = n + 1\n    return f'{total!r:>5} items'\n"
    second = 'def main_solution(n):\n    count = n + 1\n    return f"{count!r:>5} items"\n'
    assert _key(first) == _key(second)
    assert _key(first) != _key(first.replace("!r", "!s"))


def test_a_string_statement_alone_in_a_body_leaves_a_program_that_still_prints() -> None:
    code = "def helper():\n    'only a docstring'\n\ndef main_solution(n):\n    return n\n"
    assert _key(code) == _key("def helper():\n    pass\n\ndef main_solution(n):\n    return n\n")


def _significant_stdlib_tokens(code: str) -> list[str]:
    kinds = (tokenize.NAME, tokenize.NUMBER, tokenize.STRING, tokenize.OP)
    return [t.string for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type in kinds]


def _codes(path) -> list[str]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line)["refcode"] for line in lines]


def test_tokens_equal_the_stdlib_tokenizer_on_the_bundled_sample() -> None:
    for code in _codes(sample_path()):
        ours = [t for t in python_tokens(code) if t[0] not in "\r\n#\\"]
        assert ours == _significant_stdlib_tokens(code)


def test_tokens_equal_the_stdlib_tokenizer_on_the_shared_sample(pyedu_toy) -> None:
    mismatched = [
        code
        for code in _codes(pyedu_toy)
        if [t for t in python_tokens(code) if t[0] not in "\r\n#\\"] != _significant_stdlib_tokens(code)
    ]
    assert mismatched == []
