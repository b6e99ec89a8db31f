"""Data-quality suites and write-audit-publish gates (great-expectations)."""
