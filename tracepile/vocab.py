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
    COMPETITION = "competition"
    MATH = "math"


# Kinds whose programs are checked as a whole: a program that fails any of its inputs (a
# competition solution failing a test, a math program giving the wrong answer) is not a
# source of truth, so none of its executions goes on to generation.
WHOLE_PROGRAM_VERDICT_KINDS = (SourceKind.COMPETITION, SourceKind.MATH)


class RunMode(StrEnum):
    """How a program is run and what its result is (``bronze/sources.run_mode``).

    - ``call``: the entry function is called with each input's keyword arguments; the result
      is its return value, compared JSON-equal with the expected output.
    - ``stdin``: the code runs as a script with the input's ``stdin`` text on standard input;
      the result is what it prints, compared token-wise (floats within 1e-6).
    - ``answer``: the code runs as a script on no input; the result is what it prints, compared
      with the expected answer as a number where both parse as one (fractions, ``\\frac``,
      ``\\boxed``), else as normalised text.
    """

    CALL = "call"
    STDIN = "stdin"
    ANSWER = "answer"


SCRIPT_MODES = (RunMode.STDIN, RunMode.ANSWER)
# trace.trace_depth's alternative to a number: the program's count of function definitions
TRACE_DEPTH_DEFS = "defs"
SCRIPT_ENTRY = "<module>"  # the entry_point of a script whose traced unit is its top-level code


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


# A per-row step of a stage raised (a bug of ours, or data no step foresaw): the row is rejected
# with the exception as its detail and the run goes on (``failures.guarded``). One word in
# every stage's reasons, so a run's summary and page add them up across stages.
INTERNAL_ERROR = "internal_error"


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
    UNKNOWN_FORMAT = "unknown_format"  # a record of none of the kind's known formats
    NO_PYTHON_SOLUTION = "no_python_solution"
    NO_TESTS = "no_tests"
    UNSUPPORTED_CALL_FORM = "unsupported_call_form"  # a call-based solution whose function is a method
    NO_CODE_BLOCK = "no_code_block"
    INCORRECT_SOLUTION = "incorrect_solution"  # math.correct_only: the dataset marks it wrong
    INPUT_GENERATOR_FAILED = "input_generator_failed"
    INTERNAL_ERROR = INTERNAL_ERROR


# pyfiles: a function that cannot be a program (not bad data), normal at any share of a tree
UNFIT_FUNCTION_REASONS = (
    IngestReason.ASYNC_FUNCTION, IngestReason.GENERATOR_FUNCTION, IngestReason.UNSUPPORTED_DECORATOR,
    IngestReason.POSITIONAL_ONLY_PARAMETER, IngestReason.VARIADIC_ONLY, IngestReason.NO_PARAMETERS,
    IngestReason.UNDEFINED_NAME, IngestReason.IMPORTS_TREE_MODULE, IngestReason.MUTATES_GLOBAL,
    IngestReason.NO_INPUTS, IngestReason.UNSUPPORTED_PARAMETER,
)  # fmt: skip
# competition and math: records the dataset holds that are not runnable Python programs (a
# problem with only C++ solutions, a text-only solution), normal at any share of a dataset
SKIPPED_RECORD_REASONS = (
    IngestReason.NO_PYTHON_SOLUTION, IngestReason.NO_TESTS, IngestReason.UNSUPPORTED_CALL_FORM,
    IngestReason.NO_CODE_BLOCK, IngestReason.INCORRECT_SOLUTION,
)  # fmt: skip


class DedupReason(StrEnum):
    """Why a silver stage (dedup, or trace for a whole-verdict program) dropped a program
    (``silver/rejects.reason``)."""

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
    FAILED_TESTS = "failed_tests"  # trace: a whole-verdict program failed one of its inputs
    INTERNAL_ERROR = INTERNAL_ERROR  # trace: running one of its inputs raised (the first is the detail)


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
    WRONG_COMPUTATION = "wrong_computation"  # a stated `expr = value` the values do not give
    WRONG_BRANCH = "wrong_branch"  # a stated truth value the trace's branch contradicts
    TAUTOLOGY = "tautology"  # a computation that restates a bare value: `m = 0 = 0`
    FALSE_REPETITION = "false_repetition"  # "lines 5, 6, 7 keep repeating" where 7 skips rounds
    FALSE_RETURN = "false_return"  # "line 5 returns ..." where line 5 never returned (it raised)
    JSON_IN_CODE = "json_in_code"  # `f(flag=true)`: JSON's true/false/null inside Python code
    UNRENDERABLE = "unrenderable"  # the template backend cannot tell this execution
    ANSWER_IN_PROMPT = "answer_in_prompt"  # the shown code or problem holds this input's output
    # a model's right answer with fewer steps checked against the run than generate.min_checked_claims
    UNCHECKED_REASONING = "unchecked_reasoning"
    INTERNAL_ERROR = INTERNAL_ERROR  # generating, cleaning or verifying the row raised


