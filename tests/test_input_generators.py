"""Records that carry an input generator instead of I/O pairs: parsed, their generators run
in a real sandbox, the drawn inputs filled into parsed rows (pure Python and a sandbox, no Spark)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from tests.corruption import GOOD
from tracepile.analysis.hashing import content_id
from tracepile.config import IngestConfig, SandboxLimits, TracepileConfig
from tracepile.sources.codeio import parse_codeio_record
from tracepile.sources.files import parse_file
from tracepile.sources.input_generators import accept_generated, generated_inputs, generator_program
from tracepile.sources.records import Rejection
from tracepile.udfs.generate_inputs import fill_generated_inputs
from tracepile.udfs.read_files import PARSED_ARROW_SCHEMA
from tracepile.udfs.sandbox import RunResult, Sandbox
from tracepile.udfs.worker_state import release

FIXTURE = Path(__file__).parent / "fixtures" / "codeio_generators.jsonl"
RECORDS = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
GOOD_GENERATORS = RECORDS[:3]  # CodeI/O, reasoning-gym codeio.jsonl, reasoning-gym preprocessing
RAISES, RETURNS_LIST = RECORDS[3], RECORDS[4]
QUICK = SandboxLimits(cpu_seconds=1, wall_seconds=3)
FAILED = "input_generator_failed"
NO_IOS = {key: value for key, value in GOOD.items() if key != "ios"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=2) as box:
        yield box


def _runner(sandbox: Sandbox, limits: SandboxLimits = QUICK) -> Any:
    def run(code: str, entry: str, input_json: str) -> RunResult:
        return sandbox.run(code, entry, input_json, limits)

    return run


def _parsed(record: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_codeio_record(json.dumps(record).encode())
    assert not isinstance(parsed, Rejection), parsed
    return parsed


# --- parsing -------------------------------------------------------------------------------


def test_every_fixture_layout_parses_into_a_program_waiting_for_its_generator() -> None:
    parsed = [_parsed(record) for record in RECORDS]
    assert [p["entry_point"] for p in parsed] == ["main_solution", "main_solution", "main"] + [
        "main_solution"
    ] * 2
    for record, program in zip(RECORDS, parsed, strict=True):
        assert program["inputs"] == []
        assert program["run_mode"] == "call"
        assert json.loads(program["meta_json"])["input_generator"] == record["input_generator"]
    pyedu, gym, preprocessed = parsed[:3]
    assert pyedu["code"] == RECORDS[0]["refcode"] and pyedu["domain"] == "math"
    assert json.loads(pyedu["meta_json"])["repo_name"] == RECORDS[0]["meta"]["repo_name"]
    assert gym["code"] == RECORDS[1]["code_sample"]
    assert gym["problem"] == RECORDS[1]["task_description"]
    assert gym["io_requirements"] == RECORDS[1]["input_output_spec"]
    # reasoning-gym's scores and generation counts are the record's meta
    assert json.loads(gym["meta_json"])["difficulty"] == RECORDS[1]["difficulty"]
    assert preprocessed["code"] == RECORDS[2]["reference_code"]
    assert preprocessed["problem"] == RECORDS[2]["query"]
    assert preprocessed["io_requirements"] == RECORDS[2]["parameters"]
    assert all(type(p[key]) is str for p in parsed for key in ("source_kind", "domain", "run_mode"))


def test_the_generator_is_part_of_the_program_id() -> None:
    record = RECORDS[0]
    other = {**record, "input_generator": record["input_generator"].replace("1000", "999")}
    assert _parsed(record)["program_id"] != _parsed(other)["program_id"]
    # the meta is not content: a different repo is the same program
    moved = {**record, "meta": {"repo_name": "elsewhere"}}
    assert _parsed(record)["program_id"] == _parsed(moved)["program_id"]


def test_records_with_io_pairs_keep_their_ids_and_meta() -> None:
    plain = _parsed(GOOD)
    with_generator = _parsed({**GOOD, "input_generator": RECORDS[0]["input_generator"]})
    assert with_generator == plain
    content = {key: plain[key] for key in ("source_kind", "source", "category", "problem")}
    content |= {key: plain[key] for key in ("io_requirements", "code", "entry_point", "inputs")}
    assert plain["program_id"] == content_id(content)


@pytest.mark.parametrize(
    ("record", "reason", "detail"),
    [
        (NO_IOS, "missing_field", "ios"),
        ({**NO_IOS, "input_generator": "  \n"}, "missing_field", "ios"),
        ({k: v for k, v in RECORDS[1].items() if k != "input_generator"}, "missing_field", "input_generator"),
        ({**RECORDS[0], "input_generator": ["def input_generator(): ..."]}, "wrong_type", "input_generator"),
        ({**RECORDS[1], "code_sample": "  "}, "empty_code", "code_sample"),
        ({**RECORDS[2], "query": 3}, "wrong_type", "query"),
    ],
    ids=["no-ios", "blank-generator", "gym-no-generator", "generator-list", "blank-sample", "query-int"],
)
def test_records_without_a_way_to_their_inputs_are_rejected(
    record: dict[str, Any], reason: str, detail: str
) -> None:
    parsed = parse_codeio_record(json.dumps(record).encode())
    assert isinstance(parsed, Rejection)
    assert (parsed.reason, parsed.detail.split()[0]) == (reason, detail)


# --- the generator's program ---------------------------------------------------------------


@pytest.mark.parametrize("record", GOOD_GENERATORS, ids=["codeio", "gym", "gym-preprocessed"])
def test_generated_inputs_are_distinct_kwargs_the_program_runs_on(sandbox: Sandbox, record: dict) -> None:
    program = _parsed(record)
    inputs = generated_inputs(_runner(sandbox), record["input_generator"], 5, 0, program["code"])
    assert not isinstance(inputs, Rejection), inputs
    assert len(inputs) == 5  # wide ranges: five seeds, five different inputs
    assert len({i["input_json"] for i in inputs}) == 5
    assert all(i["expected_output_json"] is None for i in inputs)
    for item in inputs:
        result = sandbox.run(program["code"], program["entry_point"], item["input_json"], QUICK)
        assert result.status == "ok", (item, result.error)


def test_the_same_seed_draws_the_same_input_and_other_seeds_differ(sandbox: Sandbox) -> None:
    generator, program = RECORDS[1]["input_generator"], RECORDS[1]["code_sample"]
    first = sandbox.run(*generator_program(generator, 11, program), QUICK)
    again = sandbox.run(*generator_program(generator, 11, program), QUICK)
    assert first.status == "ok" and first.return_json == again.return_json
    drawn = {
        sandbox.run(*generator_program(generator, seed, program), QUICK).return_json for seed in range(6)
    }
    assert len(drawn) == 6
    assert set(json.loads(first.return_json)) == {"message", "shift"}


def test_the_generator_sees_the_programs_imports_as_the_datasets_runners_gave_them(
    sandbox: Sandbox,
) -> None:
    # reasoning-gym's generator uses `string`, which only the program's code imports
    alone = generated_inputs(_runner(sandbox), RECORDS[1]["input_generator"], 2, 0)
    assert isinstance(alone, Rejection)
    assert alone.detail.endswith("NameError: name 'string' is not defined")


def test_repeated_draws_are_kept_once(sandbox: Sandbox) -> None:
    coin = "import random\n\ndef input_generator():\n    return {'heads': random.random() < 0.5}\n"
    inputs = generated_inputs(_runner(sandbox), coin, 8, 0)
    assert sorted(i["input_json"] for i in inputs) == ['{"heads":false}', '{"heads":true}']


def test_numpy_is_seeded_only_for_a_generator_that_imports_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with_numpy = (
        "def input_generator():\n    import numpy as np\n"
        "    return {'v': np.random.randint(0, 10**6, 3).tolist()}\n"
    )
    plain = RECORDS[0]["input_generator"]
    program = "import numpy as np\n\ndef main_solution(v):\n    return int(np.sum(v))\n"
    uses_programs_np = "def input_generator():\n    return {'v': np.random.rand(3).tolist()}\n"
    assert "numpy.random.seed" in generator_program(with_numpy, 0)[0]
    assert "numpy.random.seed" in generator_program(uses_programs_np, 0, program)[0]
    assert "numpy.random.seed" not in generator_program(plain, 0, program)[0]
    # our own generator, run in-process: the wrapper is plain Python (the sandbox of this
    # checkout cannot import numpy.random as user nobody, see the sandbox's preloads)
    monkeypatch.setitem(sys.modules, "__input_generator__", None)

    def draw(seed: int) -> Any:
        code, entry, input_json = generator_program(with_numpy, seed)
        namespace: dict[str, Any] = {}
        exec(code, namespace)
        return namespace[entry](**json.loads(input_json))

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


def test_a_syntax_error_cites_the_generators_own_line(sandbox: Sandbox) -> None:
    broken = "import random\n\ndef input_generator(:\n    return {}\n"
    failed = generated_inputs(_runner(sandbox), broken, 2, 0)
    assert isinstance(failed, Rejection)
    assert "SyntaxError" in failed.detail and "(<input_generator>, line 3)" in failed.detail


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ('{"b": 2, "a": [1, 2]}', '{"a":[1,2],"b":2}'),
        ("[1, 2]", "returned list, expected a dict of keyword arguments"),
        ("null", "returned NoneType, expected a dict of keyword arguments"),
        ('{"1": 2}', "returned key '1', which is not a parameter name"),
        ('{"$dict": [[1, 2]]}', "returned key '1', which is not a parameter name"),
        # values as generated: a tuple stays a tuple, a nested dict keeps its order
        ('{"b": {"$tuple": [1]}, "a": {"z": 1, "y": 2}}', '{"a":{"z":1,"y":2},"b":{"$tuple":[1]}}'),
        (None, "returned no value"),
    ],
)
def test_accept_generated(text: str | None, accepted: str) -> None:
    got = accept_generated(text)
    assert (got if isinstance(got, str) else (got.reason, got.detail)) in (accepted, (FAILED, accepted))


# --- generators that fail ------------------------------------------------------------------

LOOPS = "def input_generator():\n    while True:\n        pass\n"
NO_FUNCTION = "import random\nVALUES = [random.randint(1, 9) for _ in range(3)]\n"
SOCKET = (
    "import socket\n\ndef input_generator():\n"
    "    socket.create_connection(('pypi.org', 443), timeout=2)\n    return {'n': 1}\n"
)
ESCAPE = Path("/tmp/tracepile-generator-escape.txt")
WRITES_OUTSIDE = f"def input_generator():\n    open({str(ESCAPE)!r}, 'w').write('x')\n    return {{'n': 1}}\n"


@pytest.mark.parametrize(
    ("generator", "detail"),
    [
        (RAISES["input_generator"], "no input from 3 run(s); seed 0: error: ValueError: empty range"),
        (
            RETURNS_LIST["input_generator"],
            "no input from 3 run(s); seed 0: returned list, expected a dict",
        ),
        (LOOPS, "no input from 1 run(s); seed 0: timeout"),  # a timeout ends the runs
        (
            NO_FUNCTION,
            "no input from 3 run(s); seed 0: error: NameError: the input generator defines none of",
        ),
        (SOCKET, "seed 0: sandbox_violation: blocked: socket.getaddrinfo"),
        (WRITES_OUTSIDE, "seed 0: sandbox_violation: blocked: open"),
    ],
    ids=["raises", "returns-list", "loops", "no-function", "socket", "writes-outside"],
)
def test_a_failing_generator_is_rejected_with_its_first_error(
    sandbox: Sandbox, generator: str, detail: str
) -> None:
    failed = generated_inputs(_runner(sandbox), generator, 3, 0)
    assert isinstance(failed, Rejection)
    assert failed.reason == FAILED
    assert failed.detail.startswith(detail)
    assert not ESCAPE.exists()


def test_an_attack_fails_the_generator_even_after_good_draws(sandbox: Sandbox) -> None:
    # seed 0 draws 0.84 (no attack), seed 1 draws 0.13 (attacks)
    sometimes = (
        "import random\n\ndef input_generator():\n    if random.random() < 0.5:\n"
        f"        open({str(ESCAPE)!r}, 'w')\n    return {{'n': 1}}\n"
    )
    failed = generated_inputs(_runner(sandbox), sometimes, 3, 0)
    assert isinstance(failed, Rejection)
    assert failed.detail == "seed 1: sandbox_violation: blocked: open"


# --- the ingest task -----------------------------------------------------------------------


@dataclass
class _Stage:
    """The task's view of the ingest stage: its config and a sandbox of its own."""

    config: TracepileConfig = field(
        default_factory=lambda: TracepileConfig(trace={"cpu_seconds": 1, "wall_seconds": 3})
    )
    slot: str = "test-generate-inputs"
    started: int = 0

    def worker_key(self) -> tuple[str, int]:
        return self.slot, 2

    def setup(self) -> Sandbox:
        self.started += 1
        return Sandbox(workers=2)

    def teardown(self, sandbox: Sandbox) -> None:
        sandbox.close()


