"""Chain-of-Execution generation backends and their verification against traces."""
