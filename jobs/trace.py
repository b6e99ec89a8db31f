"""``spark-submit jobs/trace.py [OPTIONS]``: the ``tracepile trace`` command (same options), on the
submitting Spark. An entry script only: nothing imports it (the stage is in ``trace_stage.py``)."""

import sys

from tracepile.cli import main_for_job

if __name__ == "__main__":
    main_for_job("trace", sys.argv[1:])
