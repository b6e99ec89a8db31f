"""Reading source files into parsed rows, one Spark task per file or piece of a file.

Files are read here, not by Spark's text reader, so that every line keeps its exact
file and line number, invalid UTF-8 is seen as bytes (and rejected, not mangled),
gzip is detected by its magic bytes, and an oversized line is skipped without being
held in memory. The driver lists files and cuts a large uncompressed line file into
pieces of about ``ingest.piece_bytes`` that start at a line (``file_pieces``: one pass
counting newlines, so each piece knows its first line number); executors open them by
path or URI and read their own piece.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gzip
import io
import json
import posixpath
import re
import reprlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from tracepile.analysis.hashing import content_id
from tracepile.analysis.pyast import AST_LOCK
from tracepile.config import IngestConfig
from tracepile.failures import StepFailed, fault_point, guarded
from tracepile.sources import codeio, competition, mathpot, pyfiles
from tracepile.sources.algorithms.programs import program_rows
from tracepile.sources.records import Rejection, decode_record
from tracepile.sources.sniffing import HEAD_BYTES, holds_text, is_binary
from tracepile.storage import filesystem_for
from tracepile.vocab import IngestReason, SourceKind

# Suffixes picked up when a JSONL source names a directory.
DATA_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz")
BUILTIN_PATH = "builtin"  # the PATH of a kind whose programs come with the project
_GLOB_CHARS = frozenset("*?[")
_GZIP_MAGIC = b"\x1f\x8b"
Parsed = dict[str, Any] | Rejection  # what a kind's parser makes of a record: a program, or why not


class SourceError(ValueError):
    """A --source that names nothing readable: a configuration error, not a bad record."""


def parse_source_spec(spec: str) -> tuple[str, str]:
    """``KIND:PATH`` -> (kind, path). The path may itself be a URI (``codeio:s3://b/k``)."""
    kind, sep, path = spec.partition(":")
    if not sep or not path:
        raise SourceError(f"--source expects KIND:PATH, got {spec!r}")
    if kind not in READERS:
        raise SourceError(f"unknown source kind {kind!r}; known: {', '.join(READERS)}")
    if not READERS[kind].suffixes and path != BUILTIN_PATH:
        raise SourceError(f"the {kind} kind comes with tracepile: write {kind}:{BUILTIN_PATH}, got {spec!r}")
    return kind, path


def source_files(kind: str, path: str) -> list[str]:
    """The files ``KIND:PATH`` names (``builtin`` for a kind that has none), each checked to
    be text in one of the kind's formats, and at least one of them holding a record."""
    suffixes = READERS[kind].suffixes
    if not suffixes:
        return [BUILTIN_PATH]
    files = expand_paths(path, suffixes)
    for file in files:
        check_text(kind, file)
        check_format(kind, file)
    if not any(has_records(file) for file in files):
        held = "its file is" if len(files) == 1 else f"its {len(files)} files are"
        raise SourceError(f"source {kind}:{path} is empty: {held} empty or blank; give a file with records")
    return files


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Shell glob semantics: ``*`` and ``?`` stay inside one folder, ``**/`` spans any number."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            parts.append(fnmatch.translate(pattern[i : end + 1])[4:-3])  # fnmatch's own class
            i = end + 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts))


def expand_paths(path: str, suffixes: tuple[str, ...] = DATA_SUFFIXES) -> list[str]:
    """A file, a directory (recursively, data suffixes only) or a glob -> sorted file paths."""
    fs, inner, prefix = filesystem_for(path)
    glob_at = next((i for i, ch in enumerate(inner) if ch in _GLOB_CHARS), None)
    if glob_at is None:
        info = fs.get_file_info(inner)
        if info.type == pafs.FileType.File:
            return [prefix + inner]
        if info.type != pafs.FileType.Directory:
            raise SourceError(f"source path does not exist: {path}")
        infos = fs.get_file_info(pafs.FileSelector(inner, recursive=True))
        found = [i.path for i in infos if i.is_file and i.path.endswith(suffixes)]
        if not found:
            raise SourceError(f"no {'/'.join(suffixes)} files under {path}")
        return sorted(prefix + p for p in found)
    base = inner[: inner.rfind("/", 0, glob_at) + 1] or "/"
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    pattern = _glob_regex(inner)
    found = [i.path for i in infos if i.is_file and pattern.fullmatch(i.path)]
    if not found:
        raise SourceError(f"glob matched no files: {path}")
    return sorted(prefix + p for p in found)


