"""Benchmark files as they are published: each layout read, its text fields found by the
decontamination index, its metadata and test data left out, and bad files named."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tracepile.analysis.decontam import BenchmarkError, BenchmarkIndex, benchmark_items

NGRAM = 13

HUMANEVAL = [
    {
        "task_id": "HumanEval/0",
        "prompt": "from typing import List\n\n\n"
        "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        '    """ Check if in given list of numbers, are any two numbers closer to each other than\n'
        '    given threshold.\n    """\n',
        "canonical_solution": "    for idx, elem in enumerate(numbers):\n"
        "        for idx2, elem2 in enumerate(numbers):\n"
        "            if idx != idx2:\n                distance = abs(elem - elem2)\n",
        "test": "def check(candidate):\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n",
        "entry_point": "has_close_elements",
    },
    {
        "task_id": "HumanEval/1",
        "prompt": "def separate_paren_groups(paren_string: str) -> List[str]:\n"
        '    """ Input to this function is a string containing multiple groups of nested parentheses.\n'
        '    Your goal is to separate those group into separate strings and return the list of those.\n"""\n',
        "canonical_solution": "    result = []\n    current_string = []\n    current_depth = 0\n",
        "test": "def check(candidate):\n    assert candidate('(()()) ((())) () ((())()())') == []\n",
        "entry_point": "separate_paren_groups",
    },
]

MBPP = {
    "task_id": [11, 12],
    "text": [
        "Write a python function to remove first and last occurrence of a given character from the string.",
        "Write a function to sort a given matrix in ascending order according to the sum of its rows.",
    ],
    "code": [
        "def remove_Occ(s,ch): \r\n    for i in range(len(s)): \r\n        if (s[i] == ch): \r\n"
        "            s = s[0 : i] + s[i + 1:] \r\n            break\r\n    return s ",
        "def sort_matrix(M):\r\n    result = sorted(M, key=sum)\r\n    return result",
    ],
    "test_list": [
        ['assert remove_Occ("hello","l") == "heo"', 'assert remove_Occ("abcda","a") == "bcd"'],
        [
            "assert sort_matrix([[1, 2, 3], [2, 4, 5], [1, 1, 1]])==[[1, 1, 1], [1, 2, 3], [2, 4, 5]]",
            "assert sort_matrix([[5,8,9],[6,4,3],[2,1,4]])==[[2, 1, 4], [6, 4, 3], [5, 8, 9]]",
        ],
    ],
}

LIVECODEBENCH = [
    {
        "question_title": "count-pairs-that-form-a-complete-day",
        "question_content": "Given an integer array hours representing times in hours, return an integer "
        "denoting the number of pairs i, j where i < j and hours[i] + hours[j] forms a complete day.",
        "platform": "leetcode",
        "question_id": "3421",
        "contest_id": "weekly-contest-402",
        "contest_date": "2024-06-15T00:00:00",
        "starter_code": "class Solution:\n    def countCompleteDayPairs(self, hours: List[int]) -> int:\n",
        "difficulty": "easy",
        "public_test_cases": json.dumps([{"input": "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", "output": "2"}]),
        "private_test_cases": "eJzFV8tu2zAQ",
        "metadata": json.dumps({"func_name": "countCompleteDayPairs"}),
    }
]

MATH = {
    "algebra/1.json": {
        "problem": "What is the positive difference between the two solutions of the equation "
        "$x^2 - 5x + 6 = 0$ when both of them are written as whole numbers?",
        "level": "Level 1",
        "type": "Algebra",
        "solution": "Factoring gives $(x-2)(x-3)=0$, so the solutions are $2$ and $3$, whose positive "
        "difference is $\\boxed{1}$.",
    },
    "geometry/7.json": {
        "problem": "A right triangle has legs of lengths three and four units; how many square units are "
        "in the area of the circle that passes through all three of its vertices?",
        "level": "Level 3",
        "type": "Geometry",
        "solution": "The hypotenuse is a diameter of length five, so the area is $\\frac{25}{4}\\pi$.",
    },
}


