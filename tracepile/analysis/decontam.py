"""Decontamination: word n-gram overlap between a program and benchmark texts.

Benchmarks are given in config as paths to files as their authors publish them, or to
folders of such files (searched recursively, in sorted order):

- JSON Lines (``.jsonl``, ``.ndjson``): each line one item;
- JSON (``.json``): an array of records, a dict of records keyed by id, or one record per
  file (the MATH dataset's folders); a ``.json`` file that is really JSON Lines is read as such;
- Parquet (``.parquet``, Hugging Face datasets' shards): each row one item;
- UTF-8 text (``.txt``, or any other file named directly): the whole file one item.

Gzip is recognised by its magic bytes, not the name, so ``HumanEval.jsonl.gz`` and a
gzipped file without ``.gz`` both read. An item's text is every string in the record
(nested lists and dicts included) except the fields below that are known not to be
benchmark text: ids, metadata and test-case data. Fields not named here count, so a
benchmark this module has never seen is still compared in full. What that leaves for the
common benchmarks (their published schemas):

- HumanEval: prompt, canonical_solution, test;  MBPP: text / prompt, code, test_list,
  test_setup_code, challenge_test_list;  CRUXEval: code, input, output;
- LiveCodeBench: question_title, question_content, starter_code;  APPS / TACO: question,
  solutions, starter_code;  GSM8K: question, answer;  MATH: problem, type, solution.

A program is contaminated when its code or problem text shares at least one n-gram of
words (lower-cased ``\\w+`` runs) with an item; the detail names the file, the record
(line, row or key, and its task_id / id) and the shared words. A window holding nothing but
Python keywords, builtins, numbers and names of at most three letters counts for nothing:
``return true for i in range 2 num if num i 0 return`` and a list of primes are in any
corpus, not only in the benchmark.

Or when it holds a benchmark's code: n-grams miss a function shorter than the window (a
fifth of HumanEval's solutions have fewer than 13 words), and renamed variables break the
windows of a longer one. So each item's code (the item's text when it parses as Python,
HumanEval's prompt and solution together; else each of its strings that parses: MBPP's
code, APPS's solutions) gives normalised forms (``normalize.normalised_tokens``: formatting,
comments, docstrings and the names it binds do not count, literals do): one per function
(top-level, and methods of top-level classes; a nested function only within its parent),
each taken alone with its own name renamed too, and one for the whole module. A program
(or a field of it that parses) with a form in that set is contaminated: one of its
functions, or all of it, is a benchmark's code up to names and layout. Annotations count,
as the benchmark prints them (HumanEval's typed signatures): an untyped textbook function
that happens to equal a benchmark solution (Euclid's gcd is HumanEval/13) is not taken for
a copy of it; against a benchmark published untyped (MBPP), it would be. Forms shorter than
``MIN_FORM_TOKENS`` (``def f(x): return x``) say nothing about where code came from and are
left out.
"""

from __future__ import annotations

import ast
import builtins
import gzip
import io
import json
import keyword
import re
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from tracepile.analysis.normalize import exact_key, normalised_tokens

_WORD = re.compile(r"\w+")
# Words every program has (with numbers, and names of at most _SHORT_NAME letters: i, n, num,
# arr, res): a window of nothing else is neither indexed nor looked up
_COMMON_WORDS = frozenset(word.lower() for word in (*keyword.kwlist, *dir(builtins)))
_SHORT_NAME = 3
# Normalised tokens a code form needs to be compared: ``def f(x): return x`` has 10, HumanEval's
# shortest solution with its signature (``strlen``) 16.
MIN_FORM_TOKENS = 12
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"

