"""tracepile: a Spark ETL job that turns Python programs into a verified Chain-of-Execution corpus."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tracepile")  # pyproject.toml's, as installed
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