@dataclass(frozen=True)
class Piece:
    """Bytes ``start`` up to ``end`` (None: the end of the file) of a file, starting at line
    ``first_line``; both ends fall at the start of a line."""

    start: int = 0
    end: int | None = None
    first_line: int = 1


WHOLE_FILE = Piece()
_SCAN_BYTES = 8 << 20


def _open_maybe_gzip(path: str, start: int = 0) -> IO[bytes]:
    fs, inner, _ = filesystem_for(path)
    stream = io.BufferedReader(fs.open_input_file(inner), buffer_size=1 << 20)
    if stream.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=stream, mode="rb")  # buffered inside; never cut in pieces
    stream.seek(start)
    return stream


def file_pieces(path: str, piece_bytes: int) -> list[Piece]:
    """``path`` cut at line starts into pieces of about ``piece_bytes`` each (the whole file
    when it is smaller, compressed, or not a line file that can be cut)."""
    fs, inner, _ = filesystem_for(path)
    size = fs.get_file_info(inner).size or 0
    if size <= piece_bytes:
        return [WHOLE_FILE]
    with fs.open_input_file(inner) as file:
        if file.read(2) == _GZIP_MAGIC:
            return [WHOLE_FILE]
        file.seek(0)
        pieces: list[Piece] = []
        start, first_line, lines, position = 0, 1, 0, 0
        target = piece_bytes
        while block := file.read(_SCAN_BYTES):
            offset = 0
            while target < position + len(block):
                newline = block.find(b"\n", max(offset, target - position))
                if newline < 0:
                    break  # the line crossing the target ends in a later block
                lines += block.count(b"\n", offset, newline + 1)
                cut = position + newline + 1
                if cut < size:
                    pieces.append(Piece(start, cut, first_line))
                    start, first_line = cut, lines + 1
                offset, target = newline + 1, cut + piece_bytes
            lines += block.count(b"\n", offset)
            position += len(block)
    return [*pieces, Piece(start, None, first_line)]


def iter_lines(
    stream: IO[bytes], max_bytes: int, piece: Piece = WHOLE_FILE
) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line without its newline, too_large) of the lines of ``piece`` (the
    stream is at its start).

    A line over ``max_bytes`` is read past in chunks; only its first ``max_bytes``
    are returned, so memory stays bounded whatever the input.
    """
    line_no = piece.first_line - 1
    left = None if piece.end is None else piece.end - piece.start
    while left is None or left > 0:
        chunk = stream.readline(max_bytes + 1)
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        line_no += 1
        too_large = len(chunk) > max_bytes and not chunk.endswith(b"\n")
        if too_large:
            head = chunk[:max_bytes]
            while chunk and not chunk.endswith(b"\n"):
                chunk = stream.readline(1 << 20)
                if left is not None:
                    left -= len(chunk)
            yield line_no, head, True
        else:
            yield line_no, chunk.rstrip(b"\r\n"), False


def _raw_text(raw: bytes, limit: int) -> str:
    """At most ``limit`` characters of a raw line: an invalid byte is shown as ``\\xNN`` (four
    characters for one byte), so the text is cut after decoding, not before."""
    return raw[:limit].decode("utf-8", errors="backslashreplace")[:limit]


def _reject_row(
    kind: str, path: str, line_no: int, reason: str, detail: str, raw: bytes, options: IngestConfig
) -> dict[str, Any]:
    return {
        "outcome": "reject",
        "source_kind": kind,
        "source_file": path,
        "source_line": line_no,
        "reject_id": content_id([path, line_no, raw.hex()]),
        "reject_reason": reason,
        "reject_detail": detail,
        "raw_record": _raw_text(raw, options.reject_raw_chars),
    }


def failed_row(row: dict[str, Any], detail: str, options: IngestConfig) -> dict[str, Any]:
    """A parsed row that could not be kept as it is (its values do not fit the parsed schema) as
    an ``internal_error`` reject of the line it came from, the row's text as the raw record."""
    text = _RECORD_REPR.repr(row).encode("utf-8", errors="backslashreplace")
    return _reject_row(
        row.get("source_kind") or "unknown",
        row.get("source_file") or "unknown",
        row.get("source_line") or 1,
        IngestReason.INTERNAL_ERROR,
        detail,
        text,
        options,
    )


