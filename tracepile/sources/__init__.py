"""Source kinds: files of records -> normalised programs (pure parsing; no Spark)."""
