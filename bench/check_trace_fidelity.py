"""Untraced calls change no trace: snoop's text, the steps and the result, run by run.

Traces every run of the first ``--problems`` PyEdu problems (those the static filters
keep, as ``bench_trace.py`` does) twice in the sandbox: with ``untraced_calls`` (the
default: calls made by the entry function run untraced) and without it (snoop as the
published method runs it). Prints how many runs differ (and how), and the CPU time of
the traced runs each way. Exit code 1 when any run differs in anything but its status
``timeout`` (a run that only finishes in time without tracing the calls it makes).

Run: ``python bench/check_trace_fidelity.py [--problems 100]``
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from bench_trace import runs
from rich.console import Console
from rich.table import Table

from tracepile.config import SandboxLimits
from tracepile.udfs.sandbox import RunResult, Sandbox

COMPARED = ("status", "return_json", "stdout", "error", "trace_text", "steps")


def _traced(sandbox: Sandbox, limits: SandboxLimits, run: tuple[str, str, str, str | None]) -> RunResult:
    code, entry, input_json, _ = run
    return sandbox.run(code, entry, input_json, limits, trace=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--problems", type=int, default=100)
    args = parser.parse_args()
    work, _ = runs(args.problems)
    cores = os.cpu_count() or 1
    results: dict[bool, list[RunResult]] = {}
    with Sandbox(workers=cores, hash_seeds=(1,)) as sandbox, ThreadPoolExecutor(cores) as threads:
        for untraced_calls in (False, True):
            limits = SandboxLimits(untraced_calls=untraced_calls)
            traced = partial(_traced, sandbox, limits)
            results[untraced_calls] = list(threads.map(traced, work))
    differ, timeouts = [], []
    for index, (snoop_run, ours) in enumerate(zip(results[False], results[True], strict=True)):
        fields = [name for name in COMPARED if getattr(snoop_run, name) != getattr(ours, name)]
        if fields:
            (timeouts if snoop_run.status == "timeout" else differ).append((index, fields, snoop_run, ours))
    table = Table(title=f"traced runs of the first {args.problems} PyEdu problems ({len(work)} runs)")
    for column in ("calls from the entry function", "CPU seconds (traced runs)", "ok"):
        table.add_column(column, justify="left" if column.startswith("calls") else "right")
    for untraced_calls, name in ((False, "traced (snoop as published)"), (True, "untraced (ours)")):
        done = results[untraced_calls]
        table.add_row(name, f"{sum(r.cpu_s for r in done):.1f}", f"{sum(r.status == 'ok' for r in done)}")
    out = Console(width=120)
    out.print(table)
    out.print(f"identical in every field: {len(work) - len(differ) - len(timeouts)} of {len(work)}")
    for index, _, _, ours in timeouts:
        out.print(f"run {index}: timeout with traced calls, {ours.status} with untraced ones")
    for index, fields, snoop_run, ours in differ:
        out.print(f"run {index} differs in {', '.join(fields)}: {snoop_run.status} vs {ours.status}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
