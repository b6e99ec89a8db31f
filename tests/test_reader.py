"""Reading source files: line numbers, gzip, oversized and truncated input, files read in
pieces (no Spark)."""

from __future__ import annotations

import gzip
import io
import itertools
import json
from collections import Counter

import pytest

from tests.corruption import GOOD, write_corrupted_copy
from tracepile.config import IngestConfig
from tracepile.sources.files import (
    WHOLE_FILE,
    SourceError,
    expand_paths,
    file_pieces,
    iter_lines,
    parse_file,
    parse_source_spec,
    pieces_of,
)

OPTIONS = IngestConfig(max_record_bytes=1 << 20, reject_raw_chars=64, batch_rows=16)
GOOD_LINE = json.dumps(GOOD).encode()


def test_iter_lines_skips_past_an_oversized_line_without_losing_the_next() -> None:
    stream = io.BufferedReader(io.BytesIO(b"short\n" + b"x" * 10_000 + b"\nafter\r\nlast"))
    lines = list(iter_lines(stream, max_bytes=100))
    assert [(n, too_large) for n, _, too_large in lines] == [
        (1, False),
        (2, True),
        (3, False),
        (4, False),
    ]
    assert lines[1][1] == b"x" * 100
    assert lines[2][1] == b"after" and lines[3][1] == b"last"


def test_corrupted_pyedu_file_keeps_every_good_line_and_rejects_every_bad(tmp_path, pyedu_toy) -> None:
    target = tmp_path / "corrupted.jsonl"
    expected = write_corrupted_copy(pyedu_toy, target)
    rows = list(parse_file("codeio", str(target), OPTIONS))
    outcomes = Counter(r["outcome"] for r in rows)
    assert outcomes == {"program": 1000, "reject": 20}
    assert Counter(r["reject_reason"] for r in rows if r["outcome"] == "reject") == expected
    assert [r["source_line"] for r in rows] == list(range(1, 1021))
    assert all(len(r["raw_record"]) <= OPTIONS.reject_raw_chars for r in rows if r["outcome"] == "reject")


def test_gzip_is_detected_by_content_and_blank_lines_are_counted(tmp_path) -> None:
    path = tmp_path / "no_suffix"
    path.write_bytes(gzip.compress(GOOD_LINE + b"\n\n" + GOOD_LINE + b"\n"))
    rows = list(parse_file("codeio", str(path), OPTIONS))
    assert [r["outcome"] for r in rows] == ["program", "blank", "program"]


def test_truncated_gzip_keeps_lines_before_the_damage_and_rejects_the_file_rest(tmp_path) -> None:
    whole = gzip.compress(b"\n".join([GOOD_LINE] * 2000))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    rows = list(parse_file("codeio", str(path), OPTIONS))
    assert rows[-1]["outcome"] == "reject"
    assert rows[-1]["reject_reason"] == "unreadable_file"
    assert "after line" in rows[-1]["reject_detail"]
    assert all(r["outcome"] == "program" for r in rows[:-1]) and len(rows) > 1


def test_oversized_record_is_rejected_with_a_truncated_raw_copy(tmp_path) -> None:
    path = tmp_path / "big.jsonl"
    huge = json.dumps({**GOOD, "problem_description": "y" * (2 << 20)}).encode()
    path.write_bytes(huge + b"\n" + GOOD_LINE + b"\n")
    rows = list(parse_file("codeio", str(path), OPTIONS))
    assert [r.get("reject_reason") for r in rows] == ["record_too_large", None]
    assert len(rows[0]["raw_record"]) == OPTIONS.reject_raw_chars


