"""Export: ``gold/coe``, ``gold/questions`` and ``gold/input_predictions`` -> training files
(LLaMA-Factory, ShareGPT, Alpaca, pretraining text, Parquet).

Rows are deduplicated on their final text (prompt + response; the smallest coe_id
stays), shuffled with a seed (order by a seeded hash), and split into train and
validation by another seeded hash of the original program, so the same corpus and seed
always give the same files. The validation side is never silently empty: it holds at
least one program (and train at least one), or, for a corpus of fewer than
``export.min_validation_programs`` programs, it is not written at all and the summary says why.
Before anything is written the rows pass the export checks (``quality/suites.py``): every
answer equals the executed output (for an input prediction: states the input kept for
it, which the sandbox ran and found to give the output), texts and meta are complete,
texts unique.

JSONL formats are written as shards (``train/part-00000.jsonl`` ...) streamed through
the driver, plus ``dataset_info.json`` for LLaMA-Factory; ``parquet`` is written by the
engine; a Hugging Face dataset card (``README.md``, ``translation/dataset_card.py``) goes
beside every export, so ``datasets.load_dataset(DIR)`` reads it as is. Every row carries
``meta``: kind (coe, question, input), program_id, execution_id, input, output, source,
domain (for kind ``input``: the predicted input and the shown output). Run with
``tracepile export --format llamafactory --out DIR``; ``check_export_destination``
refuses an ``--out`` that cannot take the export before any work. The export checks
block in every gate mode: a failed one stops the export before any file is written. A row a
step raises on (its answer check, its record) is left out and listed in ``rejects.jsonl``
with the reason ``internal_error``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, Window
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
from tracepile.translation.dataset_card import ExportCard, Feature
from tracepile.translation.dataset_card import Split as CardSplit
from tracepile.translation.dataset_card import render as render_card
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


def unique_texts(samples: DataFrame) -> DataFrame:
    """One sample per distinct text (prompt + response; the smallest ``sample_id`` stays)."""
    text_key = F.sha2(F.concat_ws("\u001f", "prompt", "response"), 256)
    first = Window.partitionBy("text_key").orderBy("sample_id")
    return (
        samples.withColumn("text_key", text_key)
        .withColumn("_rank", F.row_number().over(first))
        .where(F.col("_rank") == 1)
        .drop("_rank")
    )


def _bucket(seed: int) -> Column:
    """Where an original program falls in [0, 1e6): the seeded hash the split goes by."""
    return F.pmod(F.xxhash64(F.lit(seed + 1), "origin_id"), F.lit(1_000_000))


@dataclass(frozen=True)
class SplitPlan:
    """Which original programs go to validation: those whose bucket is below ``threshold``,
    moved by ``to_validation``/``to_train`` so that the side holds ``validation_programs``
    programs; none when ``note`` says why."""

    programs: int
    validation_programs: int
    threshold: int
    to_validation: tuple[str, ...] = ()
    to_train: tuple[str, ...] = ()
    note: str | None = None

    def split(self, seed: int) -> Column:
        if not self.validation_programs:
            return F.lit("train")
        drawn = _bucket(seed) < self.threshold
        if self.to_validation:
            drawn = drawn | F.col("origin_id").isin(list(self.to_validation))
        if self.to_train:
            drawn = drawn & ~F.col("origin_id").isin(list(self.to_train))
        return F.when(drawn, "validation").otherwise("train")


def validation_size(programs: int, drawn: int, fraction: float, minimum: int) -> tuple[int, str | None]:
    """How many original programs the validation side holds: those the seeded hash draws
    (``drawn`` of ``programs`` at ``fraction``), at least one and never all; none, with the
    reason, when the fraction is 0 or the corpus has fewer than ``minimum`` programs."""
    if fraction == 0:
        return 0, "none — export.validation_fraction is 0"
    if programs < minimum:
        return 0, f"none — {programs} programs, at least {minimum} needed"
    return min(max(drawn, 1), programs - 1), None


def split_plan(unique: DataFrame, seed: int, fraction: float, minimum: int) -> SplitPlan:
    """The split of the original programs of ``unique`` (as the stable seeded hash draws
    them, moved by as few programs as it takes to keep both sides non-empty)."""
    threshold = int(fraction * 1_000_000)
    origins = unique.select("origin_id").distinct().withColumn("bucket", _bucket(seed))
    counts = origins.agg(
        F.count("*").alias("programs"),
        F.sum(F.when(F.col("bucket") < threshold, 1).otherwise(0)).alias("drawn"),
    ).first()
    programs, drawn = (counts["programs"], counts["drawn"] or 0) if counts else (0, 0)
    size, note = validation_size(programs, drawn, fraction, minimum)
    plan = SplitPlan(programs, size, threshold, note=note)
    if size > drawn:  # the nearest programs above the threshold join validation
        above = origins.where(F.col("bucket") >= threshold).orderBy("bucket", "origin_id").limit(size - drawn)
        plan = replace(plan, to_validation=tuple(r["origin_id"] for r in above.collect()))
    elif 0 < size < drawn:  # the highest drawn programs stay in train
        below = origins.where(F.col("bucket") < threshold).orderBy(F.desc("bucket"), F.desc("origin_id"))
        plan = replace(plan, to_train=tuple(r["origin_id"] for r in below.limit(drawn - size).collect()))
    return plan


def export_rows(unique: DataFrame, seed: int, plan: SplitPlan) -> DataFrame:
    """One row per distinct text (``unique_texts``): prompt, response, meta columns, split,
    shuffle order. The split goes by the original program (``plan``), so a program's
    rewrites and questions land on its side (no leakage between train and validation)."""
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
        plan.split(seed).alias("split"),
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
CARD_FILE = "README.md"  # the Hugging Face dataset card, beside every export
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


def check_export_destination(out: str) -> None:
    """Raise ``ValueError`` (one plain line) when the local folder ``out`` cannot take an
    export: it is not a folder, not empty, or it (or its nearest existing parent) is not
    writable. Object-store URIs are left to the writer."""
    if "://" in out:
        return
    path = Path(out)
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{out} is a file, not a folder: choose a new or empty folder for the export")
        if any(path.iterdir()):
            raise ValueError(f"{out} is not empty: choose a new or empty folder for the export")
        nearest = path
    else:
        nearest = next(parent for parent in path.absolute().parents if parent.exists())
        if not nearest.is_dir():
            raise ValueError(f"{out} cannot be made: {nearest} is a file, not a folder")
    if not os.access(nearest, os.W_OK | os.X_OK):
        where = "" if nearest == path else f" ({nearest} is not writable)"
        raise ValueError(f"{out} is not writable{where}: choose a folder you can write to")


def _write_jsonl(
    rows: DataFrame, fmt: str, out: Path, shard_rows: int
) -> tuple[dict[str, int], list[Rejected]]:
    """The rows as JSONL shards per split, and the rows that could not be written."""
    written = dict.fromkeys(SPLITS, 0)
    rejected: list[Rejected] = []
    for split in SPLITS:
        folder = out / split
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
                folder.mkdir(parents=True, exist_ok=True)
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
        check_export_destination(self.out)
        require_table(run.lakehouse, GOLD_COE, "generate")
        settings, summary = self.config.export, run.summary
        target = Path(self.out)
        with run.step("dedup, shuffle, split"):
            gold = run.stage(samples(run.lakehouse, self.kinds), "export_samples")
            unique = run.stage(unique_texts(gold), "export_unique")
            split = split_plan(
                unique, settings.seed, settings.validation_fraction, settings.min_validation_programs
            )
            rows = run.stage(export_rows(unique, settings.seed, split), "export")
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
                by_split = {r["split"]: r["count"] for r in rows.groupBy("split").count().collect()}
                columns = rows.drop("shuffle", "text_key").schema.fields
                for name in SPLITS:
                    if by_split.get(name):  # a split with no rows gets no folder
                        rows.where(F.col("split") == name).orderBy("shuffle", "sample_id").drop(
                            "shuffle", "text_key"
                        ).write.parquet(str(target / name))
                features = tuple(Feature(f.name, _DTYPES[f.dataType.simpleString()]) for f in columns)
            else:
                by_split, unwritten = _write_jsonl(rows, self.fmt, target, settings.shard_rows)
                features = None
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
        summary.counts.update({f"{name}_rows": by_split.get(name, 0) for name in SPLITS})
        summary.counts.update(programs=split.programs, validation_programs=split.validation_programs)
        if split.note:
            summary.notes["validation"] = split.note
        elif not by_split.get("validation"):
            summary.notes["validation"] = "none — every validation row was left out (rejects.jsonl)"
        target.mkdir(parents=True, exist_ok=True)
        if rejected:
            rejects_file = target / REJECTS_FILE
            rejects_file.write_text(
                "".join(json.dumps(r.record(), ensure_ascii=False) + "\n" for r in rejected), encoding="utf-8"
            )
            summary.notes["rejects"] = str(rejects_file.resolve())
        card = ExportCard(
            fmt=self.fmt,
            splits=tuple(
                _split_files(target, name, by_split.get(name, 0), self.fmt)
                for name in SPLITS
                if by_split.get(name)
            ),
            features=features,
            source_kinds=_source_kinds(run.lakehouse, rows),
            kinds=self.kinds,
            seed=settings.seed,
            notes={"validation": summary.notes["validation"]} if "validation" in summary.notes else {},
        )
        (target / CARD_FILE).write_text(render_card(card), encoding="utf-8")
        summary.notes["output"] = str(target.resolve())


# Spark's type names -> the dtypes of ``datasets`` (the card's features)
_DTYPES = {"string": "string", "bigint": "int64", "int": "int32", "double": "float64", "boolean": "bool"}


def _split_files(target: Path, name: str, rows: int, fmt: str) -> CardSplit:
    """A written split as the card states it: its rows, bytes and the glob of its files."""
    pattern = f"{name}/*.parquet" if fmt == "parquet" else f"{name}/*.jsonl"
    return CardSplit(name, rows, sum(f.stat().st_size for f in target.glob(pattern)), pattern)


def _source_kinds(lakehouse: Lakehouse, rows: DataFrame) -> tuple[str, ...]:
    """The source kinds (``codeio``, ``pyfiles`` ...) of the programs the rows come from."""
    kinds = lakehouse.read(SILVER_PROGRAMS).join(rows.select("program_id").distinct(), "program_id")
    return tuple(sorted(r["source_kind"] for r in kinds.select("source_kind").distinct().collect()))
