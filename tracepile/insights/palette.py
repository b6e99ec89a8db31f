"""The run page's colours, one place for all of them: one colour per stage and one per outcome,
the same in every plot (``plots.py``) and in the page's badges (``page.py``).

- A stage (``ingest`` ... ``inputs``) has its colour wherever it is drawn: its throughput
  bars, its reject bars, its share of the source mix.
- An outcome (what a row became: kept, an execution status, a reject reason) has its colour
  wherever it is drawn: the status mix, the histograms' series. Kept rows of every stage
  share one green; the statuses and reasons of ``vocab.py`` are given colours in the order
  they are declared, and a name outside the vocabulary gets one from a hash of the name, so
  it too is the same on every plot and every page.
- A run's outcome (``meta/runs.status``) has its badge colours.

No matplotlib here: the page's HTML takes its badge colours without importing a plotter.
"""

from __future__ import annotations

import zlib
from enum import StrEnum

from tracepile import vocab
from tracepile.vocab import RunStatus, Status

# the pipeline's stages in order (``jobs/stages.py pipeline``), then the commands of one stage
STAGE_COLOURS: dict[str, str] = {  # cool and earthy: apart from the outcomes' warm colours
    "ingest": "#4e79a7",
    "dedup": "#3d405b",
    "rewrite": "#7a9cc6",
    "trace": "#76b7b2",
    "generate": "#9c755f",
    "questions": "#b07aa1",
    "inputs": "#6b6ecf",
    "export": "#1f5f8b",
    "repair": "#8c8c5a",
    "gate": "#6c757d",
}
OTHER_STAGE_COLOUR = "#888888"

KEPT_COLOUR = "#2e8b57"  # every stage's kept rows (and an ok execution)
# not-kept outcomes, given in turn: warm colours, none green (kept's) nor a stage's
REJECT_COLOURS = (
    "#d1495b", "#edae49", "#e07a5f", "#9a031e", "#f4a261", "#c9184a",
    "#ffb4a2", "#bc6c25", "#ff595e", "#e5b700", "#8e3b5f", "#f07167",
)  # fmt: skip
ESTIMATED_COLOUR = "#8d99ae"  # a histogram's series of estimated token counts


_REASONS = ("Reason", "Drop", "Outcome")  # the vocabularies of what a row became


def _outcome_colours() -> dict[str, str]:
    names: list[str] = [status.value for status in Status if status != Status.OK]
    names.append(vocab.INTERNAL_ERROR)
    for value in vars(vocab).values():  # every reason vocabulary, in declaration order
        if isinstance(value, type) and issubclass(value, StrEnum) and value.__name__.endswith(_REASONS):
            names.extend(member.value for member in value)
    colours = dict.fromkeys(("kept", Status.OK.value, "verified", "counted"), KEPT_COLOUR)
    colours["estimated"] = ESTIMATED_COLOUR
    for n, name in enumerate(name for name in dict.fromkeys(names) if name not in colours):
        colours[name] = REJECT_COLOURS[n % len(REJECT_COLOURS)]
    return colours


OUTCOME_COLOURS: dict[str, str] = _outcome_colours()

# a run's badge: (background, text)
RUN_STATUS_COLOURS: dict[str, tuple[str, str]] = {
    RunStatus.SUCCEEDED: ("#dff3e4", "#17662b"),
    RunStatus.BLOCKED: ("#fff3cd", "#8a5a00"),
    RunStatus.FAILED: ("#fde8e8", "#a11111"),
    RunStatus.INTERRUPTED: ("#fde8e8", "#a11111"),
    RunStatus.ABANDONED: ("#fde8e8", "#a11111"),
    RunStatus.RUNNING: ("#e8eefc", "#1d3f8a"),
}


def stage_colour(stage: str) -> str:
    return STAGE_COLOURS.get(stage, OTHER_STAGE_COLOUR)


def outcome_colour(outcome: str) -> str:
    """The colour of ``outcome`` on every plot: kept green, a known one its own, else by hash."""
    known = OUTCOME_COLOURS.get(outcome)
    return known or REJECT_COLOURS[zlib.crc32(outcome.encode("utf-8")) % len(REJECT_COLOURS)]