GENERATE_REJECT_REASONS = tuple(
    o for o in GenerateOutcome if o not in (GenerateOutcome.VERIFIED, GenerateOutcome.BACKEND_ERROR)
)


class InputPredictionOutcome(StrEnum):
    """What became of one input prediction (``gold/input_predictions``, or the reason in
    ``gold/input_prediction_rejects``): the predicted input is run in the sandbox and kept
    only where the call returns the shown output. ``backend_error`` is neither: the execution
    stays pending for the next run. The cleaning reasons are ``GenerateOutcome``'s words."""

    VERIFIED = "verified"
    BACKEND_ERROR = "backend_error"
    ANSWER_IN_PROMPT = "answer_in_prompt"  # the shown code or problem gives this input and output
    PROMPT_TOO_LONG = "prompt_too_long"  # over generate.max_prompt_tokens, as in generate
    TOKEN_LIMIT = "token_limit"
    UNFINISHED_THINKING = "unfinished_thinking"
    EMPTY_RESPONSE = "empty_response"
    UNRENDERABLE = "unrenderable"  # the template cannot tell this execution
    NO_INPUT = "no_input"  # no line 'Final answer: f(...)' in the answer
    INPUT_NOT_PARSED = "input_not_parsed"  # the stated input is not a call of literals (code, prose)
    ARGUMENTS_DO_NOT_FIT = "arguments_do_not_fit"  # not the function's parameters (unknown, missing)
    RUN_FAILED = "run_failed"  # the call on the predicted input raised, timed out, ran out of memory
    WRONG_OUTPUT = "wrong_output"  # it ran and returned something else
    NONDETERMINISTIC = "nondeterministic"  # the output under one hash seed, another under the other
    INTERNAL_ERROR = INTERNAL_ERROR


INPUT_PREDICTION_REJECT_REASONS = tuple(
    o
    for o in InputPredictionOutcome
    if o not in (InputPredictionOutcome.VERIFIED, InputPredictionOutcome.BACKEND_ERROR)
)


class QuestionKind(StrEnum):
    """What a variable-tracing question asks about the entry function's outermost call
    (``gold/questions.kind``)."""

    VALUE_AFTER_LINE = "value_after_line"  # a variable right after the occurrence-th run of a line
    LINE_COUNT = "line_count"  # how many times a line's statement runs
    BRANCH_TAKEN = "branch_taken"  # whether an if/while condition is true at its occurrence-th test
    RETURN_VALUE = "return_value"  # what the call returns
    FIRST_LINE_WITH_VALUE = "first_line_with_value"  # the line after which a variable first holds a value


class RewriteKind(StrEnum):
    """Which transform made a rewrite."""

    RENAME = "rename"
    FOR_TO_WHILE = "for_to_while"
    WHILE_TO_FOR = "while_to_for"
    COMPREHENSION_TO_LOOP = "comprehension_to_loop"
    LOOP_TO_COMPREHENSION = "loop_to_comprehension"
    INVERT_IF = "invert_if"
    EXTRACT_HELPER = "extract_helper"
    INLINE_HELPER = "inline_helper"
    REORDER_STATEMENTS = "reorder_statements"
    RECURSION_TO_ITERATION = "recursion_to_iteration"


# silver/rewrite_rejects.rewrite_kind where rewriting a program failed before any one rewrite
# (proposing them, or running the original): one reject stands for all its kinds
EVERY_REWRITE_KIND = "all"


class RewriteDrop(StrEnum):
    """Why differential execution dropped a rewrite (``silver/rewrite_rejects.reason``)."""

    OUTPUT_DIFFERS = "output_differs"  # a different return value (or output) on some input
    STATUS_DIFFERS = "status_differs"  # it failed where the original ran, or the reverse
    NOT_VALID = "not_valid"  # the rewritten code does not compile or lost the entry function
    INTERNAL_ERROR = INTERNAL_ERROR


class ExportKind(StrEnum):
    """What an exported training row is (``meta.kind``; ``tracepile export --kinds``)."""

    COE = "coe"  # predict the output, with the Chain-of-Execution text
    QUESTION = "question"  # a variable-tracing question and its reasoned answer
    INPUT = "input"  # predict an input that gives the shown output, verified by running it


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
    ABANDONED = "abandoned"  # its process died unrecorded (kill -9, a lost node); the next run saw it


def sql_in(column: str, values: type[StrEnum] | tuple[StrEnum, ...]) -> str:
    """``column IN ('a', 'b')``: a CHECK constraint over a vocabulary."""
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"
