"""Exports that train: a validation split that is never silently empty, a ``dataset_info.json``
that names exactly what was written, a Hugging Face dataset card beside every export, and a
Parquet export that ``datasets.load_dataset`` reads as is (offline), on real pipeline output."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tracepile.cli import sample_path
from tracepile.config import ExportConfig, load_config
from tracepile.jobs.dedup_stage import DedupStage
from tracepile.jobs.export_stage import (
    CARD_FILE,
    DATASET_INFO,
    SPLITS,
    ExportStage,
    check_export_destination,
    validation_size,
)
from tracepile.jobs.generate_stage import GenerateStage
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.jobs.trace_stage import TraceStage
from tracepile.lakehouse import Lakehouse
from tracepile.runner import run_stage
from tracepile.summary import StageSummary
from tracepile.translation.dataset_card import size_category

# --- the rule and the destination check: plain Python ---


def test_validation_size_is_never_silently_empty() -> None:
    assert validation_size(44, 0, 0.02, 10) == (1, None)  # the hash drew none: the nearest program joins
    assert validation_size(44, 3, 0.02, 10) == (3, None)
    assert validation_size(12, 12, 0.9, 10) == (11, None)  # never every program: train keeps one
    assert validation_size(3, 1, 0.3, 10) == (0, "none — 3 programs, at least 10 needed")
    assert validation_size(500, 0, 0.0, 10) == (0, "none — export.validation_fraction is 0")


def test_size_category_follows_the_hub_buckets() -> None:
    cases = {0: "n<1K", 999: "n<1K", 1_000: "1K<n<10K", 123_456: "100K<n<1M", 10**9: "n>1B"}
    assert {rows: size_category(rows) for rows in cases} == cases


def test_check_export_destination_names_each_problem(tmp_path: Path) -> None:
    check_export_destination(str(tmp_path / "new" / "deeper"))  # made on write
    (tmp_path / "empty").mkdir()
    check_export_destination(str(tmp_path / "empty"))
    check_export_destination("s3://bucket/export")  # left to the writer
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match=f"^{a_file} is a file, not a folder: choose a new or empty folder"):
        check_export_destination(str(a_file))
    with pytest.raises(ValueError, match=f"^{a_file / 'out'} cannot be made: {a_file} is a file"):
        check_export_destination(str(a_file / "out"))
    full = tmp_path / "full"
    full.mkdir()
    (full / "old.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match=f"^{full} is not empty: choose a new or empty folder"):
        check_export_destination(str(full))


def _checked_as_nobody(*outs: Path) -> list[str]:
    """``check_export_destination`` on each path, in a child process that runs as an
    unprivileged user when this one is root (root writes anywhere): "ok" or the message."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, check, report, exit without cleanup
        try:
            os.close(read)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            lines = []
            for out in outs:
                try:
                    check_export_destination(str(out))
                    lines.append("ok")
                except ValueError as error:
                    lines.append(str(error))
            os.write(write, "\n".join(lines).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, encoding="utf-8") as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return text.splitlines()


def test_check_export_destination_refuses_a_folder_it_cannot_write() -> None:
    """A read-only folder, and a new folder under one."""
    base = Path(tempfile.mkdtemp(prefix="tracepile-readonly-"))
    try:
        base.chmod(0o777)  # writable by the unprivileged user too
        locked = base / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        assert _checked_as_nobody(base / "fine", locked, locked / "out") == [
            "ok",
            f"{locked} is not writable: choose a folder you can write to",
            f"{locked / 'out'} is not writable ({locked} is not writable): choose a folder you can write to",
        ]
    finally:
        shutil.rmtree(base)


# --- real exports of real pipeline output ---


def _generated(spark, lake: Path, source: str) -> Path:
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    lakehouse = Lakehouse(spark, str(lake))
    for stage in (
        IngestStage(config, [source]),
        DedupStage(config),
        TraceStage(config),
        GenerateStage(config),
    ):
        run_stage(stage, lakehouse, stage.name)
    return lake


