"""tracepile: a Spark ETL job that turns Python programs into a verified Chain-of-Execution corpus."""

__version__ = "0.1.0"
