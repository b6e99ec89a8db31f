"""Precision and recall of duplicate removal on a planted set built from the real sample.

1. The sample (``../shared/data/pyedu_toy.jsonl``, programs passing the static filters) is
   deduplicated alone; its survivors are the unrelated programs (the rest are real
   near-copies inside the sample, reported but not scored).
2. For ``--per-kind`` survivors per kind, one planted copy: exact, reformatted, renamed,
   one-line edit (``bench/mutate.py``).
3. The dedup stage runs on survivors + copies (embedded engine). A removal is correct when
   its keeper is from the same group (original + its copy). Recall = correct removals /
   planted copies; precision = correct removals / all removals.

Run: ``python bench/bench_dedup_quality.py [--per-kind 100] [--seed 0] [--set dedup.bands=20]``
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutate import KINDS, load_programs, planted_record, write_jsonl

from tracepile.config import load_config
from tracepile.engine import spark_session
from tracepile.jobs.dedup_stage import DedupStage
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.lakehouse import Lakehouse
from tracepile.runner import run_stage
from tracepile.tables import BRONZE_SOURCES, SILVER_PROGRAMS, SILVER_REJECTS
from tracepile.vocab import DUPLICATE_REASONS

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyedu_toy.jsonl"


def dedup_file(path: Path, assignments: list[str]) -> tuple[dict[str, dict], dict[str, str], set[str]]:
    """(meta by program_id, keeper by removed program_id, kept program_ids) after ingest + dedup."""
    with tempfile.TemporaryDirectory() as root:
        config = load_config(overrides={"lakehouse": root}, assignments=assignments, environ={})
        with spark_session(config) as spark:
            lakehouse = Lakehouse(spark, root)
            run_stage(IngestStage(config, [f"codeio:{path}"]), lakehouse, "bench-ingest")
            run_stage(DedupStage(config), lakehouse, "bench-dedup")
            meta = {
                row["program_id"]: json.loads(row["meta_json"])
                for row in lakehouse.read(BRONZE_SOURCES).select("program_id", "meta_json").collect()
            }
            keepers = {
                row["program_id"]: row["keeper_id"]
                for row in lakehouse.read(SILVER_REJECTS).collect()
                if row["reason"] in DUPLICATE_REASONS
            }
            kept = {
                row["program_id"] for row in lakehouse.read(SILVER_PROGRAMS).select("program_id").collect()
            }
    return meta, keepers, kept


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-kind", type=int, default=100, help="planted copies per kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="assignments", action="append", default=[], help="config KEY=VALUE")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = Console()

    records = load_programs(SAMPLE)
    for index, record in enumerate(records):
        record["meta"] = {"group": index, "kind": "original"}
    with tempfile.TemporaryDirectory() as work:
        base_file = Path(work) / "base.jsonl"
        write_jsonl(records, base_file)
        meta, _, kept = dedup_file(base_file, args.assignments)
        survivors = [r for r in records if any(meta[p]["group"] == r["meta"]["group"] for p in kept)]
        out.print(
            f"sample: {len(records)} programs pass the filters; {len(survivors)} survive dedup alone "
            f"(the other {len(records) - len(survivors)} are near-copies inside the sample)"
        )

        chosen = rng.sample(survivors, args.per_kind * len(KINDS))
        planted = [
            planted_record(record, KINDS[kind](record["refcode"], rng), kind, record["meta"]["group"], 1)
            for position, record in enumerate(chosen)
            for kind in [list(KINDS)[position % len(KINDS)]]
        ]
        planted_file = Path(work) / "planted.jsonl"
        write_jsonl([*survivors, *planted], planted_file)
        meta, keepers, _ = dedup_file(planted_file, args.assignments)

    correct: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for removed, keeper in keepers.items():
        kind = meta[removed]["kind"] if meta[removed]["kind"] != "original" else meta[keeper]["kind"]
        if meta[removed]["group"] == meta[keeper]["group"]:
            correct[kind] += 1
        else:
            wrong[kind] += 1
    table = Table(title="planted duplicates (default threshold unless --set)", title_justify="left")
    for column in ("kind", "planted", "removed correctly", "recall", "wrong removals"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind in KINDS:
        table.add_row(
            kind,
            str(args.per_kind),
            str(correct[kind]),
            f"{correct[kind] / args.per_kind:.3f}",
            str(wrong[kind]),
        )
    total_correct, total_removed = sum(correct.values()), len(keepers)
    planted_total = args.per_kind * len(KINDS)
    table.add_row(
        "all",
        str(planted_total),
        str(total_correct),
        f"{total_correct / planted_total:.3f}",
        str(total_removed - total_correct),
        end_section=True,
    )
    out.print(table)
    precision = total_correct / total_removed if total_removed else 1.0
    out.print(
        f"precision {precision:.3f}  recall {total_correct / planted_total:.3f}  "
        f"({total_removed} removals, {len(survivors)} unrelated programs, seed {args.seed})"
    )


if __name__ == "__main__":
    main()
