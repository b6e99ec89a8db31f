"""Insight into runs: the per-run page (``page.html`` + ``facts.json``) and its plots."""
