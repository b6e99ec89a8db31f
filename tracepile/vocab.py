"""The project's one vocabulary: every status, reason, kind and name a table may hold.

Each is a ``StrEnum``, so a member is its string (it compares, hashes, prints and
serialises as the plain value stored in the tables). Table constraints, quality suites,
config choices and the code that writes rows all read these; nothing restates them.
Imported by the sandbox's zygote too, so this module stays light (the standard library only).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """How one sandboxed run ended (``silver/executions.status``)."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    OUTPUT_LIMIT = "output_limit"
    TOO_LONG = "too_long"
    NONDETERMINISTIC = "nondeterministic"
    MISMATCH = "mismatch"
    SANDBOX_VIOLATION = "sandbox_violation"


class SourceKind(StrEnum):
    """The ``KIND`` of ``--source KIND:PATH`` (``bronze/sources.source_kind``)."""

    CODEIO = "codeio"
    PYFILES = "pyfiles"
    ALGORITHMS = "algorithms"


class Domain(StrEnum):
    """What a program is about; a closed set so gates can check it (the raw category is kept beside)."""

    MATH = "math"
    ALGORITHMS = "algorithms"
    COMPETITION = "competition"
    LOGIC_PUZZLES = "logic_puzzles"
    GENERAL = "general"


class Backend(StrEnum):
    """Who writes the Chain-of-Execution text (``generate.backend``)."""

    TEMPLATE = "template"
    VLLM = "vllm"
    OPENAI = "openai"


class IngestReason(StrEnum):
    """Why a source line did not become a program (``bronze/ingest_rejects.reason``)."""

    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    EMPTY_CODE = "empty_code"
    INVALID_ENTRY_POINT = "invalid_entry_point"
    RECORD_TOO_LARGE = "record_too_large"
    UNREADABLE_FILE = "unreadable_file"
    READER_ERROR = "reader_error"  # the kind's reader failed on the file: the exception is the detail
    SYNTAX_ERROR = "syntax_error"
    ASYNC_FUNCTION = "async_function"
    GENERATOR_FUNCTION = "generator_function"
    UNSUPPORTED_DECORATOR = "unsupported_decorator"
    POSITIONAL_ONLY_PARAMETER = "positional_only_parameter"
    VARIADIC_ONLY = "variadic_only"
    NO_PARAMETERS = "no_parameters"
    UNDEFINED_NAME = "undefined_name"
    IMPORTS_TREE_MODULE = "imports_tree_module"
    MUTATES_GLOBAL = "mutates_global"
    NO_INPUTS = "no_inputs"
    UNSUPPORTED_PARAMETER = "unsupported_parameter"


# pyfiles: a function that cannot be a program (not bad data), normal at any share of a tree
UNFIT_FUNCTION_REASONS = (
    IngestReason.ASYNC_FUNCTION, IngestReason.GENERATOR_FUNCTION, IngestReason.UNSUPPORTED_DECORATOR,
    IngestReason.POSITIONAL_ONLY_PARAMETER, IngestReason.VARIADIC_ONLY, IngestReason.NO_PARAMETERS,
    IngestReason.UNDEFINED_NAME, IngestReason.IMPORTS_TREE_MODULE, IngestReason.MUTATES_GLOBAL,
    IngestReason.NO_INPUTS, IngestReason.UNSUPPORTED_PARAMETER,
)  # fmt: skip


class DedupReason(StrEnum):
    """Why the dedup stage dropped a program (``silver/rejects.reason``)."""

    CODE_TOO_LARGE = "code_too_large"
    SYNTAX_ERROR = "syntax_error"
    NO_ENTRY_FUNCTION = "no_entry_function"
    FORBIDDEN_CAPABILITY = "forbidden_capability"
    NONDETERMINISTIC = "nondeterministic"
    SIGNATURE_MISMATCH = "signature_mismatch"
    TOO_FEW_INPUTS = "too_few_inputs"
    CONTAMINATED = "contaminated"
    ANALYSIS_ERROR = "analysis_error"
    EXACT_DUPLICATE = "exact_duplicate"
    NEAR_DUPLICATE = "near_duplicate"


DUPLICATE_REASONS = (DedupReason.EXACT_DUPLICATE, DedupReason.NEAR_DUPLICATE)


class InputDrop(StrEnum):
    """Why a single input of a kept program was dropped (counted per program in silver/programs)."""

    TOO_LARGE = "input_too_large"
    DUPLICATE = "input_duplicate"
    OVER_LIMIT = "input_over_limit"


class GenerateOutcome(StrEnum):
    """What became of one generation: verified (gold/coe), or the reason it went to gold/coe_rejects.
    ``backend_error`` is neither: the row stays pending for the next run."""

    VERIFIED = "verified"
    BACKEND_ERROR = "backend_error"
    PROMPT_TOO_LONG = "prompt_too_long"
    TOKEN_LIMIT = "token_limit"
    UNFINISHED_THINKING = "unfinished_thinking"
    EMPTY_RESPONSE = "empty_response"
    NO_FINAL_ANSWER = "no_final_answer"
    WRONG_FINAL_ANSWER = "wrong_final_answer"
    WRONG_INTERMEDIATE_VALUE = "wrong_intermediate_value"


GENERATE_REJECT_REASONS = tuple(
    o for o in GenerateOutcome if o not in (GenerateOutcome.VERIFIED, GenerateOutcome.BACKEND_ERROR)
)


class Severity(StrEnum):
    """What a failed quality check does: ``block`` stops the batch in gate mode fail, ``warn``
    is recorded only, ``hard`` (schema, CHECK constraints) stops it in every mode."""

    BLOCK = "block"
    WARN = "warn"
    HARD = "hard"


class GateMode(StrEnum):
    FAIL = "fail"
    WARN = "warn"


class Decision(StrEnum):
    """What the gate did with a batch (``meta/validations.decision``)."""

    PUBLISHED = "published"
    PUBLISHED_WITH_WARNINGS = "published_with_warnings"
    QUARANTINED = "quarantined"
    # the on-demand ``tracepile gate`` and the export checks move nothing
    PASSED = "passed"
    FAILED = "failed"
    EXPORTED = "exported"


class RunStatus(StrEnum):
    """How a tracepile command ended (``meta/runs.status``)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    BLOCKED = "blocked"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


def sql_in(column: str, values: type[StrEnum] | tuple[StrEnum, ...]) -> str:
    """``column IN ('a', 'b')``: a CHECK constraint over a vocabulary."""
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"