def _parsed_frame(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """The fixture's records beside a record with I/O pairs, a blank line and a bad line, as
    the ingest stage's parsed rows reach the task (Arrow to pandas)."""
    source = tmp_path / "generators.jsonl"
    source.write_bytes(FIXTURE.read_bytes() + json.dumps(GOOD).encode() + b"\n\n{not json\n")
    rows = list(parse_file("codeio", str(source), IngestConfig()))
    return source, pa.Table.from_pylist(rows, schema=PARSED_ARROW_SCHEMA).to_pandas()


def test_fill_generated_inputs_fills_programs_and_rejects_failed_generators(tmp_path: Path) -> None:
    source, frame = _parsed_frame(tmp_path)
    stage = _Stage()
    try:
        out = pd.concat(list(fill_generated_inputs(iter([frame]), stage)), ignore_index=True)
    finally:
        release(stage.slot)
    assert list(out.columns) == list(frame.columns) and len(out) == len(frame) == 8
    assert stage.started == 1
    assert list(out["outcome"]) == ["program"] * 3 + ["reject"] * 2 + ["program", "blank", "reject"]
    for position in range(3):  # the good generators: five distinct kwargs each, outputs unknown
        inputs = list(out["inputs"][position])
        assert len({i["input_json"] for i in inputs}) == 5
        assert all(isinstance(json.loads(i["input_json"]), dict) for i in inputs)
        assert all(i["expected_output_json"] is None for i in inputs)
        assert out["program_id"][position] == frame["program_id"][position]
    for position, record in ((3, RAISES), (4, RETURNS_LIST)):
        rejected = out.iloc[position]
        assert rejected["reject_reason"] == FAILED
        assert rejected["reject_id"] == content_id([str(source), position + 1, "input_generator"])
        assert rejected["raw_record"] == record["input_generator"]
        assert rejected["source_line"] == position + 1 and rejected["source_kind"] == "codeio"
        assert rejected[["program_id", "code", "entry_point", "meta_json", "run_mode"]].isna().all()
    assert "ValueError: empty range" in out["reject_detail"][3]
    assert "returned list" in out["reject_detail"][4]
    # the record with I/O pairs, the blank line and the bad line pass through as they were
    for position in (5, 6, 7):
        assert out.iloc[position].drop("inputs").equals(frame.iloc[position].drop("inputs"))
    assert [i["input_json"] for i in out["inputs"][5]] == ['{"a":1,"b":2}']
    # what the task yields is what Spark takes back: the parsed rows' Arrow schema
    assert pa.Table.from_pandas(out, schema=PARSED_ARROW_SCHEMA, preserve_index=False).num_rows == 8


def test_a_batch_without_generators_passes_through_and_starts_no_sandbox(tmp_path: Path) -> None:
    _, frame = _parsed_frame(tmp_path)
    plain = frame.iloc[5:].reset_index(drop=True)
    stage = _Stage(slot="test-generate-inputs-untouched")
    assert next(fill_generated_inputs(iter([plain]), stage)) is plain
    assert stage.started == 0
