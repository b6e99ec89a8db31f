"""Decontamination on planted benchmark code: caught out of the planted copies, and false
positives on the sample, with n-grams alone (before) and with the code forms (now).

The benchmark is a published one, read as its authors publish it (``--benchmark``; e.g.
HumanEval: ``data/HumanEval.jsonl.gz`` of github.com/openai/human-eval). Its ``--plant``
shortest functions (the entry function of each item, counted in words without its
docstring: the ones a 13-word window misses) are planted into a copy of the sample
(``../shared/data/pyedu_toy.jsonl`` and the bundled ``tracepile/sample/programs.jsonl``), each
as the helper of a record's program whose entry point calls it, and each

- ``renamed``: every name the function binds (its own name, parameters, locals) renamed
  consistently (``bench_dedup_hard.renamed``), its docstring dropped (but see below);
- ``reformatted``: then re-printed with extra parentheses, other quotes, comments and blank
  lines (``bench_dedup_hard.reprinted``);
- ``untyped``: also without its annotations (a copy that is no longer the benchmark's
  signature; reported apart: the code forms count annotations, see
  ``tracepile/analysis/decontam.py``);
- ``docstring kept``: renamed and reformatted with the benchmark's docstring (which the
  n-grams see).

A planted program is caught when ``BenchmarkIndex.overlap`` (the dedup stage's check, on
the record's problem text and code) names a benchmark item; a sample program flagged at
all is a false positive (the sample holds no benchmark code; each one is printed to read).

Run: ``python bench/bench_decontam_planted.py --benchmark HumanEval.jsonl.gz [--plant 40]``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import gzip
import json
import random
import re
import sys
from pathlib import Path

from tracepile.analysis.decontam import BenchmarkIndex
from tracepile.cli import sample_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dedup_hard import SAMPLE, renamed, reprinted

_WORD = re.compile(r"\w+")


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _untyped(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
            arguments = node.args
            for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
                arg.annotation = None
            for arg in (arguments.vararg, arguments.kwarg):
                if arg is not None:
                    arg.annotation = None
    return tree


def shortest_functions(path: str, count: int) -> list[tuple[str, str, str]]:
    """(task_id, entry function name, code) of the ``count`` items whose entry function is
    shortest in words without its docstring; code is the item's prompt and solution (its
    imports, helpers and the function). Reads HumanEval's layout (``prompt``,
    ``canonical_solution``, ``entry_point``), gzipped or not."""
    data = Path(path).read_bytes()
    text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8")
    found = []
    for line in text.splitlines():
        record = json.loads(line)
        code = record["prompt"] + record["canonical_solution"]
        tree = _without_docstrings(ast.parse(code))
        (function,) = (
            n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == record["entry_point"]
        )
        found.append((len(_WORD.findall(ast.unparse(function))), record["task_id"], function.name, code))
    found.sort(key=lambda item: item[0])
    return [(task, name, code) for _, task, name, code in found[:count]]


KINDS = {  # kind -> (annotations kept, docstring kept)
    "renamed + reformatted": (True, False),
    "renamed + reformatted, untyped": (False, False),
    "renamed + reformatted, docstring kept": (True, True),
}


def plant(name: str, code: str, rng: random.Random, kind: str) -> str:
    """The benchmark code as a helper of ``main_solution``, renamed and reformatted."""
    typed, docstring = KINDS[kind]
    tree = ast.parse(code)
    if not docstring:
        tree = _without_docstrings(tree)
    if not typed:
        tree = _untyped(tree)
    program = f"{ast.unparse(tree)}\n\n\ndef main_solution(*args):\n    return {name}(*args)\n"
    program = renamed(program, rng, "main_solution") or program
    return reprinted(program, rng) or program


def sample_records() -> list[dict]:
    records = []
    for path in (SAMPLE, Path(sample_path())):
        records += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return records


def flagged(index: BenchmarkIndex, record: dict) -> str | None:
    return index.overlap({"problem": record["problem_description"], "code": record["refcode"]})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--benchmark", required=True, help="benchmark file as published (HumanEval.jsonl.gz)")
    parser.add_argument("--plant", type=int, default=40, help="shortest benchmark functions planted")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ngram", type=int, default=13)
    parser.add_argument("--examples", type=int, default=0, help="show this many missed copies per kind")
    args = parser.parse_args()
    now = BenchmarkIndex.from_files([args.benchmark], args.ngram)
    before = dataclasses.replace(now, forms={})  # n-grams alone
    print(
        f"benchmark {args.benchmark}: {len(now.origins)} items, {len(now):,} {args.ngram}-grams, "
        f"{len(now.forms):,} code forms"
    )
    sample = sample_records()
    chosen = shortest_functions(args.benchmark, args.plant)
    rng = random.Random(args.seed)
    hosts = rng.sample(sample, len(chosen))
    print(f"planted: {len(chosen)} shortest entry functions into {len(sample)} sample records")
    print(f"{'copies':<40}{'n-grams':>10}{'+ forms':>10}")
    for kind in KINDS:
        planted = [
            {**host, "refcode": plant(name, code, rng, kind), "source": f"planted-{origin}"}
            for (origin, name, code), host in zip(chosen, hosts, strict=True)
        ]
        caught = [sum(flagged(index, r) is not None for r in planted) for index in (before, now)]
        print(f"{kind:<40}{caught[0]:>7}/{len(planted)}{caught[1]:>7}/{len(planted)}")
        missed = [
            (origin, r) for (origin, _, _), r in zip(chosen, planted, strict=True) if not flagged(now, r)
        ]
        for origin, record in missed[: args.examples]:
            print(f"  missed: {origin}\n    " + record["refcode"].strip().replace("\n", "\n    "))
    positives = [[r for r in sample if flagged(index, r)] for index in (before, now)]
    label = "false positives on the sample"
    print(f"{label:<40}{len(positives[0]):>7}/{len(sample)}{len(positives[1]):>7}/{len(sample)}")
    for record in positives[1]:
        print(f"  {record['refcode'][:60]!r}: {flagged(now, record)}")


if __name__ == "__main__":
    main()