@pytest.fixture(scope="module")
def sample_lake(spark, tmp_path_factory) -> Path:
    """The sample (44 programs) through ingest, dedup, trace and generate."""
    return _generated(spark, tmp_path_factory.mktemp("export") / "lake", f"codeio:{sample_path()}")


@pytest.fixture(scope="module")
def tiny_lake(spark, tmp_path_factory) -> Path:
    """Two of the sample's programs through the same stages: too few for a validation side."""
    folder = tmp_path_factory.mktemp("tiny")
    source = folder / "two.jsonl"
    source.write_text("".join(Path(sample_path()).read_text(encoding="utf-8").splitlines(keepends=True)[:2]))
    return _generated(spark, folder / "lake", f"codeio:{source}")


def _export(spark, lake: Path, fmt: str, out: Path) -> StageSummary:
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    return run_stage(ExportStage(config, fmt, str(out)), Lakehouse(spark, str(lake)), f"export-{fmt}")


def _card(out: Path) -> dict:
    """The card's YAML header, as huggingface_hub and datasets read it."""
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    text = (out / CARD_FILE).read_text(encoding="utf-8")
    data = DatasetCard(text).data  # parses the header (raises on bad YAML)
    header = yaml.safe_load(text.split("---\n")[1])
    assert data.to_dict() == header
    assert set(header) == {
        "license", "language", "pretty_name", "task_categories", "size_categories", "tags", "configs",
        "dataset_info",
    }  # fmt: skip
    assert MetadataConfigs.from_dataset_card_data(data)["default"]["data_files"]  # as datasets reads it
    infos = DatasetInfosDict.from_dataset_card_data(data)["default"]
    header["_split_sizes"] = {name: split.num_examples for name, split in infos.splits.items()}
    header["_features"] = infos.features
    return header


@pytest.fixture
def offline_datasets(tmp_path, monkeypatch):
    """``datasets`` with no network and a fresh cache."""
    for name, value in (
        ("HF_DATASETS_OFFLINE", "1"),
        ("HF_HUB_OFFLINE", "1"),
        ("HF_HOME", str(tmp_path / "hf")),
    ):
        monkeypatch.setenv(name, value)
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf" / "datasets")
    return datasets


@pytest.mark.spark
@pytest.mark.slow
def test_parquet_export_loads_with_datasets_as_written(
    spark, sample_lake, tmp_path, offline_datasets
) -> None:
    out = tmp_path / "parquet"
    summary = _export(spark, sample_lake, "parquet", out)
    written = {name: pq.read_table(out / name) for name in SPLITS}
    sizes = {name: table.num_rows for name, table in written.items()}
    assert sizes == {name: summary.counts[f"{name}_rows"] for name in SPLITS}
    assert all(sizes.values()) and "validation" not in summary.notes  # both sides hold rows
    assert 1 <= summary.counts["validation_programs"] < summary.counts["programs"] == 44
    assert sorted(p.name for p in out.iterdir()) == [CARD_FILE, "train", "validation"]

    card = _card(out)
    columns = written["train"].column_names
    assert [f["name"] for f in card["dataset_info"]["features"]] == columns
    assert card["_split_sizes"] == sizes
    assert card["size_categories"] == [size_category(sum(sizes.values()))]
    assert "source:codeio" in card["tags"] and "kind:coe" in card["tags"]

    datasets = offline_datasets
    cache = str(Path(os.environ["HF_HOME"]) / "cache")
    by_builder = datasets.load_dataset(
        "parquet", data_files={name: str(out / name / "*.parquet") for name in SPLITS}, cache_dir=cache
    )
    by_card = datasets.load_dataset(str(out), cache_dir=cache)  # the card's configs name the splits
    for loaded in (by_builder, by_card):
        assert {name: loaded[name].num_rows for name in loaded} == sizes
        assert loaded["train"].column_names == columns
        assert loaded["train"].features == card["_features"]
        for name in SPLITS:
            assert loaded[name].to_list() == written[name].to_pylist()


