"""Where progress and messages go: standard error, so standard output stays for data (``--json``)."""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True)