# The fields that name a record in its origin label, first present wins: HumanEval, MBPP
# (task_id), CRUXEval (id), APPS (problem_id), LiveCodeBench (question_id).
_ID_FIELDS = ("task_id", "id", "problem_id", "question_id")
# Fields that are not benchmark text. Test-case data (APPS input_output, LiveCodeBench and
# CodeContests test cases) is mostly runs of numbers whose n-grams would match unrelated
# programs, and LiveCodeBench's private cases are a compressed blob; the rest is metadata
# (HumanEval entry_point, MATH level, LiveCodeBench platform/contest, APPS url); generic names
# that a benchmark of its own could use for text (source, type) are not here.
_NOT_TEXT = frozenset(
    {
        *_ID_FIELDS,
        "entry_point",
        "input_output",
        "public_test_cases",
        "private_test_cases",
        "public_tests",
        "private_tests",
        "generated_tests",
        "metadata",
        "difficulty",
        "level",
        "url",
        "platform",
        "contest_id",
        "contest_date",
    }
)
# Formats by suffix (after a ``.gz``); in a folder only files with one of them are read,
# since a dataset repository also holds README.md, loading scripts and .gitattributes.
_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".txt": "text"}
# Hugging Face's own bookkeeping next to the data (``save_to_disk``, old dataset repos).
_DATASET_METADATA = frozenset({"dataset_info.json", "dataset_infos.json", "state.json"})
_EXPECTED = {
    "jsonl": "JSON Lines (one JSON record a line)",
    "json": "JSON (an array of records, a dict of records or one record)",
    "parquet": "Parquet",
    "text": "UTF-8 text",
}


class BenchmarkError(ValueError):
    """A benchmark path that cannot be read; the message names the file, what was expected
    and, for JSON Lines, the line."""


