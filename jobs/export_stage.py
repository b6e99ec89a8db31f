"""Export: ``gold/coe`` -> training files (LLaMA-Factory, ShareGPT, Alpaca, pretraining text, Parquet).

Rows are deduplicated on their final text (prompt + response; the smallest coe_id
stays), shuffled with a seed (order by a seeded hash), and split into train and
validation by another seeded hash, so the same corpus and seed always give the same
files. Before anything is written the rows pass the export checks (``quality/suites.py``):
every answer equals the executed output, texts and meta are complete, texts unique.

JSONL formats are written as shards (``train/part-00000.jsonl`` ...) streamed through
the driver, plus ``dataset_info.json`` for LLaMA-Factory; ``parquet`` is written by the
engine. Every row carries ``meta``: program_id, execution_id, input, output, source,
domain. Run with ``tracepile export --format llamafactory --out DIR``. The export checks
block in every gate mode: a failed one stops the export before any file is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from tracepile.config import TracepileConfig
from tracepile.quality.suites import export_expectations
from tracepile.quality.validate import CheckResult, run_expectations
from tracepile.stage import Stage, StageRun, require_table
from tracepile.tables import GOLD_COE
from tracepile.translation.verify import answer_problem
from tracepile.vocab import Decision, Severity

FORMATS = ("llamafactory", "sharegpt", "alpaca", "pretrain", "parquet")
SPLITS = ("train", "validation")
_META = ("program_id", "execution_id", "input", "output", "source", "domain", "run_mode")


def export_rows(gold: DataFrame, seed: int, validation_fraction: float) -> DataFrame:
    """One row per distinct text: prompt, response, meta columns, split, shuffle order."""
    text_key = F.sha2(F.concat_ws("\u001f", "prompt", "response"), 256)
    first = Window.partitionBy("text_key").orderBy("coe_id")
    unique = (
        gold.withColumn("text_key", text_key)
        .withColumn("_rank", F.row_number().over(first))
        .where(F.col("_rank") == 1)
    )
    bucket = F.pmod(F.xxhash64(F.lit(seed + 1), "coe_id"), F.lit(1_000_000))
    return unique.select(
        "coe_id",
        "text_key",
        "prompt",
        "response",
        "program_id",
        "execution_id",
        F.col("input_json").alias("input"),
        F.col("output_json").alias("output"),
        "source",
        "domain",
        "run_mode",
        F.when(bucket < int(validation_fraction * 1_000_000), "validation").otherwise("train").alias("split"),
        F.xxhash64(F.lit(seed), "coe_id").alias("shuffle"),
    )


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    meta = {k: row[k] for k in _META}
    meta["input"], meta["output"] = json.loads(row["input"]), json.loads(row["output"])
    return meta


RECORDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "llamafactory": lambda r: {
        "messages": [
            {"role": "user", "content": r["prompt"]},
            {"role": "assistant", "content": r["response"]},
        ],
        "meta": _meta(r),
    },
    "sharegpt": lambda r: {
        "conversations": [{"from": "human", "value": r["prompt"]}, {"from": "gpt", "value": r["response"]}],
        "meta": _meta(r),
    },
    "alpaca": lambda r: {"instruction": r["prompt"], "input": "", "output": r["response"], "meta": _meta(r)},
    "pretrain": lambda r: {"text": f"{r['prompt']}\n\n{r['response']}", "meta": _meta(r)},
}

# How LLaMA-Factory reads each JSONL format (its dataset_info.json entries)
DATASET_INFO: dict[str, dict[str, Any]] = {
    "llamafactory": {
        "formatting": "sharegpt",
        "columns": {"messages": "messages"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
        },
    },
    "sharegpt": {"formatting": "sharegpt", "columns": {"messages": "conversations"}},
    "alpaca": {
        "formatting": "alpaca",
        "columns": {"prompt": "instruction", "query": "input", "response": "output"},
    },
    "pretrain": {"columns": {"prompt": "text"}},
}


def _write_jsonl(rows: DataFrame, fmt: str, out: Path, shard_rows: int) -> dict[str, int]:
    written = dict.fromkeys(SPLITS, 0)
    for split in SPLITS:
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        shard = None
        ordered = rows.where(F.col("split") == split).orderBy("shuffle", "coe_id")
        for row in ordered.toLocalIterator():
            if written[split] % shard_rows == 0:
                if shard is not None:
                    shard.close()
                shard = (folder / f"part-{written[split] // shard_rows:05d}.jsonl").open(
                    "w", encoding="utf-8"
                )
            assert shard is not None
            shard.write(json.dumps(RECORDS[fmt](row.asDict()), ensure_ascii=False) + "\n")
            written[split] += 1
        if shard is not None:
            shard.close()
    info = {
        f"tracepile_{split}": {"file_name": split, **DATASET_INFO[fmt]} for split in SPLITS if written[split]
    }
    (out / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return written


def answer_check(rows: DataFrame, examples: int) -> CheckResult:
    """Every response's final answer equals the executed output (re-checked on the exact rows
    about to be written)."""
    total, mismatched = 0, []
    for row in rows.select("coe_id", "response", "output", "run_mode").toLocalIterator():
        total += 1
        if answer_problem(row["response"], row["output"], row["run_mode"]):
            mismatched.append(row["coe_id"])
    return CheckResult(
        table="export",
        check="every answer equals the executed output",
        expectation="final_answer_equals_output",
        column="response",
        kwargs={},
        severity=Severity.BLOCK,
        success=not mismatched,
        element_count=total,
        unexpected_count=len(mismatched),
        unexpected_percent=100.0 * len(mismatched) / total if total else 0.0,
        examples=[{"coe_id": coe_id} for coe_id in mismatched[:examples]],
    )


class ExportStage(Stage):
    name = "export"
    reads = (GOLD_COE,)

    def __init__(self, config: TracepileConfig, fmt: str, out: str) -> None:
        super().__init__(config)
        self.fmt, self.out = fmt, out

    def target_description(self) -> list[str]:
        return [f"{self.out} ({self.fmt})"]

    def plan(self, run: StageRun) -> None:
        require_table(run.lakehouse, GOLD_COE, "generate")
        settings, report = self.config.export, run.report
        target = Path(self.out)
        if target.exists() and any(target.iterdir()):
            raise FileExistsError(f"{self.out} is not empty: export writes into a new or empty folder")
        with run.step("dedup, shuffle, split"):
            rows = run.stage(
                export_rows(run.lakehouse.read(GOLD_COE), settings.seed, settings.validation_fraction),
                "export",
            )
            gold_rows, exported = run.lakehouse.count(GOLD_COE) or 0, rows.count()
        with run.step("checks"):
            examples = self.config.gate.examples
            results = run_expectations(rows, "export", export_expectations(), ["coe_id"], examples)
            # the export checks block in every gate mode: nothing is written when one fails
            results = [replace(r, severity=Severity.HARD) for r in [*results, answer_check(rows, examples)]]
            run.audit(results, passed=Decision.EXPORTED, failed=Decision.FAILED)
        with run.step(f"writing {self.fmt} to {self.out}"):
            if self.fmt == "parquet":
                for split in SPLITS:
                    rows.where(F.col("split") == split).orderBy("shuffle", "coe_id").drop(
                        "shuffle", "text_key"
                    ).write.parquet(str(target / split))
                by_split = {r["split"]: r["count"] for r in rows.groupBy("split").count().collect()}
            else:
                by_split = _write_jsonl(rows, self.fmt, target, settings.shard_rows)
        report.counts = {
            "gold_rows": gold_rows,
            "duplicate_texts": gold_rows - exported,
            **{f"{split}_rows": by_split.get(split, 0) for split in SPLITS},
        }
        report.notes["output"] = str(target.resolve())
