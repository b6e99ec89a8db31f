"""The rewrite stage's ``mapInPandas`` body: rewrites of each program, checked by differential
execution in the sandbox.

``analysis/rewrites.py`` proposes meaning-preserving variants (AST transforms, chosen by a
seeded hash). Each is run on every input of its original, untraced, under the same hash seed
as the original's run: a rewrite is kept only if every input gives the original's status and
result (return value and output); otherwise it is dropped with the first differing input.
One outcome row per rewrite: ``kept`` (a silver/programs row) or the reason (a
silver/rewrite_rejects row).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import pandas as pd

from tracepile.analysis.filters import entry_function, parse_program
from tracepile.analysis.hashing import content_id
from tracepile.analysis.normalize import exact_key, normalised_tokens
from tracepile.analysis.rewrites import Rewrite, rewrites
from tracepile.config import TracepileConfig
from tracepile.tables import SILVER_PROGRAMS, SILVER_REWRITE_REJECTS
from tracepile.udfs.sandbox import RunResult, Sandbox
from tracepile.udfs.worker_state import WorkerSetup, worker_state
from tracepile.vocab import RewriteDrop

KEPT = "kept"
OUTCOME_COLUMNS = tuple(
    dict.fromkeys(
        [*(f.name for f in SILVER_PROGRAMS.schema if f.name != "run_id"),
         *(f.name for f in SILVER_REWRITE_REJECTS.schema if f.name != "run_id"), "outcome"]
    )
)  # fmt: skip


class RewritingStage(WorkerSetup, Protocol):
    config: TracepileConfig


def _result(run: RunResult) -> tuple[str, str | None, str]:
    return run.status, run.return_json, run.stdout


def _difference(original: RunResult, rewritten: RunResult) -> RewriteDrop | None:
    if original.status != rewritten.status:
        return RewriteDrop.STATUS_DIFFERS
    return None if _result(original) == _result(rewritten) else RewriteDrop.OUTPUT_DIFFERS


def _verdict(
    program: dict[str, Any],
    rewrite: Rewrite,
    original: list[RunResult],
    sandbox: Sandbox,
    config: TracepileConfig,
) -> tuple[RewriteDrop | None, str]:
    """(None, "") when the rewrite gives the original's results on every input, else the
    reason and the first input where it does not."""
    parsed = parse_program(rewrite.code)
    if isinstance(parsed, str) or entry_function(parsed, program["entry_point"]) is None:
        return RewriteDrop.NOT_VALID, parsed if isinstance(parsed, str) else "the entry function is gone"
    seed = sandbox.hash_seeds[-1]
    for index, (item, before) in enumerate(zip(program["inputs"], original, strict=True)):
        after = sandbox.run(
            rewrite.code, program["entry_point"], item["input_json"], config.trace, hash_seed=seed
        )
        if (why := _difference(before, after)) is not None:
            detail = (
                f"input {index} {item['input_json'][:200]}: the original gave {before.status} "
                f"{(before.return_json or before.error or '')[:120]}, the rewrite {after.status} "
                f"{(after.return_json or after.error or '')[:120]}"
            )
            return why, detail
    return None, ""


def check_program(program: dict[str, Any], sandbox: Sandbox, config: TracepileConfig) -> list[dict[str, Any]]:
    """One outcome row per rewrite of ``program`` (a silver/programs row)."""
    settings = config.rewrites
    proposed = rewrites(program["code"], program["entry_point"], settings.seed, settings.per_program)
    if not proposed:
        return []
    seed = sandbox.hash_seeds[-1]
    original = [
        sandbox.run(program["code"], program["entry_point"], item["input_json"], config.trace, hash_seed=seed)
        for item in program["inputs"]
    ]
    rows = []
    for rewrite in proposed:
        identity = {
            "rewrite_of": program["program_id"],
            "rewrite_kind": str(rewrite.kind),
            "code": rewrite.code,
        }
        rewrite_id = content_id(identity)
        why, detail = _verdict(program, rewrite, original, sandbox, config)
        if why is not None:
            rows.append(
                {
                    **identity,
                    "rewrite_id": rewrite_id,
                    "reason": str(why),
                    "detail": detail,
                    "outcome": str(why),
                }
            )
            continue
        tree = parse_program(rewrite.code)
        assert isinstance(tree, ast.Module), "a rewrite that reached here parsed in _verdict"
        tokens = normalised_tokens(rewrite.code, tree, program["entry_point"])
        rows.append(
            {
                **{name: program[name] for name in OUTCOME_COLUMNS if name in program},
                **identity,
                "program_id": rewrite_id,
                "exact_key": exact_key(tokens),
                "rewrite_id": rewrite_id,
                "outcome": KEPT,
            }
        )
    return rows


def check_partition(batches: Iterator[pd.DataFrame], stage: RewritingStage) -> Iterator[pd.DataFrame]:
    """The ``mapInPandas`` body: every program's rewrites checked, programs run concurrently."""
    programs = [row for frame in batches for row in frame.to_dict("records")]
    if not programs:
        return
    for program in programs:  # Arrow hands the inputs over as arrays of dicts
        program["inputs"] = list(program["inputs"])
    sandbox: Sandbox = worker_state(stage)
    with ThreadPoolExecutor(max_workers=sandbox.workers) as pool:
        outcomes = [
            row
            for rows in pool.map(lambda p: check_program(p, sandbox, stage.config), programs)
            for row in rows
        ]
    if outcomes:
        # every column named in every row: a column missing from all rows would come out as
        # NaN floats, which Spark's Arrow conversion cannot turn into strings
        rows = [{name: row.get(name) for name in OUTCOME_COLUMNS} for row in outcomes]
        yield pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))
