"""``spark-submit jobs/dedup.py [OPTIONS]``: the ``tracepile dedup`` command (same options), on the
submitting Spark. An entry script only: nothing imports it (the stage is in ``dedup_stage.py``)."""

import sys

from tracepile.cli import main_for_job

if __name__ == "__main__":
    main_for_job("dedup", sys.argv[1:])