def _decoded(text: str) -> Iterator[str]:
    """``text``, or the strings of the JSON list it encodes: APPS and TACO publish
    ``solutions`` as one JSON-encoded list of programs, whose escapes (``\\n`` read as the
    word ``n``) would otherwise break every n-gram that spans a line."""
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError:
            items = None
        if isinstance(items, list) and items and all(isinstance(item, str) for item in items):
            yield from items
            return
    yield text


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from _decoded(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _record_strings(record: Any) -> list[str]:
    """The benchmark text of one record: its strings, less the fields in ``_NOT_TEXT``."""
    if isinstance(record, dict):
        record = [value for key, value in record.items() if key not in _NOT_TEXT]
    return list(_strings(record))


def _parsed(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():  # invalid escapes in benchmark strings: not our concern
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: NUL bytes
        return None


def code_forms(text: str) -> Iterator[tuple[str | None, str]]:
    """(what, form key) for the code in ``text``: each function (``what`` its name) and the
    whole module (``what`` None), as described above; nothing when it does not parse."""
    tree = _parsed(text)
    if tree is not None:
        yield from _tree_forms(tree)


def item_forms(strings: Sequence[str]) -> Iterator[tuple[str | None, str]]:
    """``code_forms`` of a benchmark item: of its text when that parses as a whole, else of
    each of its strings."""
    whole = _parsed("\n".join(strings))
    if whole is not None:
        yield from _tree_forms(whole)
    else:
        for text in strings:
            yield from code_forms(text)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)


def _is_text(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _tree_forms(tree: ast.Module) -> Iterator[tuple[str | None, str]]:
    """``code_forms`` of a parsed module (which it changes)."""
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            functions += [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    # Each function is normalised in place, inside the tree (no copy): normalising changes a
    # tree the way normalising the whole module would, so the module's form comes out the same.
    parts: list[tuple[str | None, ast.Module]] = [(f.name, ast.Module([f], [])) for f in functions]
    # A module of definitions alone equals another only where its functions do: its own form
    # is needed where code runs at module level (a script)
    if not all(isinstance(node, _DEFINITIONS) or _is_text(node) for node in tree.body):
        parts.append((None, tree))
    for what, module in parts:
        try:
            tokens = normalised_tokens(module, "")  # no entry point: every bound name renamed
        except (RecursionError, ValueError, MemoryError):
            continue
        if len(tokens) >= MIN_FORM_TOKENS:
            yield what, exact_key(tokens)


def _label(where: str, record: Any) -> str:
    """``where`` (file and position) with the record's id when it has one."""
    if isinstance(record, dict):
        for field in _ID_FIELDS:
            value = record.get(field)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return f"{where} ({value})"
    return where


def benchmark_files(path: str) -> list[tuple[Path, str]]:
    """(file, name in origin labels) for each file ``path`` names: the file itself (named by
    its base name), or the benchmark files under a folder in sorted order (named from the
    folder down, so ``MATH/test`` gives ``test/algebra/1.json``)."""
    root = Path(path)
    if root.is_file():
        return [(root, root.name)]
    if not root.is_dir():
        raise BenchmarkError(f"benchmark path does not exist: {path}")
    files = sorted(
        file.relative_to(root)
        for file in root.rglob("*")
        if file.is_file() and _suffix_format(file) is not None
    )
    # hidden folders (.git, .cache) and files (.gitattributes) are never benchmark data
    files = [file for file in files if not any(part.startswith(".") for part in file.parts)]
    files = [file for file in files if file.name not in _DATASET_METADATA]
    if not files:
        raise BenchmarkError(
            f"no benchmark files under {path}: expected {', '.join(_FORMATS)} files (each may be gzipped)"
        )
    return [(root / file, (Path(root.name) / file).as_posix()) for file in files]


def _suffix_format(file: Path) -> str | None:
    """The format a file's suffix names (``.jsonl.gz`` is JSON Lines), None for any other."""
    name = file.name.lower().removesuffix(".gz")
    return _FORMATS.get(Path(name).suffix)


def benchmark_items(path: str) -> Iterator[tuple[str, str]]:
    """(origin, text) for each item of a benchmark file or folder, its strings one a line."""
    for origin, strings in benchmark_records(path):
        yield origin, "\n".join(strings)


def benchmark_records(path: str) -> Iterator[tuple[str, list[str]]]:
    """(origin, strings) for each item of a benchmark file or folder; items without text are
    left out, and a file with none at all is an error (decontamination would silently
    check nothing)."""
    for file, name in benchmark_files(path):
        try:
            with file.open("rb") as raw:
                magic = raw.read(4)
        except OSError as exc:
            raise BenchmarkError(f"benchmark file {file}: cannot open it: {exc}") from exc
        # the content decides parquet, whatever the name; every other file is read by its suffix
        kind = "parquet" if magic == _PARQUET_MAGIC else _suffix_format(file) or "text"
        found = 0
        try:
            for origin, strings in _file_items(file, name, kind, magic.startswith(_GZIP_MAGIC)):
                if any(_WORD.search(text) for text in strings):
                    found += 1
                    yield origin, strings
        except (OSError, EOFError, zlib.error, ValueError, pa.ArrowException) as exc:
            raise BenchmarkError(
                f"benchmark file {file}: cannot read it as {_EXPECTED[kind]}: {type(exc).__name__}: {exc}"
            ) from exc
        if not found:
            raise BenchmarkError(
                f"benchmark file {file}: no benchmark text in it (read as {_EXPECTED[kind]}; "
                "id, metadata and test-case fields do not count)"
            )


def _file_items(file: Path, name: str, kind: str, gzipped: bool) -> Iterator[tuple[str, list[str]]]:
    """(origin, strings) for each record of one file read as ``kind``."""
    if kind == "parquet":
        yield from _parquet_items(file, name)
        return
    with _open_text(file, gzipped) as stream:
        if kind == "jsonl":
            yield from _jsonl_items(stream, name)
        elif kind == "json":
            yield from _json_items(stream.read(), name)
        else:
            yield name, [stream.read()]


def _open_text(file: Path, gzipped: bool) -> IO[str]:
    """The file as text, decompressed when its content is gzip."""
    # utf-8-sig: a byte-order mark, which some editors write, is not part of the JSON or text
    if gzipped:
        return gzip.open(file, "rt", encoding="utf-8-sig")
    return file.open(encoding="utf-8-sig")


def _jsonl_items(lines: Iterable[str], name: str) -> Iterator[tuple[str, list[str]]]:
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number}, column {exc.colno}: {exc.msg}") from exc
            yield _label(f"{name}:{number}", record), _record_strings(record)


def _json_items(text: str, name: str) -> Iterator[tuple[str, list[str]]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # a second value after the first: JSON Lines under a .json name, common on the Hub
        if exc.msg != "Extra data":
            raise
        yield from _jsonl_items(io.StringIO(text), name)
        return
    if isinstance(document, list):
        for index, record in enumerate(document):
            yield _label(f"{name}[{index}]", record), _record_strings(record)
    elif isinstance(document, dict) and document and all(isinstance(v, dict) for v in document.values()):
        for key, record in document.items():
            yield f"{name}[{key}]", _record_strings(record)
    else:
        yield _label(name, document), _record_strings(document)


def _parquet_items(file: Path, name: str) -> Iterator[tuple[str, list[str]]]:
    shard = pq.ParquetFile(file)
    # test-case columns can be most of a shard's bytes (LiveCodeBench): never loaded
    columns = [c for c in shard.schema_arrow.names if c in _ID_FIELDS or c not in _NOT_TEXT]
    index = 0
    for batch in shard.iter_batches(batch_size=1024, columns=columns):
        for record in batch.to_pylist():
            yield _label(f"{name}[{index}]", record), _record_strings(record)
            index += 1


def ngram_hashes(text: str, size: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The words of ``text``, the start of each ``size``-word window that holds a telling word
    (not in ``_COMMON_WORDS``, not a number, longer than ``_SHORT_NAME``), and the 64-bit hash
    of each of those windows."""
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return words, np.empty(0, np.int64), np.empty(0, np.uint64)
    telling = [len(word) > _SHORT_NAME and not word.isdigit() and word not in _COMMON_WORDS for word in words]
    running = np.concatenate([[0], np.cumsum(telling)])  # telling words before each position
    starts = np.flatnonzero(running[size:] > running[: len(running) - size])
    windows = (" ".join(words[i : i + size]).encode("utf-8") for i in starts.tolist())
    return words, starts, np.fromiter(map(xxhash.xxh3_64_intdigest, windows), np.uint64, len(starts))


@dataclass(frozen=True)
class BenchmarkIndex:
    """Sorted n-gram hashes of every benchmark item, and the item each came from; and the
    normalised code forms of the items (``code_forms``)."""

    ngram_size: int
    hashes: np.ndarray
    origins: tuple[str, ...]
    origin_of: np.ndarray  # index into origins, aligned with hashes
    forms: dict[str, tuple[int, str | None]]  # form key -> (index into origins, function name or None)

    @classmethod
    def from_files(cls, paths: Sequence[str], ngram_size: int) -> BenchmarkIndex:
        all_hashes: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        origins: list[str] = []
        forms: dict[str, tuple[int, str | None]] = {}
        for path in paths:
            for origin, strings in benchmark_records(path):
                _, _, hashes = ngram_hashes("\n".join(strings), ngram_size)
                all_hashes.append(hashes)
                owners.append(np.full(len(hashes), len(origins), np.int32))
                for what, key in item_forms(strings):
                    forms.setdefault(key, (len(origins), what))
                origins.append(origin)
        hashes = np.concatenate(all_hashes) if all_hashes else np.empty(0, np.uint64)
        owner = np.concatenate(owners) if owners else np.empty(0, np.int32)
        order = np.argsort(hashes, kind="stable")
        return cls(ngram_size, hashes[order], tuple(origins), owner[order], forms)

    def __len__(self) -> int:
        return len(self.hashes)

    def overlap(self, fields: dict[str, str]) -> str | None:
        """A detail naming the first shared n-gram of any field, else the first benchmark code
        form found in a field that parses; None when clean."""
        if len(self.hashes):
            for field, text in fields.items():
                words, starts, hashes = ngram_hashes(text, self.ngram_size)
                # self.hashes is sorted: a binary search per window, not a set operation per call
                at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
                found = np.flatnonzero(self.hashes[at] == hashes)
                if len(found):
                    first = int(starts[found[0]])
                    shared = " ".join(words[first : first + self.ngram_size])
                    origin = self.origins[self.origin_of[at[found[0]]]]
                    return f"{field} shares {len(found)} {self.ngram_size}-gram(s) with {origin}: '{shared}'"
        if self.forms:
            for field, text in fields.items():
                for what, key in code_forms(text):
                    if key in self.forms:
                        owner, theirs = self.forms[key]
                        ours = "all of it" if what is None else f"function {what}"
                        of = self.origins[owner] + ("" if theirs is None else f"'s {theirs}")
                        return f"{field}: {ours} is the code of {of} up to names and formatting"
        return None
