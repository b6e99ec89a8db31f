"""The Hugging Face dataset card (``README.md``) written beside every export.

The card is a YAML header and a short text. The header says what the Hub and
``datasets.load_dataset(<folder>)`` read: ``configs`` (which files make which split, so
the folder loads as is and stray files such as ``rejects.jsonl`` stay out), ``dataset_info``
(the features and the split sizes as written), ``license``, ``size_categories``,
``task_categories`` and ``tags`` (the source kinds and sample kinds the rows come from).
Plain data in, text out; the export stage gathers what was written and calls ``render``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# the Hub's size buckets, by the number of rows (upper bounds, exclusive)
_SIZES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)
# the rows derive from the programs of the ingested sources, whose licences apply; the card
# cannot know them, so it says so (the Hub's value for it) and names the source kinds
LICENSE = "unknown"
TASK_CATEGORIES = ("text-generation",)


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` value for a dataset of ``rows`` rows."""
    for bound, name in _SIZES:
        if rows < bound:
            return name
    return "n>1B"


@dataclass(frozen=True)
class Feature:
    """A column as written: its name and its ``datasets`` dtype (``string``, ``int64``)."""

    name: str
    dtype: str

    def yaml(self) -> dict[str, str]:
        """The feature as ``dataset_info.features`` writes it."""
        return {"name": self.name, "dtype": self.dtype}


@dataclass(frozen=True)
class Split:
    """One written split: its name, rows, bytes of its files and the glob of its files
    (relative to the export folder)."""

    name: str
    rows: int
    num_bytes: int
    files: str


@dataclass(frozen=True)
class ExportCard:
    """What an export wrote, as the card states it."""

    fmt: str
    splits: tuple[Split, ...]
    # the columns, where every row has the same types (Parquet); JSONL rows carry ``meta.input``
    # and ``meta.output`` as typed JSON of any shape, so their features are left to the reader
    features: tuple[Feature, ...] | None
    source_kinds: tuple[str, ...]
    kinds: tuple[str, ...]
    seed: int
    notes: Mapping[str, str] = field(default_factory=dict)  # e.g. why there is no validation split

    @property
    def rows(self) -> int:
        return sum(split.rows for split in self.splits)

    def metadata(self) -> dict[str, Any]:
        """The YAML header as data."""
        loads = "json" if self.fmt != "parquet" else "parquet"
        return {
            "license": LICENSE,
            "language": ["en"],
            "pretty_name": f"tracepile export ({self.fmt})",
            "task_categories": list(TASK_CATEGORIES),
            "size_categories": [size_category(self.rows)],
            "tags": ["tracepile", "code", "execution-traces", loads]
            + [f"source:{kind}" for kind in self.source_kinds]
            + [f"kind:{kind}" for kind in self.kinds],
            "configs": [
                {
                    "config_name": "default",
                    "data_files": [{"split": split.name, "path": split.files} for split in self.splits],
                }
            ],
            "dataset_info": {
                **({"features": [f.yaml() for f in self.features]} if self.features is not None else {}),
                "splits": [{"name": split.name, "num_examples": split.rows} for split in self.splits],
                "download_size": sum(split.num_bytes for split in self.splits),  # the files' bytes
            },
        }


def _yaml(value: Any, indent: int = 0) -> list[str]:
    """Block-style YAML for dicts, lists and scalars (scalars as JSON, which YAML reads)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, (Mapping, list)) and item:
                lines += [f"{pad}{key}:", *_yaml(item, indent + 2)]
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    else:
        for item in value:
            nested = _yaml(item, indent + 2) if isinstance(item, (Mapping, list)) and item else None
            if nested is None:
                lines.append(f"{pad}- {_scalar(item)}")
            else:  # the first line of the item goes after the dash
                lines += [f"{pad}- {nested[0].lstrip()}", *nested[1:]]
    return lines


def _scalar(value: Any) -> str:
    if isinstance(value, (Mapping, list)):  # empty
        return "{}" if isinstance(value, Mapping) else "[]"
    return json.dumps(value, ensure_ascii=False)


def render(card: ExportCard) -> str:
    """The dataset card: the YAML header, then what the files are and how to load them."""
    header = "\n".join(_yaml(card.metadata()))
    sizes = ", ".join(f"{split.name}: {split.rows} rows" for split in card.splits)
    notes = "".join(f"- {name}: {text}\n" for name, text in card.notes.items())
    files = "".join(f"- `{split.files}`: the {split.name} split\n" for split in card.splits)
    if card.fmt == "parquet":
        data_files = ", ".join(f'"{split.name}": "{split.files}"' for split in card.splits)
        also = f'`load_dataset("parquet", data_files={{{data_files}}})`'
    else:
        also = "for LLaMA-Factory, the entries of `dataset_info.json` (`dataset: tracepile_train`)"
    return (
        f"---\n{header}\n---\n\n"
        f"# tracepile export ({card.fmt})\n\n"
        "Chain-of-Execution training rows made by tracepile: every answer was checked against "
        "the program's recorded execution in a sandbox.\n\n"
        f"- rows: {card.rows} ({sizes})\n"
        f"- sample kinds: {', '.join(card.kinds)}; source kinds: {', '.join(card.source_kinds) or 'none'}\n"
        f"- seed of the shuffle and the train/validation split: {card.seed}\n"
        f"{notes}\n"
        "## Files\n\n"
        f"{files}\n"
        "## Loading\n\n"
        f'`datasets.load_dataset("<this folder>")` reads the splits above (the `configs` of this card); '
        f"or {also}.\n\n"
        "## Licence\n\n"
        "Every row derives from a program of the ingested sources (the `source:` tags); their "
        "licences apply.\n"
    )
