"""The stage contract: what a stage declares, and what the runner hands it.

A stage is one step of the pipeline (ingest, dedup, trace, generate, export, ...). It
declares its name, the tables it reads and writes (``TableSpec``s of ``tables.py``), how
its outcomes are counted (``tally``) and the resources one of its workers needs;
``setup()`` makes its per-worker state (a sandbox pool, a model) once per executor process
and ``teardown(state)`` closes it; ``plan(run)`` builds its output DataFrames and hands each
batch, with one outcome per input record, to ``run.write`` and ``run.publish``. Everything
around that (counting outcomes, staging, the quality gate, publish or quarantine, cleanup,
timing, the engine, the run record, interrupts) is the runner's (``runner.py``), the same
for every stage: the models are datatrove's pipeline steps and NeMo Curator's
``ProcessingStage``. A stage reads its settings from the config it was made with.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from tracepile.config import TracepileConfig
from tracepile.summary import BatchProgress, StageSummary, Tally
from tracepile.tables import TableSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from tracepile.lakehouse import Lakehouse
    from tracepile.quality.gate import Batch
    from tracepile.quality.validate import CheckResult


class StageInputError(RuntimeError):
    """The table a stage reads is missing; the message says which command creates it."""


def require_table(lakehouse: Lakehouse, spec: TableSpec, command: str) -> None:
    """StageInputError naming ``command`` when ``spec`` does not exist yet."""
    if not lakehouse.exists(spec):
        raise StageInputError(f"{spec.qualified_name} does not exist yet: run `tracepile {command}` first")


@dataclass(frozen=True)
class Resources:
    """What one worker of a stage uses: CPU cores (0 = every core of its machine) and GPUs."""

    cpus: int = 1
    gpus: int = 0

    def describe(self) -> str:
        cores = "all cores" if self.cpus == 0 else f"{self.cpus} core(s)"
        return cores + (f", {self.gpus} GPU(s)" if self.gpus else "")


class StageRun(Protocol):
    """The runner's side of one stage's run, as the stage sees it."""

    lakehouse: Lakehouse
    run_id: str
    summary: StageSummary

    @property
    def spark(self) -> SparkSession: ...

    def stage(self, df: DataFrame, name: str) -> DataFrame:
        """Materialise an intermediate once (read back by later steps); removed when the stage ends."""
        ...

    def python_partitions(self, wanted: int) -> int:
        """How many partitions a step running Python on every row should use to get
        ``wanted`` (the embedded engine runs at most one Python task per core)."""
        ...

    def mix(self, programs: DataFrame) -> dict[str, int]:
        """Programs per ``source_kind/domain`` (the run summary's mix)."""
        ...

    def step(self, message: str) -> AbstractContextManager[None]:
        """Show a long step's progress and time; a requested interrupt stops the run after it."""
        ...

    def progress(self, rows: int, batches: int) -> AbstractContextManager[BatchProgress]:
        """Batches done of total, rows per second, time left: call ``batch_done(rows)`` after
        each published batch."""
        ...

    def write(
        self, tables: Sequence[tuple[TableSpec, DataFrame]], outcomes: DataFrame | None = None
    ) -> Batch:
        """Write: stage the rows of each DataFrame new to its table (``Batch.rows(spec)`` counts
        them). ``outcomes`` (staged data), one row per input record with a column ``outcome``
        (kept or the reason) and the stage's ``tally.by`` column, is counted into the stage's
        summary by ``tally`` and feeds the stage's rate checks."""
        ...

    def count(self, outcomes: Mapping[tuple[str, str | None], int]) -> None:
        """Count outcomes a stage tallied outside Spark (``(outcome, by value) -> rows``) into
        its summary by its ``tally``, as ``write`` does for a batch's."""
        ...

    def publish(self, batch: Batch) -> None:
        """Audit, then publish: every table's gate (and the stage's rates) on the staged batch,
        then one commit per table in the order given; or quarantine and ``GateBlocked``."""
        ...

    def audit(self, results: list[CheckResult], passed: str, failed: str) -> None:
        """Record checks that guard something other than a table (export files, an on-demand
        gate) and raise ``GateBlocked`` when one stops the run."""
        ...


class Stage(ABC):
    """One step of the pipeline. Subclasses set ``name``, ``reads``, ``writes`` and ``plan``."""

    name: ClassVar[str]
    reads: ClassVar[tuple[TableSpec, ...]] = ()
    writes: ClassVar[tuple[TableSpec, ...]] = ()
    # a word on what of ``reads`` is read, for the run summary (e.g. "status ok")
    reads_detail: ClassVar[str] = ""
    tally: ClassVar[Tally | None] = None  # how the outcomes given to ``run.write`` are counted

    def __init__(self, config: TracepileConfig) -> None:
        self.config = config

    def resources(self) -> Resources:
        """What one worker of this stage uses (shown in the run summary)."""
        return Resources()

    def setup(self) -> Any:
        """Per-worker state (a sandbox pool, a model engine), made once per executor process on
        first use through ``udfs/worker_state.py``. None by default."""
        return None

    def teardown(self, state: Any) -> None:
        """Close what ``setup()`` made: at the executor process's exit, or when a task asks
        for the slot with other settings."""
        if callable(getattr(state, "close", None)):
            state.close()

    def worker_key(self) -> tuple[str, Hashable]:
        """(slot, settings) of the per-worker state: a process keeps one state per slot, made
        again when the settings change. Stages with state narrow the settings to what the
        state depends on."""
        return self.name, json.dumps(self.config.model_dump(mode="json"), sort_keys=True)

    def source_description(self) -> str:
        """What the stage reads, for people."""
        names = ", ".join(spec.qualified_name for spec in self.reads)
        return f"{names} ({self.reads_detail})" if self.reads_detail else names

    def target_description(self) -> list[str]:
        """What the stage writes, for people."""
        return [spec.qualified_name for spec in self.writes]

    @abstractmethod
    def plan(self, run: StageRun) -> None:
        """Build the output DataFrames, publish them through ``run``, fill ``run.summary``."""
