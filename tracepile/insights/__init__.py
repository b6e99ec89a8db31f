"""Insight into runs: the per-run page (``report.html`` + ``report.json``) and its plots."""
