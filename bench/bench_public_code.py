"""Correctness on code nobody here wrote: a table per public source, run as a user runs it.

For each ``--source KIND:PATH`` the pipeline runs (``tracepile run``, embedded engine, one
lakehouse per source), then the tables are read and checked from outside the project:

- functions in (bronze programs that are not rewrites, plus ingest rejects), programs that
  reached gold, and the share;
- rejects by stage and reason (ingest, dedup/filters, executions that did not run ok);
- every gold sample's answer re-executed by plain Python (``tests/plain_python.py``): the
  stored return value and the text's final answer must both be what plain Python returns
  (programs that plain Python itself gives two answers for are counted apart);
- prompts that show their own answer (``translation.prompts.answer_in_prompt`` on the
  training prompt and the program's code).

    python bench/bench_public_code.py --source codeio:data/cruxeval_codeio.jsonl \\
        --source pyfiles:/tmp/algos/strings

CRUXEval (github.com/facebookresearch/cruxeval, MIT) is read as ``codeio`` records with
``"io_format": "python"`` after ``--cruxeval FILE`` converts its ``data/cruxeval.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from deltalake import DeltaTable
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.plain_python: the reference runs

from tests.plain_python import run_plainly_twice  # noqa: E402
from tracepile.analysis.values import decode, values_equal  # noqa: E402
from tracepile.translation.prompts import answer_in_prompt  # noqa: E402
from tracepile.translation.trace_model import literal  # noqa: E402
from tracepile.translation.verify import UNPARSED, final_answer  # noqa: E402


def cruxeval_as_codeio(published: Path, out: Path) -> Path:
    """CRUXEval's records (``code``, ``input`` call arguments, ``output`` literal, ``id``) as
    codeio records in the Python I/O format."""
    with published.open(encoding="utf-8") as given, out.open("w", encoding="utf-8") as written:
        for line in given:
            record = json.loads(line)
            codeio = {
                "refcode": record["code"],
                "funcname": "f",
                "problem_description": "",
                "io_format": "python",
                "ios": [{"input": record["input"], "output": record["output"]}],
                "source": "cruxeval",
                "category": "cruxeval",
                "meta": {"id": record["id"]},
            }
            written.write(json.dumps(codeio) + "\n")
    return out


def _table(lakehouse: Path, name: str) -> list[dict[str, Any]]:
    path = lakehouse / name
    if not (path / "_delta_log").exists():
        return []
    return pq.read_table(DeltaTable(str(path)).file_uris()).to_pylist()


def measure(source: str, lakehouse: Path, run: bool) -> dict[str, Any]:
    """One source through the pipeline and checked from outside."""
    seconds = None
    if run:
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-m", "tracepile", "run", "--source", source, "--lakehouse", str(lakehouse)],
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        if completed.returncode != 0:
            raise SystemExit(f"tracepile run failed ({completed.returncode}):\n{completed.stdout[-3000:]}")
    sources = _table(lakehouse, "bronze/sources")
    ingest_rejects = _table(lakehouse, "bronze/ingest_rejects")
    programs = {row["program_id"]: row for row in _table(lakehouse, "silver/programs")}
    rejects = _table(lakehouse, "silver/rejects")
    executions = _table(lakehouse, "silver/executions")
    coe = _table(lakehouse, "gold/coe")
    coe_rejects = _table(lakehouse, "gold/coe_rejects")

    originals = [row for row in coe if not programs.get(row["program_id"], {}).get("rewrite_of")]
    jobs = [
        {
            "code": programs[row["program_id"]]["code"],
            "entry": programs[row["program_id"]]["entry_point"],
            "input_json": row["input_json"],
        }
        for row in originals
    ]
    wrong, unsettled, examples = 0, 0, []
    with tempfile.TemporaryDirectory() as workdir:
        plain = run_plainly_twice(jobs, Path(workdir)) if jobs else []
    for row, outside in zip(originals, plain, strict=True):
        if outside is None:
            unsettled += 1
            continue
        stated = final_answer(row["response"])
        said = literal(stated) if stated is not None else UNPARSED
        truth = decode(outside["return_json"]) if outside["status"] == "ok" else UNPARSED
        if (
            truth is UNPARSED
            or not values_equal(decode(row["output_json"]), truth)
            or said is UNPARSED
            or (not values_equal(said, truth))
        ):
            wrong += 1
            examples.append(
                f"{row['program_id'][:8]} {row['input_json'][:60]} gold {row['output_json'][:60]}"
            )
    shown = sum(
        answer_in_prompt(
            row["prompt"],
            programs[row["program_id"]]["code"],
            programs[row["program_id"]]["entry_point"],
            row["input_json"],
            row["output_json"],
        )
        for row in originals
    )
    functions_in = sum(1 for row in sources if not row.get("rewrite_of")) + len(ingest_rejects)
    to_gold = len({row["program_id"] for row in originals})
    reasons: Counter[str] = Counter()
    reasons.update(f"ingest: {row['reason']}" for row in ingest_rejects)
    reasons.update(f"dedup: {row['reason']}" for row in rejects)
    original_ids = {pid for pid, row in programs.items() if not row.get("rewrite_of")}
    reasons.update(
        f"trace: {row['status']}"
        for row in executions
        if row["status"] != "ok" and row["program_id"] in original_ids
    )
    reasons.update(f"generate: {row['reason']}" for row in coe_rejects)
    return {
        "source": source,
        "seconds": seconds,
        "functions_in": functions_in,
        "to_gold": to_gold,
        "share": to_gold / functions_in if functions_in else 0.0,
        "gold_samples": len(originals),
        "wrong": wrong,
        "unsettled": unsettled,
        "answer_shown": shown,
        "reasons": reasons,
        "examples": examples[:10],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", action="append", default=[], help="KIND:PATH (repeatable)")
    parser.add_argument("--cruxeval", type=Path, help="CRUXEval's data/cruxeval.jsonl: adds it as codeio")
    parser.add_argument("--lakehouses", type=Path, default=Path(tempfile.gettempdir()) / "bench-public")
    parser.add_argument("--no-run", action="store_true", help="only check lakehouses of an earlier run")
    args = parser.parse_args()
    sources = list(args.source)
    if args.cruxeval:
        args.lakehouses.mkdir(parents=True, exist_ok=True)
        sources.append(
            f"codeio:{cruxeval_as_codeio(args.cruxeval, args.lakehouses / 'cruxeval_codeio.jsonl')}"
        )
    console = Console(width=150)
    results = []
    for index, source in enumerate(sources):
        lakehouse = args.lakehouses / f"lakehouse-{index}"
        results.append(measure(source, lakehouse, run=not args.no_run))
    table = Table(title="public code through the pipeline, checked from outside")
    for column in ("source", "functions in", "programs to gold", "share", "gold samples", "wrong answers",
                   "unsettled", "answer in prompt", "run s"):  # fmt: skip
        table.add_column(column, justify="left" if column == "source" else "right")
    for result in results:
        samples = result["gold_samples"] or 1
        table.add_row(
            result["source"],
            f"{result['functions_in']:,}",
            f"{result['to_gold']:,}",
            f"{result['share']:.1%}",
            f"{result['gold_samples']:,}",
            str(result["wrong"]),
            str(result["unsettled"]),
            f"{result['answer_shown']} ({result['answer_shown'] / samples:.1%})",
            f"{result['seconds']:.0f}" if result["seconds"] is not None else "-",
        )
    console.print(table)
    for result in results:
        reasons = Table(title=f"rejects: {result['source']}")
        reasons.add_column("stage: reason")
        reasons.add_column("rows", justify="right")
        for reason, count in result["reasons"].most_common():
            reasons.add_row(reason, f"{count:,}")
        console.print(reasons)
        for example in result["examples"]:
            console.print(f"  wrong: {example}")


if __name__ == "__main__":
    main()
