"""The rewrite stage's ``mapInPandas`` body: rewrites of each program, checked by differential
execution in the sandbox.

``analysis/rewrites.py`` proposes meaning-preserving variants (AST transforms, chosen by a
seeded hash). Each is run on every input of its original, untraced, under the same hash seed
as the original's run: a rewrite is kept only if every input gives the original's status and
result (return value and output); otherwise it is dropped with the first differing input.
One outcome row per rewrite: ``kept`` (a silver/programs row) or the reason (a
silver/rewrite_rejects row).

Only what the comparison needs is run: the original once per check input, the rewrite on
the inputs where the original's run ended on its own (an input where the original hit its
CPU or memory limit says nothing about the rewrite, and would cost the rewrite the same),
each rewrite until its first difference. Neighbouring inputs are extra evidence, so they
run under ``rewrites.neighbour_cpu_seconds`` (a neighbour such as ``n = 0`` may never end).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from tracepile.analysis.filters import entry_function, parse_program
from tracepile.analysis.hashing import canonical_json, content_id
from tracepile.analysis.normalize import exact_key, normalised_tokens
from tracepile.analysis.rewrites import Rewrite, rewrites
from tracepile.config import SandboxLimits, TracepileConfig
from tracepile.failures import StepFailed, fault_point, guarded
from tracepile.tables import SILVER_PROGRAMS, SILVER_REWRITE_REJECTS
from tracepile.udfs.frames import outcome_frame, records
from tracepile.udfs.sandbox import RunResult, Sandbox
from tracepile.udfs.worker_state import WorkerSetup, worker_state
from tracepile.vocab import EVERY_REWRITE_KIND, RewriteDrop, Status

KEPT = "kept"
OUTCOME_COLUMNS = tuple(
    dict.fromkeys(
        [*(f.name for f in SILVER_PROGRAMS.schema if f.name != "run_id"),
         *(f.name for f in SILVER_REWRITE_REJECTS.schema if f.name != "run_id"), "outcome"]
    )
)  # fmt: skip


MIN_CHECKED_INPUTS = 6  # a program with fewer inputs is also checked on neighbours of them
# the original ran out of a resource there: no reference result, so no check on that input
_INCONCLUSIVE = frozenset({Status.TIMEOUT, Status.MEMORY})


def _neighbours(value: Any) -> Iterator[Any]:
    """Values next to ``value``: an integer one up and one down, a list or string one item
    shorter, a boolean flipped, each inside a container in turn."""
    if isinstance(value, bool):
        yield not value
    elif isinstance(value, int):
        yield from (value + 1, value - 1)
    elif isinstance(value, str | list) and value:
        yield value[:-1]
    if isinstance(value, list):
        for index, item in enumerate(value):
            for near in _neighbours(item):
                yield [*value[:index], near, *value[index + 1 :]]


def neighbour_inputs(inputs: list[dict[str, Any]], wanted: int) -> list[dict[str, Any]]:
    """Up to ``wanted - len(inputs)`` more inputs for the differential check, each one
    argument of an existing input moved to a neighbouring value, in a fixed order; their
    expected outputs are unknown (the original's run is the reference)."""
    seen = {item["input_json"] for item in inputs}
    extra: list[dict[str, Any]] = []
    for item in inputs:
        kwargs = json.loads(item["input_json"])
        for name, value in kwargs.items():
            for near in _neighbours(value):
                text = canonical_json({**kwargs, name: near})
                if len(seen) >= wanted:
                    return extra
                if text not in seen:
                    seen.add(text)
                    extra.append({"input_json": text, "expected_output_json": None})
    return extra


class RewritingStage(WorkerSetup, Protocol):
    config: TracepileConfig


def _result(run: RunResult) -> tuple[str, str | None, str]:
    return run.status, run.return_json, run.stdout


def _difference(original: RunResult, rewritten: RunResult) -> RewriteDrop | None:
    if original.status != rewritten.status:
        return RewriteDrop.STATUS_DIFFERS
    return None if _result(original) == _result(rewritten) else RewriteDrop.OUTPUT_DIFFERS


@dataclass(frozen=True)
class _Reference:
    """One check input: its index among the program's inputs and neighbours, the limits it
    runs under, and the original's run on it."""

    index: int
    input_json: str
    limits: SandboxLimits
    original: RunResult


def _verdict(
    program: dict[str, Any], rewrite: Rewrite, references: list[_Reference], sandbox: Sandbox
) -> tuple[RewriteDrop | None, str]:
    """(None, "") when the rewrite gives the original's results on every check input, else
    the reason and the first input where it does not."""
    parsed = parse_program(rewrite.code)
    if isinstance(parsed, str) or entry_function(parsed, program["entry_point"]) is None:
        return RewriteDrop.NOT_VALID, parsed if isinstance(parsed, str) else "the entry function is gone"
    seed = sandbox.hash_seeds[-1]
    for reference in references:
        index, before = reference.index, reference.original
        after = sandbox.run(
            rewrite.code, program["entry_point"], reference.input_json, reference.limits, hash_seed=seed
        )
        if (why := _difference(before, after)) is not None:
            detail = (
                f"input {index} {reference.input_json[:200]}: the original gave {before.status} "
                f"{(before.return_json or before.error or '')[:120]}, the rewrite {after.status} "
                f"{(after.return_json or after.error or '')[:120]}"
            )
            return why, detail
    return None, ""


def _kept_row(program: dict[str, Any], rewrite: Rewrite, identity: dict[str, str]) -> dict[str, Any]:
    tree = parse_program(rewrite.code)
    assert isinstance(tree, ast.Module), "a rewrite that reached here parsed in _verdict"
    tokens = normalised_tokens(tree, program["entry_point"])
    return {
        **{name: program[name] for name in OUTCOME_COLUMNS if name in program},
        **identity,
        "program_id": identity["rewrite_id"],
        "exact_key": exact_key(tokens),
        "outcome": KEPT,
    }


def _dropped_row(identity: dict[str, str], why: RewriteDrop, detail: str) -> dict[str, Any]:
    return {**identity, "reason": str(why), "detail": detail, "outcome": str(why)}


def _identity(program_id: str, kind: str, code: str) -> dict[str, str]:
    identity = {"rewrite_of": program_id, "rewrite_kind": kind, "code": code}
    return {**identity, "rewrite_id": content_id(identity)}


def _checked_rewrite(
    program: dict[str, Any], rewrite: Rewrite, references: list[_Reference], sandbox: Sandbox
) -> dict[str, Any]:
    """The outcome row of one rewrite, run on the check inputs: kept (a silver/programs row
    of ``program``'s own inputs) or dropped with the reason."""
    identity = _identity(program["program_id"], str(rewrite.kind), rewrite.code)
    verdict = guarded(_verdict, program, rewrite, references, sandbox)
    if isinstance(verdict, StepFailed):
        return _dropped_row(identity, RewriteDrop.INTERNAL_ERROR, verdict.detail)
    why, detail = verdict
    if why is not None:
        return _dropped_row(identity, why, detail)
    kept = guarded(_kept_row, program, rewrite, identity)
    if isinstance(kept, StepFailed):
        return _dropped_row(identity, RewriteDrop.INTERNAL_ERROR, kept.detail)
    return kept


def _proposed(
    program: dict[str, Any], sandbox: Sandbox, config: TracepileConfig
) -> tuple[list[Rewrite], list[_Reference]]:
    """The program's rewrites, and the check inputs with the original's runs on them: its own
    inputs under the trace limits, then neighbours under the neighbour CPU limit; inputs
    where the original ran out of a resource are left out."""
    fault_point("rewrite", program["program_id"], program["entry_point"])
    settings = config.rewrites
    proposed = rewrites(program["code"], program["entry_point"], settings.seed, settings.per_program)
    if not proposed:
        return [], []
    own = program["inputs"]
    neighbour_limits = config.trace.model_copy(
        update={
            "cpu_seconds": min(config.trace.cpu_seconds, settings.neighbour_cpu_seconds),
            "wall_seconds": min(config.trace.wall_seconds, 2 * settings.neighbour_cpu_seconds),
        }
    )
    code, entry, seed = program["code"], program["entry_point"], sandbox.hash_seeds[-1]
    references = []
    for index, item in enumerate([*own, *neighbour_inputs(own, MIN_CHECKED_INPUTS)]):
        limits = config.trace if index < len(own) else neighbour_limits
        original = sandbox.run(code, entry, item["input_json"], limits, hash_seed=seed)
        if original.status not in _INCONCLUSIVE:
            references.append(_Reference(index, item["input_json"], limits, original))
    return proposed, references


def check_program(program: dict[str, Any], sandbox: Sandbox, config: TracepileConfig) -> list[dict[str, Any]]:
    """One outcome row per rewrite of ``program`` (a silver/programs row), checked on its
    inputs and, where it has few, on neighbours of them (``neighbour_inputs``). A rewrite whose
    check raises is dropped (``internal_error``); where the program's rewriting fails before
    any rewrite, one such row stands for them all (kind ``all``, the original's code)."""
    found = guarded(_proposed, program, sandbox, config)
    if isinstance(found, StepFailed):
        identity = _identity(program["program_id"], EVERY_REWRITE_KIND, program["code"])
        return [_dropped_row(identity, RewriteDrop.INTERNAL_ERROR, found.detail)]
    proposed, references = found
    return [_checked_rewrite(program, rewrite, references, sandbox) for rewrite in proposed]


def check_partition(batches: Iterator[pd.DataFrame], stage: RewritingStage) -> Iterator[pd.DataFrame]:
    """The ``mapInPandas`` body: every program's rewrites checked, programs run concurrently."""
    programs = records(batches)
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
        yield outcome_frame(outcomes, OUTCOME_COLUMNS)
