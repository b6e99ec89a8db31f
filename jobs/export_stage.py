"""Export: ``gold/coe``, ``gold/questions`` and ``gold/input_predictions`` -> training files
(LLaMA-Factory, ShareGPT, Alpaca, pretraining text, Parquet).

Rows are deduplicated on their final text (prompt + response; the smallest coe_id
stays), shuffled with a seed (order by a seeded hash), and split into train and
validation by another seeded hash, so the same corpus and seed always give the same
files. Before anything is written the rows pass the export checks (``quality/suites.py``):
every answer equals the executed output (for an input prediction: states the input kept for
it, which the sandbox ran and found to give the output), texts and meta are complete, texts
unique.

JSONL formats are written as shards (``train/part-00000.jsonl`` ...) streamed through
the driver, plus ``dataset_info.json`` for LLaMA-Factory; ``parquet`` is written by the
engine. Every row carries ``meta``: kind (coe, question, input), program_id, execution_id,
input, output, source, domain (for kind ``input``: the predicted input and the shown
output). Run with ``tracepile export --format llamafactory --out DIR``. The export checks
block in every gate mode: a failed one stops the export before any file is written. A row a
step raises on (its answer check, its record) is left out and listed in ``rejects.jsonl``
with the reason ``internal_error``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from tracepile.config import TracepileConfig
from tracepile.failures import StepFailed, fault_point, guarded
from tracepile.lakehouse import Lakehouse
from tracepile.quality.suites import export_expectations
from tracepile.quality.validate import CheckResult, run_expectations
from tracepile.stage import Stage, StageRun, require_table
from tracepile.summary import Tally
from tracepile.tables import (
    GOLD_COE,
    GOLD_INPUT_PREDICTIONS,
    GOLD_QUESTIONS,
    SILVER_EXECUTIONS,
    SILVER_PROGRAMS,
)
from tracepile.translation.input_prediction import input_answer_problem
from tracepile.translation.verify import answer_problem
from tracepile.udfs.literals import LITERAL_COLUMNS, add_literals
from tracepile.vocab import INTERNAL_ERROR, Decision, ExportKind, RunMode, Severity

FORMATS = ("llamafactory", "sharegpt", "alpaca", "pretrain", "parquet")
SPLITS = ("train", "validation")
_META = (
    "kind", "program_id", "execution_id", "input", "output", "input_literal", "output_literal", "source",
    "domain", "run_mode",
)  # fmt: skip


_SHARED = ("prompt", "response", "program_id", "execution_id", "input_json")


def samples(lakehouse: Lakehouse, kinds: Sequence[str]) -> DataFrame:
    """The gold rows of ``kinds`` as one shape: ``sample_id``, ``kind``, prompt, response, the
    meta columns, and ``origin_id`` (the program a rewrite rewrites, else the program itself)."""
    programs = lakehouse.read(SILVER_PROGRAMS).select(
        "program_id",
        "source",
        "domain",
        "run_mode",
        F.coalesce("rewrite_of", "program_id").alias("origin_id"),
    )
    parts = []
    if ExportKind.COE in kinds:
        coe = lakehouse.read(GOLD_COE).select(
            F.col("coe_id").alias("sample_id"), F.lit(ExportKind.COE.value).alias("kind"), *_SHARED,
            F.col("output_json").alias("output"),
        )  # fmt: skip
        parts.append(coe)
    if ExportKind.QUESTION in kinds and lakehouse.exists(GOLD_QUESTIONS):
        inputs = lakehouse.read(SILVER_EXECUTIONS).select("execution_id", "input_json")
        key = F.substring(F.sha2(F.concat_ws("\u001f", "question_id", "backend", "model"), 256), 1, 32)
        question = (
            lakehouse.read(GOLD_QUESTIONS)
            .join(inputs, "execution_id")
            .select(
                key.alias("sample_id"), F.lit(ExportKind.QUESTION.value).alias("kind"), *_SHARED,
                F.col("answer_json").alias("output"),
            )
        )  # fmt: skip
        parts.append(question)
    if ExportKind.INPUT in kinds and lakehouse.exists(GOLD_INPUT_PREDICTIONS):
        # the input is the predicted one (run and found to give the output), the output the shown one
        predicted = lakehouse.read(GOLD_INPUT_PREDICTIONS).select(
            F.col("prediction_id").alias("sample_id"), F.lit(ExportKind.INPUT.value).alias("kind"), *_SHARED,
            F.col("output_json").alias("output"),
        )  # fmt: skip
        parts.append(predicted)
    rows = parts[0]
    for part in parts[1:]:
        rows = rows.unionByName(part)
    return rows.join(programs, "program_id")


def export_rows(samples: DataFrame, seed: int, validation_fraction: float) -> DataFrame:
    """One row per distinct text: prompt, response, meta columns, split, shuffle order. The
    split goes by the original program, so a program's rewrites and questions land on its
    side (no leakage between train and validation)."""
    text_key = F.sha2(F.concat_ws("\u001f", "prompt", "response"), 256)
    first = Window.partitionBy("text_key").orderBy("sample_id")
    unique = (
        samples.withColumn("text_key", text_key)
        .withColumn("_rank", F.row_number().over(first))
        .where(F.col("_rank") == 1)
    )
    bucket = F.pmod(F.xxhash64(F.lit(seed + 1), "origin_id"), F.lit(1_000_000))
    rows = unique.select(
        "sample_id",
        "kind",
        "text_key",
        "prompt",
        "response",
        "program_id",
        "execution_id",
        F.col("input_json").alias("input"),
        "output",
        "source",
        "domain",
        "run_mode",
        F.when(bucket < int(validation_fraction * 1_000_000), "validation").otherwise("train").alias("split"),
        F.xxhash64(F.lit(seed), "sample_id").alias("shuffle"),
    )
    literal_fields = [StructField(name, StringType()) for name in LITERAL_COLUMNS]
    return rows.mapInPandas(add_literals, StructType([*rows.schema.fields, *literal_fields]))


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    """``input``/``output`` as typed JSON data (plain JSON where the value is JSON-native:
    ``analysis/values.py``), and as the Python literals ``input_literal``/``output_literal``."""
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


REJECTS_FILE = "rejects.jsonl"  # beside dataset_info.json: the rows a per-row step failed on
EXPORTED = "exported"  # the outcome of a gold row written to the export


@dataclass(frozen=True)
class Rejected:
    """A gold row left out of the export because a step raised on it (``internal_error``)."""

    sample_id: str
    kind: str
    program_id: str
    detail: str

    def record(self) -> dict[str, str]:
        return {**asdict(self), "reason": INTERNAL_ERROR}


def _rejected(row: dict[str, Any], failure: StepFailed) -> Rejected:
    return Rejected(row["sample_id"], row["kind"], row["program_id"], failure.detail)


def _write_jsonl(
    rows: DataFrame, fmt: str, out: Path, shard_rows: int
) -> tuple[dict[str, int], list[Rejected]]:
    """The rows as JSONL shards per split, and the rows that could not be written."""
    written = dict.fromkeys(SPLITS, 0)
    rejected: list[Rejected] = []
    for split in SPLITS:
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        shard = None
        ordered = rows.where(F.col("split") == split).orderBy("shuffle", "sample_id")
        for row in ordered.toLocalIterator():
            line = guarded(_line, fmt, row.asDict())
            if isinstance(line, StepFailed):
                rejected.append(_rejected(row.asDict(), line))
                continue
            if written[split] % shard_rows == 0:
                if shard is not None:
                    shard.close()
                shard = (folder / f"part-{written[split] // shard_rows:05d}.jsonl").open(
                    "w", encoding="utf-8"
                )
            assert shard is not None
            shard.write(line)
            written[split] += 1
        if shard is not None:
            shard.close()
    info = {
        f"tracepile_{split}": {"file_name": split, **DATASET_INFO[fmt]} for split in SPLITS if written[split]
    }
    (out / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return written, rejected


def _line(fmt: str, row: dict[str, Any]) -> str:
    return json.dumps(RECORDS[fmt](row), ensure_ascii=False) + "\n"


def _answer_mismatch(row: dict[str, Any]) -> str | None:
    """Why the row's final answer is not its executed output (None: it is)."""
    fault_point("export", row["program_id"], row["sample_id"])
    if row["kind"] == ExportKind.INPUT:  # its answer is the input, run and found to give the output
        return input_answer_problem(row["response"], row["input"])
    # a question's answer is JSON whatever the program's run mode
    mode = row["run_mode"] if row["kind"] == ExportKind.COE else RunMode.CALL
    return answer_problem(row["response"], row["output"], mode)