def _words(text: str, start: int = 0) -> str:
    """NGRAM consecutive words of ``text`` (as the index splits them), as a program might quote them."""
    return " ".join(re.findall(r"\w+", text)[start : start + NGRAM])


def _index(*paths: Path) -> BenchmarkIndex:
    return BenchmarkIndex.from_files([str(p) for p in paths], NGRAM)


def _write_jsonl(path: Path, records: list[dict], gzipped: bool) -> Path:
    data = "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


def test_humaneval_jsonl_gz_compares_prompt_solution_and_test(tmp_path: Path) -> None:
    index = _index(_write_jsonl(tmp_path / "HumanEval.jsonl.gz", HUMANEVAL, gzipped=True))
    second = HUMANEVAL[1]
    detail = index.overlap({"problem": "x " + _words(second["prompt"], 5)})
    assert detail is not None and "HumanEval.jsonl.gz:2 (HumanEval/1)" in detail
    # prompt and canonical_solution are one function in HumanEval: an n-gram may span both
    across = _words(HUMANEVAL[0]["prompt"] + HUMANEVAL[0]["canonical_solution"], 28)
    assert "HumanEval.jsonl.gz:1 (HumanEval/0)" in index.overlap({"code": across})
    assert index.overlap({"code": _words(HUMANEVAL[0]["test"])}) is not None


def test_gzip_is_sniffed_not_named(tmp_path: Path) -> None:
    """Downloads often lose or never had the .gz: the content decides."""
    index = _index(_write_jsonl(tmp_path / "HumanEval.jsonl", HUMANEVAL, gzipped=True))
    assert "HumanEval.jsonl:1 (HumanEval/0)" in index.overlap({"code": _words(HUMANEVAL[0]["prompt"], 3)})


def test_mbpp_parquet_compares_text_code_and_test_list(tmp_path: Path) -> None:
    shard = tmp_path / "test-00000-of-00001.parquet"
    pq.write_table(pa.table(MBPP), shard)
    index = _index(shard)
    detail = index.overlap({"problem": _words(MBPP["text"][1])})
    assert detail is not None and "test-00000-of-00001.parquet[1] (12)" in detail
    assert "parquet[0] (11)" in index.overlap({"code": _words(MBPP["code"][0])})
    assert "parquet[1] (12)" in index.overlap({"code": _words(MBPP["test_list"][1][1])})


def test_json_array_leaves_out_test_cases_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "livecodebench.json"
    path.write_text(json.dumps(LIVECODEBENCH), encoding="utf-8")
    index = _index(path)
    detail = index.overlap({"problem": _words(LIVECODEBENCH[0]["question_content"], 2)})
    assert detail is not None and "livecodebench.json[0] (3421)" in detail
    # the test input is thirteen numbers in a row: compared, it would match unrelated programs
    assert index.overlap({"code": "xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]"}) is None


def test_math_folder_of_one_record_files_skips_repository_furniture(tmp_path: Path) -> None:
    root = tmp_path / "MATH" / "test"
    for name, record in MATH.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(record), encoding="utf-8")
    readme = (
        "This dataset card describes the twelve thousand five hundred competition mathematics problems here"
    )
    assert len(re.findall(r"\w+", readme)) >= NGRAM
    (root / "README.md").write_text(readme, encoding="utf-8")
    (root / "dataset_infos.json").write_text(
        json.dumps({"default": {"description": readme}}), encoding="utf-8"
    )
    index = _index(root)
    assert "test/geometry/7.json" in index.overlap({"problem": _words(MATH["geometry/7.json"]["problem"], 4)})
    assert "test/algebra/1.json" in index.overlap({"problem": _words(MATH["algebra/1.json"]["solution"])})
    assert index.overlap({"problem": readme}) is None


