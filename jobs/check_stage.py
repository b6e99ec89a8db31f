"""``tracepile gate TABLE``: a table's quality gate on its published rows, on demand.

The same suite, CHECK constraints and (for silver/executions) rates every batch passes.
Results go to ``meta/validations`` and the run's gate report; nothing is moved. A failed
check stops the run (``GateBlocked``, exit 3).
"""

from __future__ import annotations

from tracepile.config import TracepileConfig
from tracepile.quality.gate import table_checks
from tracepile.stage import Stage, StageRun
from tracepile.tables import VALIDATIONS, TableSpec
from tracepile.vocab import Decision


class CheckStage(Stage):
    name = "gate"
    writes = (VALIDATIONS,)

    def __init__(self, config: TracepileConfig, table: TableSpec) -> None:
        super().__init__(config)
        self.table = table

    def source_description(self) -> str:
        return self.table.qualified_name

    def plan(self, run: StageRun) -> None:
        if not run.lakehouse.exists(self.table):
            raise FileNotFoundError(
                f"{self.table.qualified_name} does not exist yet in {run.lakehouse.location}"
            )
        results = table_checks(run.lakehouse, self.config, self.table)
        failed = sum(not r.success for r in results)
        run.summary.counts = {
            "rows": run.lakehouse.count(self.table) or 0,
            "checks": len(results),
            "failed": failed,
        }
        run.audit(results, passed=Decision.PASSED, failed=Decision.FAILED)
