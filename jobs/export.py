"""Export: ``gold/coe`` -> training files (LLaMA-Factory, ShareGPT, Alpaca, pretraining text, Parquet).

Rows are deduplicated on their final text (prompt + response; the smallest coe_id
stays), shuffled with a seed (order by a seeded hash), and split into train and
validation by another seeded hash, so the same corpus and seed always give the same
files. Before anything is written the rows pass the export checks (``quality/suites.py``):
every answer equals the executed output, texts and meta are complete, texts unique.

JSONL formats are written as shards (``train/part-00000.jsonl`` ...) streamed through
the driver, plus ``dataset_info.json`` for LLaMA-Factory; ``parquet`` is written by the
engine. Every row carries ``meta``: program_id, execution_id, input, output, source,
domain. Run with ``tracepile export --format llamafactory --out DIR``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from tracepile.config import TracepileConfig
from tracepile.jobs.dedup import StageInputError
from tracepile.lakehouse import Lakehouse
from tracepile.quality.gate import GateBlocked, blocking, record_results
from tracepile.quality.suites import export_expectations
from tracepile.quality.validate import run_expectations
from tracepile.report import StageReport, step
from tracepile.tables import GOLD_COE
from tracepile.translation.verify import answer_problem

FORMATS = ("llamafactory", "sharegpt", "alpaca", "pretrain", "parquet")
SPLITS = ("train", "validation")
_META = ("program_id", "execution_id", "input", "output", "source", "domain")


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
        F.when(bucket < int(validation_fraction * 1_000_000), "validation").otherwise("train").alias("split"),
        F.xxhash64(F.lit(seed), "coe_id").alias("shuffle"),
    )


def answer_mismatches(rows: Iterable[dict[str, Any]]) -> list[str]:
    """coe_ids whose response's final answer is not the executed output."""
    return [row["coe_id"] for row in rows if answer_problem(row["response"], row["output"])]


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


def run_export(
    spark: SparkSession, lakehouse: Lakehouse, config: TracepileConfig, fmt: str, out: str, run_id: str
) -> StageReport:
    started = time.perf_counter()
    report = StageReport(stage="export", reads=GOLD_COE.qualified_name, writes=[f"{out} ({fmt})"])
    if not lakehouse.exists(GOLD_COE):
        raise StageInputError("gold/coe does not exist yet: run `tracepile generate` first")
    settings = config.export
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{out} is not empty: export writes into a new or empty folder")
    try:
        with step("export: dedup, shuffle, split"):
            rows = lakehouse.stage(
                export_rows(lakehouse.read(GOLD_COE), settings.seed, settings.validation_fraction),
                "export",
                run_id,
            )
            gold_rows, exported = lakehouse.count(GOLD_COE) or 0, rows.count()
        with step("export: checks"):
            results = run_expectations(
                rows, "export", export_expectations(), ["coe_id"], config.gate.examples
            )
            mismatched = answer_mismatches(
                r.asDict() for r in rows.select("coe_id", "response", "output").toLocalIterator()
            )
            record_results(
                lakehouse, config, run_id, "export", results, "failed" if mismatched else "exported"
            )
            stopping = blocking(results, "fail")
            if stopping or mismatched:
                problems = [r.describe() for r in stopping] + (
                    [f"{len(mismatched)} answers differ from the executed output, e.g. {mismatched[:3]}"]
                    if mismatched
                    else []
                )
                raise GateBlocked(
                    "the export checks failed; nothing was written:\n  - " + "\n  - ".join(problems),
                    stopping,
                    [report],
                )
        with step(f"export: writing {fmt} to {out}"):
            if fmt == "parquet":
                for split in SPLITS:
                    rows.where(F.col("split") == split).orderBy("shuffle", "coe_id").drop(
                        "shuffle", "text_key"
                    ).write.parquet(str(target / split))
                by_split = {r["split"]: r["count"] for r in rows.groupBy("split").count().collect()}
            else:
                by_split = _write_jsonl(rows, fmt, target, settings.shard_rows)
    finally:
        lakehouse.drop_staging(run_id)
        report.seconds = time.perf_counter() - started
    report.counts = {
        "gold_rows": gold_rows,
        "duplicate_texts": gold_rows - exported,
        **{f"{split}_rows": by_split.get(split, 0) for split in SPLITS},
    }
    report.notes["output"] = str(target.resolve())
    return report


if __name__ == "__main__":
    from tracepile.cli import main_for_job

    sys.exit(main_for_job("export", sys.argv[1:]))