def test_expand_paths_file_directory_and_glob(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    for name in ("a/one.jsonl", "a/two.jsonl.gz", "a/notes.txt", "three.jsonl"):
        (tmp_path / name).write_bytes(b"")
    assert expand_paths(str(tmp_path / "three.jsonl")) == [str(tmp_path / "three.jsonl")]
    assert expand_paths(str(tmp_path / "a")) == [
        str(tmp_path / "a/one.jsonl"),
        str(tmp_path / "a/two.jsonl.gz"),
    ]
    assert expand_paths(str(tmp_path / "**" / "*.jsonl")) == [
        str(tmp_path / "a/one.jsonl"),
        str(tmp_path / "three.jsonl"),
    ]
    with pytest.raises(SourceError, match="does not exist"):
        expand_paths(str(tmp_path / "missing.jsonl"))
    with pytest.raises(SourceError, match="glob matched no files"):
        expand_paths(str(tmp_path / "*.parquet"))


@pytest.mark.parametrize(("spec", "message"), [("nocolon", "KIND:PATH"), ("rawpy:/x", "unknown source kind")])
def test_bad_source_specs(spec: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_source_spec(spec)


def test_source_kinds_name_their_files_and_builtin_kinds_take_no_path(tmp_path) -> None:
    from tracepile.sources.files import source_files

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("def f(x: int) -> int:\n    return x\n")
    (tmp_path / "pkg" / "data.jsonl").write_text("")
    assert source_files("pyfiles", str(tmp_path / "pkg")) == [str(tmp_path / "pkg" / "a.py")]
    assert source_files("algorithms", "builtin") == ["builtin"]
    with pytest.raises(SourceError, match="algorithms:builtin"):
        parse_source_spec(f"algorithms:{tmp_path}")
    with pytest.raises(SourceError, match="known: codeio, competition, math, algorithms, pyfiles"):
        parse_source_spec("contests:x.jsonl")


def test_a_pyfiles_module_the_reader_fails_on_is_a_reject_not_a_failed_job(tmp_path, monkeypatch) -> None:
    from tracepile.sources import pyfiles

    module = tmp_path / "broken.py"
    module.write_text("def f(x: int) -> int:\n    return x\n")

    def fails(*_: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(pyfiles, "parse_pyfile", fails)  # a reader bug stands in for any one
    rows = list(parse_file("pyfiles", str(module), OPTIONS))
    assert [(r["outcome"], r["reject_reason"], r["source_line"]) for r in rows] == [
        ("reject", "reader_error", 1)
    ]
    assert "RecursionError" in rows[0]["reject_detail"]


def _pieces_file(tmp_path, pyedu_toy):
    """The corrupted PyEdu copy with blank lines, a CRLF line and a line over the record cap
    (which a piece boundary may fall inside of)."""
    target = tmp_path / "pieces.jsonl"
    write_corrupted_copy(pyedu_toy, target)
    lines = target.read_bytes().split(b"\n")
    lines[10:10] = [b"", b"   "]
    lines[500] = lines[500] + b"\r"
    lines[700:700] = [json.dumps({**GOOD, "problem_description": "y" * (1 << 20)}).encode()]
    target.write_bytes(b"\n".join(lines))
    return target


@pytest.mark.parametrize("piece_bytes", [1, 4096, 300_000, 1 << 20, 1 << 40])
def test_pieces_start_at_lines_and_together_read_every_line_once(tmp_path, pyedu_toy, piece_bytes) -> None:
    target = _pieces_file(tmp_path, pyedu_toy)
    whole = list(parse_file("codeio", str(target), OPTIONS))
    pieces = pieces_of("codeio", str(target), piece_bytes)
    data = target.read_bytes()
    assert pieces[0].start == 0 and pieces[-1].end is None
    for piece, following in itertools.pairwise(pieces):
        assert piece.end == following.start and data[following.start - 1 : following.start] == b"\n"
        assert following.first_line == data[: following.start].count(b"\n") + 1
    if piece_bytes >= len(data):
        assert pieces == [WHOLE_FILE]
    read = [row for piece in pieces for row in parse_file("codeio", str(target), OPTIONS, None, piece)]
    assert read == whole  # the same rows, line numbers and reject ids, in the same order
    assert [r["source_line"] for r in read] == list(range(1, len(whole) + 1))


def test_compressed_and_table_files_are_read_whole(tmp_path) -> None:
    packed = tmp_path / "big.jsonl.gz"
    packed.write_bytes(gzip.compress(b"\n".join([GOOD_LINE] * 200)))
    assert file_pieces(str(packed), 64) == [WHOLE_FILE]
    table = tmp_path / "problems.parquet"
    table.write_bytes(b"PAR1" + b"x" * 1000)
    assert pieces_of("competition", str(table), 64) == [WHOLE_FILE]
    assert pieces_of("pyfiles", str(tmp_path / "module.py"), 64) == [WHOLE_FILE]