def _parse_all(parse: Callable[[Any], Iterator[Parsed]], record: Any) -> list[Parsed]:
    rows = list(parse(record))
    for row in rows:
        if not isinstance(row, Rejection):
            fault_point("ingest", row["program_id"], row["entry_point"])
    return rows


def _parsed_rows(parse: Callable[[Any], Iterator[Parsed]], record: Any) -> list[Parsed]:
    """What a kind's parser makes of one record; a parser that raises rejects the record
    (``internal_error``, the exception as the detail), not the file."""
    parsed = guarded(_parse_all, parse, record)
    if isinstance(parsed, StepFailed):
        return [Rejection(IngestReason.INTERNAL_ERROR, parsed.detail)]
    return parsed


def _read_records(
    kind: str, path: str, options: IngestConfig, _: str | None, piece: Piece = WHOLE_FILE
) -> Iterator[dict[str, Any]]:
    """A JSONL kind: every line of one file (or piece) as a parsed row; never raises for bad
    content or I/O."""
    parse = partial(RECORD_PARSERS[kind], options=options)
    line_no = piece.first_line - 1
    try:
        with _open_maybe_gzip(path, piece.start) as stream:
            for line_no, raw, too_large in iter_lines(stream, options.max_record_bytes, piece):
                if too_large:
                    detail = f"line longer than {options.max_record_bytes} bytes"
                    yield _reject_row(
                        kind, path, line_no, IngestReason.RECORD_TOO_LARGE, detail, raw, options
                    )
                    continue
                if not raw.strip():
                    yield {
                        "outcome": "blank",
                        "source_kind": kind,
                        "source_file": path,
                        "source_line": line_no,
                    }
                    continue
                for parsed in _parsed_rows(parse, raw):
                    if isinstance(parsed, Rejection):
                        yield _reject_row(kind, path, line_no, parsed.reason, parsed.detail, raw, options)
                    else:
                        yield {"outcome": "program", **parsed, "source_file": path, "source_line": line_no}
    except (OSError, EOFError, zlib.error) as exc:
        # Truncated gzip, unreadable or vanished file: the rows read so far stand.
        detail = f"after line {line_no}: {type(exc).__name__}: {exc}"
        yield _reject_row(kind, path, line_no + 1, IngestReason.UNREADABLE_FILE, detail, b"", options)


def _read_algorithms(
    kind: str, path: str, options: IngestConfig, _: str | None, __: Piece = WHOLE_FILE
) -> Iterator[dict[str, Any]]:
    """``algorithms:builtin``: one program per algorithm of the project's library."""
    for position, row in program_rows(options.algorithms):
        yield {"outcome": "program", **row, "source_file": f"{kind}:{path}", "source_line": position}


def _pyfiles_context(path: str, files: list[str]) -> str:
    """The tree the files of ``pyfiles:PATH`` belong to (its root and own packages), worked out
    once on the driver for every file's task."""
    fs, inner, prefix = filesystem_for(path)
    if fs.get_file_info(inner).type == pafs.FileType.Directory:
        root = prefix + inner
    else:
        root = posixpath.commonpath(files) if len(files) > 1 else posixpath.dirname(files[0])
    tree = pyfiles.scan_tree(root, files)
    return json.dumps(
        {"root": tree.root, "packages": sorted(tree.packages), "root_package": tree.root_package}
    )


