"""What a stage that writes text still has to do: the executions no row of this backend and
model answers yet, and a run bounded to the first few of them (the rest stay pending).

Shared by generate, questions and inputs (``tracepile/execution/``: no stage imports another).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from tracepile.execution.runs_programs import settled_executions
from tracepile.lakehouse import Lakehouse
from tracepile.stage import StageRun
from tracepile.tables import TableSpec
from tracepile.translation.backends import Backend
from tracepile.vocab import RunMode


def unanswered_executions(
    lakehouse: Lakehouse, answered_in: Sequence[TableSpec], backend: Backend
) -> DataFrame:
    """Settled ok executions of called functions without a row from ``backend`` (its name and
    model) in any of ``answered_in`` (a stage's kept and rejected tables)."""
    rows = settled_executions(lakehouse).where(F.col("run_mode") == RunMode.CALL.value)
    for spec in answered_in:
        if lakehouse.exists(spec):
            done = lakehouse.read(spec).where(
                (F.col("backend") == str(backend.name)) & (F.col("model") == backend.model)
            )
            rows = rows.join(done.select("execution_id").distinct(), "execution_id", "left_anti")
    return rows


def take_bounded(
    run: StageRun,
    pending: DataFrame,
    total: int,
    bound: int | None,
    order: Sequence[Column | str],
    setting: str,
) -> tuple[DataFrame, int]:
    """The first ``bound`` of ``total`` staged pending rows by ``order`` (so the next run goes
    on where this one stopped) and how many that is; the rest stay pending, as the summary
    says (``left_pending`` and a note naming ``setting``). All of them without a bound."""
    if bound is None or total <= bound:
        return pending, total
    with run.step(f"taking the first {bound} of {total} ({setting})"):
        taken = run.stage(pending.orderBy(*order).limit(bound), f"{run.summary.stage}_bounded")
    run.summary.counts["left_pending"] = total - bound
    run.summary.notes["bounded"] = (
        f"{bound} of {total} pending executions this run ({setting}); "
        f"the other {total - bound} stay pending for the next run"
    )
    return taken, bound