def test_nested_folders_read_every_format_in_sorted_order(tmp_path: Path) -> None:
    root = tmp_path / "benchmarks"
    (root / "b" / "deeper").mkdir(parents=True)
    (root / "a").mkdir()
    (root / ".git").mkdir()
    _write_jsonl(root / "b" / "deeper" / "humaneval.jsonl.gz", HUMANEVAL[:1], gzipped=True)
    pq.write_table(pa.table(MBPP), root / "a" / "mbpp.parquet")
    (root / "notes.txt").write_text(MATH["algebra/1.json"]["problem"], encoding="utf-8")
    (root / "b" / "gsm8k.json").write_text(
        json.dumps(
            {
                "q1": {
                    "question": "Natalia sold clips to forty eight of her friends in April, and then "
                    "she sold half as many clips in May.",
                    "answer": "#### 72",
                }
            }
        ),
        encoding="utf-8",
    )
    _write_jsonl(root / ".git" / "stale.jsonl", HUMANEVAL[1:], gzipped=False)
    origins = [origin for origin, _ in benchmark_items(str(root))]
    assert origins == [
        "benchmarks/a/mbpp.parquet[0] (11)",
        "benchmarks/a/mbpp.parquet[1] (12)",
        "benchmarks/b/deeper/humaneval.jsonl.gz:1 (HumanEval/0)",
        "benchmarks/b/gsm8k.json[q1]",
        "benchmarks/notes.txt",
    ]


def test_json_lines_under_a_json_name_and_apps_encoded_solutions(tmp_path: Path) -> None:
    program = "def main():\n    n = int(input())\n    values = list(map(int, input().split()))\n"
    program += "    print(sum(values))\n"
    apps = {
        "problem_id": 4000,
        "question": "Read an integer and then that many integers, and print their sum on one line of output.",
        "solutions": json.dumps([program]),
        "input_output": json.dumps({"inputs": ["3\n1 2 3\n"], "outputs": ["6\n"]}),
    }
    other = {"problem_id": 3999, "question": "Print hello.", "solutions": json.dumps(["print('hello')"])}
    path = _write_jsonl(tmp_path / "apps_test.json", [other, apps], gzipped=False)
    index = _index(path)
    # decoded, the solution's lines join into n-grams; read as escaped JSON, "\n" would split them
    assert "apps_test.json:2 (4000)" in index.overlap({"code": program})


def _gzip_truncated(path: Path) -> None:
    path.write_bytes(gzip.compress(b'{"prompt": "' + b"word " * 100 + b'"}\n')[:30])


@pytest.mark.parametrize(
    ("name", "write", "expected"),
    [
        ("bad.jsonl", lambda p: p.write_text('{"prompt": "fine"}\n{"prompt": \n'), r"JSON Lines.*line 2"),
        ("cut.jsonl.gz", _gzip_truncated, r"cut\.jsonl\.gz: cannot read it as JSON Lines"),
        (
            "fake.parquet",
            lambda p: p.write_text("not a parquet file"),
            r"fake\.parquet: cannot read it as Parquet",
        ),
        (
            "binary.txt",
            lambda p: p.write_bytes(b"\xff\xfe\x00\x81" * 10),
            r"binary\.txt: cannot read it as UTF-8",
        ),
        ("array.json", lambda p: p.write_text("[{"), r"array\.json: cannot read it as JSON \("),
        (
            "ids.jsonl",
            lambda p: p.write_text('{"task_id": "x/1", "entry_point": "f"}\n'),
            r"ids\.jsonl: no benchmark",
        ),
    ],
)
def test_an_unreadable_file_is_an_error_naming_it(tmp_path: Path, name: str, write, expected: str) -> None:
    write(tmp_path / name)
    with pytest.raises(BenchmarkError, match=expected):
        _index(tmp_path / name)


def test_a_folder_without_benchmark_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("a dataset card")
    with pytest.raises(BenchmarkError, match=r"no benchmark files under .*\.jsonl"):
        _index(tmp_path)
