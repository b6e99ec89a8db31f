"""``spark-submit jobs/export.py [OPTIONS]``: the ``tracepile export`` command (same options), on the
submitting Spark. An entry script only: nothing imports it (the stage is in ``export_stage.py``)."""

import sys

from tracepile.cli import main_for_job

if __name__ == "__main__":
    main_for_job("export", sys.argv[1:])
