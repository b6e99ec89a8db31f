"""Stage entry points: each reads a table and writes a table; each file also runs under spark-submit."""
