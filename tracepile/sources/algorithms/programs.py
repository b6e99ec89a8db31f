"""``algorithms:builtin`` as source rows: one program per library algorithm, its inputs the
instances its seeded generator draws at the configured sizes.

The library is the project's own trusted code, but its expected outputs are left unknown:
the trace stage runs each instance in the sandbox like any other program, and the value it
returns (the same under two hash seeds) is what the CoE is checked against.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from typing import Any

from tracepile.analysis.hashing import canonical_json, content_id
from tracepile.config import AlgorithmsConfig
from tracepile.sources.algorithms import ALGORITHMS, Algorithm, instances
from tracepile.vocab import Domain, RunMode, SourceKind

SOURCE = "tracepile algorithms library"


def _signature(algorithm: Algorithm) -> str:
    """``name(param: type, ...) -> type``: the entry function's signature, for io_requirements."""
    for node in ast.parse(algorithm.code).body:
        if isinstance(node, ast.FunctionDef) and node.name == algorithm.name:
            return f"{node.name}({ast.unparse(node.args)})" + (
                f" -> {ast.unparse(node.returns)}" if node.returns else ""
            )
    raise LookupError(f"{algorithm.name}.py has no function {algorithm.name}")


def program_row(algorithm: Algorithm, settings: AlgorithmsConfig) -> dict[str, Any]:
    """The algorithm as a normalised program: its distinct instances as inputs, outputs unknown."""
    drawn = instances(algorithm.name, settings.sizes, settings.instances, settings.seed)
    inputs = [
        {"input_json": text, "expected_output_json": None}
        for text in dict.fromkeys(canonical_json(kwargs) for kwargs in drawn)  # small sizes repeat
    ]
    content = {
        "source_kind": SourceKind.ALGORITHMS.value,
        "source": SOURCE,
        "category": algorithm.category,
        "problem": algorithm.description,
        "io_requirements": _signature(algorithm),
        "code": algorithm.code,
        "entry_point": algorithm.entry_point,
        "inputs": inputs,
    }
    meta = {"algorithm": algorithm.name, "sizes": settings.sizes, "seed": settings.seed}
    return {
        "program_id": content_id(content),
        **content,
        "run_mode": RunMode.CALL.value,  # outside the content: a call is how programs always ran
        "domain": Domain.ALGORITHMS.value,
        "meta_json": json.dumps(meta, sort_keys=True),
    }


def program_rows(settings: AlgorithmsConfig) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based position in the library, program row) for every algorithm."""
    for position, algorithm in enumerate(ALGORITHMS.values(), start=1):
        yield position, program_row(algorithm, settings)