def _read_head(path: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a whole file: one more than the limit says it is too long."""
    fs, inner, _ = filesystem_for(path)
    with fs.open_input_file(inner) as stream:
        return stream.read(limit + 1)


def _tree_file_reader(options: IngestConfig) -> Callable[[str], str | None]:
    """Reads another module of a pyfiles tree (what a function needs from it is bundled)."""

    def read(path: str) -> str | None:
        try:
            raw = _read_head(path, options.max_record_bytes)
            return raw.decode("utf-8") if len(raw) <= options.max_record_bytes else None
        except (OSError, UnicodeDecodeError):
            return None

    return read


def _read_pyfile(
    kind: str, path: str, options: IngestConfig, context: str | None, _: Piece = WHOLE_FILE
) -> Iterator[dict[str, Any]]:
    """``pyfiles``: one program or reject per public top-level function of one module."""
    try:
        raw = _read_head(path, options.max_record_bytes)
    except OSError as exc:
        yield _reject_row(
            kind, path, 1, IngestReason.UNREADABLE_FILE, f"{type(exc).__name__}: {exc}", b"", options
        )
        return
    if len(raw) > options.max_record_bytes:
        detail = f"file longer than {options.max_record_bytes} bytes"
        yield _reject_row(kind, path, 1, IngestReason.RECORD_TOO_LARGE, detail, raw, options)
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"byte {exc.start}: {exc.reason}"
        yield _reject_row(kind, path, 1, IngestReason.INVALID_UTF8, detail, raw, options)
        return
    tree = None
    if context is not None:
        known = json.loads(context)
        tree = pyfiles.PyTree(known["root"], frozenset(known["packages"]), known["root_package"])
    try:
        with AST_LOCK:  # parsed as a whole: the module's functions, their examples and inputs
            results = list(
                pyfiles.parse_pyfile(path, text, options.pyfiles, tree, _tree_file_reader(options))
            )
    except Exception as exc:  # one odd module must not fail the job; it is rejected
        detail = f"{type(exc).__name__}: {exc}"[:500]
        yield _reject_row(kind, path, 1, IngestReason.READER_ERROR, detail, raw, options)
        return
    for parsed in results:
        if isinstance(parsed, Rejection):
            line = parsed.line or 1
            source = "\n".join(text.splitlines()[line - 1 : line + 20]).encode("utf-8")
            yield _reject_row(kind, path, line, parsed.reason, parsed.detail, source, options)
        else:
            line = json.loads(parsed["meta_json"])["line"]
            yield {"outcome": "program", **parsed, "source_file": path, "source_line": line}


def _codeio_rows(raw: bytes, options: IngestConfig) -> Iterator[dict[str, Any] | Rejection]:
    yield codeio.parse_codeio_record(raw)


def _math_rows(raw: bytes, options: IngestConfig) -> Iterator[dict[str, Any] | Rejection]:
    yield mathpot.parse_math_record(raw, options.math)


def _competition_rows(raw: bytes, options: IngestConfig) -> Iterator[dict[str, Any] | Rejection]:
    """A problem's programs: one per kept solution."""
    record = decode_record(raw)
    if isinstance(record, Rejection):
        yield record
    else:
        yield from competition.parse_problem(record, options.competition)


PARQUET_SUFFIX, ARROW_SUFFIX = ".parquet", ".arrow"  # ARROW: a Hugging Face save_to_disk shard
TABLE_SUFFIXES = (PARQUET_SUFFIX, ARROW_SUFFIX)
TABLE_BATCH_ROWS = 16  # rows decoded at a time: one problem's tests can be megabytes
# a rejected table row as kept in bronze/ingest_rejects: bounded, however many tests it holds
_RECORD_REPR = reprlib.Repr()
_RECORD_REPR.maxlevel, _RECORD_REPR.maxdict, _RECORD_REPR.maxlist = 3, 40, 4
_RECORD_REPR.maxstring = _RECORD_REPR.maxother = 300


@contextlib.contextmanager
def _open_table(path: str) -> Iterator[tuple[pa.Schema, Iterator[pa.RecordBatch]]]:
    """A Parquet file, or an Arrow IPC file (the stream format ``datasets`` writes, or the file
    format): its schema and its record batches, read as they are consumed."""
    fs, inner, _ = filesystem_for(path)
    with fs.open_input_file(inner) as stream:
        if path.endswith(PARQUET_SUFFIX):
            parquet = pq.ParquetFile(stream)
            yield parquet.schema_arrow, parquet.iter_batches(batch_size=TABLE_BATCH_ROWS)
            return
        try:
            streamed = pa.ipc.open_stream(stream)
            schema, batches = streamed.schema, iter(streamed)
        except pa.ArrowInvalid:  # not the stream format: the random-access file format
            stream.seek(0)
            whole = pa.ipc.open_file(stream)
            schema = whole.schema
            batches = (whole.get_batch(i) for i in range(whole.num_record_batches))
        yield schema, batches


def _table_records(path: str) -> Iterator[dict[str, Any]]:
    with _open_table(path) as (_, batches):
        for batch in batches:
            for start in range(0, batch.num_rows, TABLE_BATCH_ROWS):
                yield from batch.slice(start, TABLE_BATCH_ROWS).to_pylist()


def _read_competition(
    kind: str, path: str, options: IngestConfig, context: str | None, piece: Piece = WHOLE_FILE
) -> Iterator[dict[str, Any]]:
    """``competition``: JSONL (plain or gzip) line by line, or Parquet or Arrow (as the Hugging
    Face datasets ship) row by row, a few rows decoded at a time."""
    if not path.endswith(TABLE_SUFFIXES):
        yield from _read_records(kind, path, options, context, piece)
        return
    row_no = 0
    parse = partial(competition.parse_problem, settings=options.competition)
    try:
        for row_no, record in enumerate(_table_records(path), start=1):
            for parsed in _parsed_rows(parse, record):
                if isinstance(parsed, Rejection):
                    raw = _RECORD_REPR.repr(record)[: options.reject_raw_chars].encode()
                    yield _reject_row(kind, path, row_no, parsed.reason, parsed.detail, raw, options)
                else:
                    yield {"outcome": "program", **parsed, "source_file": path, "source_line": row_no}
    except (OSError, pa.ArrowException) as exc:
        detail = f"after row {row_no}: {type(exc).__name__}: {exc}"
        yield _reject_row(kind, path, row_no + 1, IngestReason.UNREADABLE_FILE, detail, b"", options)


def check_text(kind: str, path: str) -> None:
    """Raise ``SourceError`` naming a JSONL file whose first kilobyte is binary: refused before
    any work, not read as a screen of rejects (a pyfiles module is rejected alone instead)."""
    reader = READERS[kind]
    if not reader.lines or path.endswith(tuple(set(TABLE_SUFFIXES) & set(reader.suffixes))):
        return  # a Parquet or Arrow file where the kind reads them
    with contextlib.suppress(OSError, EOFError, zlib.error), _open_maybe_gzip(path) as stream:
        if is_binary(stream.read(HEAD_BYTES)):
            raise SourceError(f"{path} is not a text JSONL file (binary content): give JSONL, plain or gzip")


def has_records(path: str) -> bool:
    """Whether a source file holds anything but blank lines (a Parquet file: any rows); an
    unreadable one counts as holding some (the reader rejects it, with the reason)."""
    try:
        if path.endswith(PARQUET_SUFFIX):
            fs, inner, _ = filesystem_for(path)
            with fs.open_input_file(inner) as stream:
                return pq.ParquetFile(stream).metadata.num_rows > 0
        with _open_maybe_gzip(path) as stream:
            return path.endswith(ARROW_SUFFIX) or holds_text(stream)
    except (OSError, EOFError, zlib.error, pa.ArrowException):
        return True


def _first_record_fields(path: str) -> set[str] | None:
    """The field names of a data file's first record (a table's columns), or None when it has
    none that parse: checked on the driver before any task starts."""
    if path.endswith(TABLE_SUFFIXES):
        with _open_table(path) as (schema, _):
            return set(schema.names)
    with _open_maybe_gzip(path) as stream:
        for _, raw, too_large in iter_lines(stream, 1 << 24):
            if raw.strip():
                record = None if too_large else decode_record(raw)
                return set(record) if isinstance(record, dict) else None
    return None


@dataclass(frozen=True)
class KindReader:
    """How a source kind is read: the files a directory holds of it (none: the kind comes with
    the project, ``KIND:builtin``), what every file's task needs to know of the whole source
    (``context``, JSON made once on the driver), and one file's parsed rows (program, reject
    or blank)."""

    suffixes: tuple[str, ...]
    read: Callable[[str, str, IngestConfig, str | None, Piece], Iterator[dict[str, Any]]]
    context: Callable[[str, list[str]], str] | None = None
    lines: bool = False  # its files are JSON lines, which a task may read a piece of
    # the formats a file of the kind may hold, each as the fields its records have: a file
    # whose first record has none of them is the wrong file (a clear error, not a reject a line)
    formats: dict[str, tuple[str, ...]] = field(default_factory=dict)


RECORD_PARSERS: dict[str, Callable[[bytes, IngestConfig], Iterator[dict[str, Any] | Rejection]]] = {
    SourceKind.CODEIO: _codeio_rows,
    SourceKind.COMPETITION: _competition_rows,
    SourceKind.MATH: _math_rows,
}
READERS: dict[str, KindReader] = {
    SourceKind.CODEIO: KindReader(DATA_SUFFIXES, _read_records, lines=True),
    SourceKind.COMPETITION: KindReader(
        (*DATA_SUFFIXES, *TABLE_SUFFIXES),
        _read_competition,
        lines=True,
        formats={
            "DeepMind CodeContests": ("name", "description", "solutions", "public_tests"),
            "APPS / TACO": ("question", "solutions", "input_output"),
        },
    ),
    SourceKind.MATH: KindReader(
        DATA_SUFFIXES,
        _read_records,
        lines=True,
        formats={
            "OpenMathInstruct-1": ("question|problem", "generated_solution", "expected_answer"),
            "plain question/code/answer": ("question", "code", "answer"),
        },
    ),
    SourceKind.ALGORITHMS: KindReader((), _read_algorithms),
    SourceKind.PYFILES: KindReader((".py",), _read_pyfile, _pyfiles_context),
}


def _has_fields(fields: set[str], wanted: tuple[str, ...]) -> bool:
    """Whether ``fields`` has every wanted field (``a|b``: either)."""
    return all(any(name in fields for name in want.split("|")) for want in wanted)


def check_format(kind: str, path: str) -> None:
    """Raise ``SourceError`` naming the file and the formats expected when the first record of
    a file of ``kind`` is in none of them (a CodeI/O file given as competition, say)."""
    formats = READERS[kind].formats
    if not formats:
        return
    try:
        fields = _first_record_fields(path)
    except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
        raise SourceError(f"{path}: cannot read it as a {kind} file: {type(exc).__name__}: {exc}") from exc
    if fields is None:
        return  # empty, or a first line that does not parse: rejected line by line, with reasons
    if not any(_has_fields(fields, wanted) for wanted in formats.values()):
        expected = "; ".join(f"{name} ({', '.join(wanted)})" for name, wanted in formats.items())
        raise SourceError(
            f"{path} is not a {kind} file: its first record has the fields {', '.join(sorted(fields)[:12])}; "
            f"expected one of: {expected}"
        )


def parse_file(
    kind: str, path: str, options: IngestConfig, context: str | None = None, piece: Piece = WHOLE_FILE
) -> Iterator[dict[str, Any]]:
    """Every parsed row of one file of ``kind`` (or of one piece of it, ``pieces_of``); never
    raises for bad content or I/O."""
    return READERS[kind].read(kind, path, options, context, piece)


def pieces_of(kind: str, path: str, piece_bytes: int) -> list[Piece]:
    """How the tasks read a file: in pieces where it is a large line file, else whole."""
    if not READERS[kind].lines or path.endswith(TABLE_SUFFIXES):
        return [WHOLE_FILE]
    return file_pieces(path, piece_bytes)


def source_context(kind: str, path: str, files: list[str]) -> str | None:
    """What every task reading ``files`` of ``KIND:PATH`` needs to know of the whole source."""
    make = READERS[kind].context
    return make(path, files) if make is not None else None
