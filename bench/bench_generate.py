"""Generation throughput and verification pass rate, per backend, on real executions.

Traces the first ``--problems`` PyEdu problems (or the bundled sample) once, then runs
the generate stage's per-partition work (``udfs/write_coe.generate_rows``: prompts, backend,
cleaning, verification) on the ok executions, ``--repeats`` times per backend, and prints
rows/s, completion tokens/s and the share of texts verified.

``template`` runs anywhere. ``--vllm-model PATH`` adds the vllm backend (needs a GPU and
``pip install -e '.[gpu]'``); without it the vllm row says pending.

Run: ``python bench/bench_generate.py [--problems 100] [--repeats 3] [--vllm-model PATH]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tracepile.cli import sample_path
from tracepile.config import GenerateConfig
from tracepile.sources.codeio import parse_codeio_record
from tracepile.translation.backends import TemplateBackend, VllmBackend
from tracepile.udfs.sandbox import Sandbox
from tracepile.udfs.write_coe import VERIFIED, GenerateOptions, generate_rows

PYEDU = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyedu_toy.jsonl"


def ok_rows(problems: int) -> list[dict]:
    """Generate-stage input rows: ok executions of the first ``problems`` programs."""
    source = PYEDU if PYEDU.is_file() else Path(sample_path())
    rows = []
    with Sandbox() as sandbox:
        for line in source.read_bytes().splitlines()[:problems]:
            program = parse_codeio_record(line)
            if not isinstance(program, dict):
                continue
            for index, item in enumerate(program["inputs"]):
                result = sandbox.execute(program["code"], program["entry_point"], item["input_json"])
                if result.status == "ok":
                    program_fields = {k: program[k] for k in ("program_id", "problem", "code", "entry_point")}
                    rows.append(
                        {
                            **program_fields,
                            "execution_id": f"{program['program_id'][:24]}{index:08x}",
                            "input_json": item["input_json"],
                            "return_json": result.return_json,
                            "trace_text": result.trace_text,
                            "steps_json": json.dumps(result.steps),
                            "source": program["source"],
                            "domain": program["domain"],
                        }
                    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vllm-model", default=None)
    args = parser.parse_args()
    rows = ok_rows(args.problems)
    backends = [("template", TemplateBackend(), GenerateConfig())]
    if args.vllm_model:
        settings = GenerateConfig(backend="vllm", model=args.vllm_model)
        backends.append(("vllm", VllmBackend(settings), settings))
    table = Table(title=f"generation on {len(rows):,} ok executions (median of {args.repeats})")
    for column in ("backend", "seconds", "rows/s", "completion tokens/s", "verified"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    for name, backend, settings in backends:
        options = GenerateOptions(settings, max_prompt_tokens=16_384, retry_with_feedback=False)
        timings, outcomes = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            outcomes = generate_rows(rows, backend, options)
            timings.append(time.perf_counter() - started)
        seconds = statistics.median(timings)
        tokens = sum(o["completion_tokens"] or 0 for o in outcomes)
        verified = sum(o["outcome"] == VERIFIED for o in outcomes)
        table.add_row(
            name,
            f"{seconds:.2f}",
            f"{len(rows) / seconds:,.0f}",
            f"{tokens / seconds:,.0f}" if tokens else "-",
            f"{verified}/{len(rows)} ({100 * verified / len(rows):.1f}%)",
        )
    if not args.vllm_model:
        table.add_row("vllm", "pending", "", "", "needs a GPU: --vllm-model PATH")
    Console().print(table)


if __name__ == "__main__":
    main()
