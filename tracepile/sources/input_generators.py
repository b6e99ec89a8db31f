"""Inputs drawn by a record's own input generator, run in the sandbox.

CodeI/O-style datasets ship, beside a program, the function their I/O pairs were drawn from:
CodeI/O's ``def input_generator():`` (module ``random``), reasoning-gym's
``def generate_inputs(rng: Random)`` (a ``random.Random`` passed in, ``Random`` not imported).
Each returns one input: a dict of the entry function's keyword arguments. The generator is
model-written code, so it runs in the sandbox like any program; these functions build its
runs and judge what they return. Expected outputs stay unknown: the trace stage runs the
program on each input, and the value it returns (the same under two hash seeds) is the output.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Protocol

from tracepile.analysis.hashing import canonical_json
from tracepile.analysis.pyast import parse
from tracepile.analysis.values import decode, encode
from tracepile.sources.records import Rejection
from tracepile.vocab import IngestReason, Status

GENERATOR_NAMES = ("input_generator", "generate_inputs", "generate_input")  # as the datasets name it
GENERATOR_FILENAME = "<input_generator>"
PROGRAM_FILENAME = "<program>"
GENERATOR_ENTRY = "__tracepile_generated_input__"  # the wrapper's entry, beside no generator name
# runs after which the generator gets no other seed: it attacked, or it spends the limits
_GIVE_UP = (Status.SANDBOX_VIOLATION, Status.TIMEOUT, Status.MEMORY)

# The generator runs in a module of its own (registered: dataclasses look their module up),
# after the program's code, with ``random`` and ``Random`` in scope: the datasets' own runners
# ran it so, and real generators use the program's imports and helpers. Each has its own file
# name, so errors cite their own lines, and no name of theirs meets the wrapper's.
_WRAPPER = """import random
import sys
import types


def {entry}(seed):
    random.seed(seed)
    {seed_numpy}
    module = types.ModuleType("__input_generator__")
    module.__dict__.update(random=random, Random=random.Random)
    sys.modules[module.__name__] = module
    exec(compile({program!r}, {program_filename!r}, "exec"), module.__dict__)
    exec(compile({source!r}, {filename!r}, "exec"), module.__dict__)
    for name in {names!r}:
        generator = module.__dict__.get(name)
        if callable(generator):
            break
    else:
        raise NameError("the input generator defines none of " + ", ".join({names!r}))
    required = generator.__code__.co_argcount - len(generator.__defaults__ or ())
    return generator(random.Random(seed)) if required else generator()
"""
_SEED_NUMPY = "import numpy; numpy.random.seed(seed % 2**32)"


class GeneratorRun(Protocol):
    """What a generator's run reports (``udfs.sandbox.RunResult`` is one)."""

    @property
    def status(self) -> str: ...

    @property
    def return_json(self) -> str | None: ...

    @property
    def error(self) -> str | None: ...


def _parsed(code: str) -> ast.Module | None:
    """The code's tree; None when it does not parse (its run reports why)."""
    try:
        return parse(code, GENERATOR_FILENAME)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _numpy_names(tree: ast.Module) -> set[str]:
    """The names the code's imports (anywhere, function bodies included) bind to numpy or a part."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.split(".")[0] == "numpy"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "numpy":
            names |= {a.asname or a.name for a in node.names}
    return names


def _uses_numpy(generator_code: str, program_code: str) -> bool:
    """Whether the generator imports numpy, or uses a name the program's imports bind to it."""
    generator = _parsed(generator_code)
    if generator is None:
        return False
    if _numpy_names(generator):
        return True
    program = _parsed(program_code)
    used = {node.id for node in ast.walk(generator) if isinstance(node, ast.Name)}
    return program is not None and bool(used & _numpy_names(program))


def generator_program(generator_code: str, seed: int, program_code: str = "") -> tuple[str, str, str]:
    """``(code, entry, input_json)`` for ``Sandbox.run``: the generator, after the program's
    code, seeded with ``seed`` (``random``, and numpy's global generator when it uses numpy),
    its input returned. The code is the same for every seed, so the sandbox compiles it once."""
    code = _WRAPPER.format(
        entry=GENERATOR_ENTRY,
        seed_numpy=_SEED_NUMPY if _uses_numpy(generator_code, program_code) else "",
        program=program_code,
        program_filename=PROGRAM_FILENAME,
        source=generator_code,
        filename=GENERATOR_FILENAME,
        names=GENERATOR_NAMES,
    )
    return code, GENERATOR_ENTRY, canonical_json({"seed": seed})


def _failed(detail: str) -> Rejection:
    return Rejection(IngestReason.INPUT_GENERATOR_FAILED, detail)


def accept_generated(return_json: str | None) -> str | Rejection:
    """The typed JSON (``analysis/values.py``) of a generated input when it is keyword
    arguments (a dict whose keys are names; names sorted, values as generated), else why not."""
    if return_json is None:
        return _failed("returned no value")
    try:
        value = decode(return_json)
    except (ValueError, TypeError, KeyError, RecursionError):
        return _failed("returned a value that is not typed JSON")
    if not isinstance(value, dict):
        return _failed(f"returned {type(value).__name__}, expected a dict of keyword arguments")
    wrong = next((key for key in value if not (isinstance(key, str) and key.isidentifier())), None)
    if wrong is not None:
        return _failed(f"returned key {str(wrong)[:40]!r}, which is not a parameter name")
    return encode({name: value[name] for name in sorted(value)})


def generated_inputs(
    run: Callable[[str, str, str], GeneratorRun],
    generator_code: str,
    count: int,
    seed: int,
    program_code: str = "",
) -> list[dict[str, str | None]] | Rejection:
    """The distinct inputs of ``count`` runs of the generator (seeds ``seed`` to
    ``seed + count - 1``, after ``program_code``), expected outputs unknown; or why there are none. A run that
    attacks fails the generator whatever the others gave; a run out of time or memory ends
    the runs (the next seed would most likely spend the limits again)."""
    drawn: dict[str, None] = {}  # canonical input -> None: distinct, in the order drawn
    first_error: str | None = None
    runs = 0
    for run_seed in range(seed, seed + count):
        runs += 1
        result = run(*generator_program(generator_code, run_seed, program_code))
        if result.status == Status.OK:
            outcome = accept_generated(result.return_json)
        else:
            outcome = _failed(f"{result.status}: {result.error}")
        if isinstance(outcome, str):
            drawn.setdefault(outcome)
            continue
        error = f"seed {run_seed}: {outcome.detail}"
        if result.status == Status.SANDBOX_VIOLATION:
            return _failed(error)
        first_error = first_error or error
        if result.status in _GIVE_UP:
            break
    if not drawn:
        return _failed(f"no input from {runs} run(s); {first_error}")
    return [{"input_json": text, "expected_output_json": None} for text in drawn]