@pytest.mark.spark
@pytest.mark.slow
def test_jsonl_export_dataset_info_names_exactly_what_was_written(
    spark, sample_lake, tmp_path, offline_datasets
) -> None:
    out = tmp_path / "llamafactory"
    summary = _export(spark, sample_lake, "llamafactory", out)
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert set(info) == {"tracepile_train", "tracepile_validation"}
    files: dict[str, list[dict]] = {}
    assert sorted(p.name for p in out.iterdir()) == [CARD_FILE, "dataset_info.json", "train", "validation"]
    for name in SPLITS:
        entry = info[f"tracepile_{name}"]
        assert entry == {"file_name": name, **DATASET_INFO["llamafactory"]}
        rows = [json.loads(line) for f in sorted((out / entry["file_name"]).iterdir()) for line in f.open()]
        files[name] = rows
        assert len(rows) == summary.counts[f"{name}_rows"] > 0
        tags, column = entry["tags"], entry["columns"]["messages"]
        for row in rows:
            user, assistant = row[column]
            assert (user[tags["role_tag"]], assistant[tags["role_tag"]]) == (
                tags["user_tag"],
                tags["assistant_tag"],
            )
            assert user[tags["content_tag"]] and assistant[tags["content_tag"]]
    card = _card(out)
    assert card["_split_sizes"] == {name: summary.counts[f"{name}_rows"] for name in SPLITS}
    assert card["configs"][0]["data_files"] == [{"split": n, "path": f"{n}/*.jsonl"} for n in SPLITS]
    assert "features" not in card["dataset_info"]  # meta.input/output: typed JSON of any shape
    loaded = offline_datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert {name: loaded[name].num_rows for name in loaded} == card["_split_sizes"]
    for name in SPLITS:  # the rows in the order of the files
        assert loaded[name]["messages"] == [row["messages"] for row in files[name]]


@pytest.mark.spark
@pytest.mark.slow
def test_too_few_programs_get_no_validation_split_and_say_so(
    spark, tiny_lake, tmp_path, offline_datasets
) -> None:
    note = f"none — 2 programs, at least {ExportConfig().min_validation_programs} needed"
    out = tmp_path / "llamafactory"
    summary = _export(spark, tiny_lake, "llamafactory", out)
    assert summary.notes["validation"] == note and summary.counts["validation_rows"] == 0
    assert summary.counts["train_rows"] > 0 and summary.counts["programs"] == 2
    assert json.loads((out / "dataset_info.json").read_text(encoding="utf-8")) == {
        "tracepile_train": {"file_name": "train", **DATASET_INFO["llamafactory"]}
    }
    assert sorted(p.name for p in out.iterdir()) == [CARD_FILE, "dataset_info.json", "train"]
    card = _card(out)
    assert card["_split_sizes"] == {"train": summary.counts["train_rows"]}
    assert f"validation: {note}" in (out / CARD_FILE).read_text(encoding="utf-8")

    parquet = tmp_path / "parquet"
    summary = _export(spark, tiny_lake, "parquet", parquet)
    assert summary.notes["validation"] == note
    assert sorted(p.name for p in parquet.iterdir()) == [CARD_FILE, "train"]
    loaded = offline_datasets.load_dataset(str(parquet), cache_dir=str(tmp_path / "cache"))
    assert list(loaded) == ["train"] and loaded["train"].num_rows == summary.counts["train_rows"]


@pytest.mark.spark
def test_export_into_an_occupied_folder_stops_before_any_work(spark, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    config = load_config(overrides={"lakehouse": str(tmp_path / "no-lake")}, environ={})
    with pytest.raises(ValueError, match="is not empty: choose a new or empty folder"):
        run_stage(ExportStage(config, "parquet", str(out)), Lakehouse(spark, str(tmp_path / "no-lake")), "x")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
