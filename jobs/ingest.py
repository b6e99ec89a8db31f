"""``spark-submit jobs/ingest.py [OPTIONS]``: the ``tracepile ingest`` command (same options), on the
submitting Spark. An entry script only: nothing imports it (the stage is in ``ingest_stage.py``)."""

import sys

from tracepile.cli import main_for_job

if __name__ == "__main__":
    main_for_job("ingest", sys.argv[1:])