def answer_check(rows: DataFrame, examples: int) -> tuple[CheckResult, list[Rejected]]:
    """Every response's final answer equals the executed output (re-checked on the exact rows
    about to be written); and the rows the check itself raised on, which are left out."""
    total, mismatched, rejected = 0, [], []
    columns = ("sample_id", "kind", "program_id", "response", "input", "output", "run_mode")
    for row in rows.select(*columns).toLocalIterator():
        problem = guarded(_answer_mismatch, row.asDict())
        if isinstance(problem, StepFailed):
            rejected.append(_rejected(row.asDict(), problem))
            continue
        total += 1
        if problem:
            mismatched.append(row["sample_id"])
    result = CheckResult(
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
        examples=[{"sample_id": sample_id} for sample_id in mismatched[:examples]],
    )
    return result, rejected


class ExportStage(Stage):
    name = "export"
    reads = (GOLD_COE, GOLD_QUESTIONS, GOLD_INPUT_PREDICTIONS, SILVER_PROGRAMS)
    # per kind of sample: exported, or left out because a step raised on it
    tally = Tally(kept=EXPORTED, kept_as="{by}_rows", by="kind")

    def __init__(
        self, config: TracepileConfig, fmt: str, out: str, kinds: Sequence[str] = tuple(ExportKind)
    ) -> None:
        super().__init__(config)
        self.fmt, self.out, self.kinds = fmt, out, tuple(kinds)

    def target_description(self) -> list[str]:
        return [f"{self.out} ({self.fmt})"]

    def plan(self, run: StageRun) -> None:
        require_table(run.lakehouse, GOLD_COE, "generate")
        settings, summary = self.config.export, run.summary
        target = Path(self.out)
        if target.exists() and any(target.iterdir()):
            raise FileExistsError(f"{self.out} is not empty: export writes into a new or empty folder")
        with run.step("dedup, shuffle, split"):
            gold = run.stage(samples(run.lakehouse, self.kinds), "export_samples")
            rows = run.stage(export_rows(gold, settings.seed, settings.validation_fraction), "export")
            gold_rows, exported = gold.count(), rows.count()
        with run.step("checks"):
            examples = self.config.gate.examples
            answers, rejected = answer_check(rows, examples)
            if rejected:  # left out of the export, and out of the checks on what is written
                rows = rows.where(~F.col("sample_id").isin([r.sample_id for r in rejected]))
            results = run_expectations(rows, "export", export_expectations(), ["sample_id"], examples)
            # the export checks block in every gate mode: nothing is written when one fails
            results = [replace(r, severity=Severity.HARD) for r in [*results, answers]]
            run.audit(results, passed=Decision.EXPORTED, failed=Decision.FAILED)
        unwritten: list[Rejected] = []
        with run.step(f"writing {self.fmt} to {self.out}"):
            if self.fmt == "parquet":
                for split in SPLITS:
                    rows.where(F.col("split") == split).orderBy("shuffle", "sample_id").drop(
                        "shuffle", "text_key"
                    ).write.parquet(str(target / split))
                by_split = {r["split"]: r["count"] for r in rows.groupBy("split").count().collect()}
            else:
                by_split, unwritten = _write_jsonl(rows, self.fmt, target, settings.shard_rows)
        outcomes = Counter({(EXPORTED, kind): 0 for kind in self.kinds})
        outcomes.update({(EXPORTED, r["kind"]): r["count"] for r in rows.groupBy("kind").count().collect()})
        rejected += unwritten
        for row in unwritten:
            outcomes[EXPORTED, row.kind] -= 1
        outcomes.update((INTERNAL_ERROR, row.kind) for row in rejected)
        summary.notes["kinds"] = ", ".join(self.kinds)
        summary.counts.update(gold_rows=gold_rows)
        run.count(outcomes)
        summary.counts["duplicate_texts"] = gold_rows - exported
        summary.counts.update({f"{split}_rows": by_split.get(split, 0) for split in SPLITS})
        if rejected:
            target.mkdir(parents=True, exist_ok=True)
            rejects_file = target / REJECTS_FILE
            rejects_file.write_text(
                "".join(json.dumps(r.record(), ensure_ascii=False) + "\n" for r in rejected), encoding="utf-8"
            )
            summary.notes["rejects"] = str(rejects_file.resolve())
        summary.notes["output"] = str(target.resolve())
