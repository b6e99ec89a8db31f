"""``spark-submit jobs/generate.py [OPTIONS]``: the ``tracepile generate`` command (same options), on the
submitting Spark. An entry script only: nothing imports it (the stage is in ``generate_stage.py``)."""

import sys

from tracepile.cli import main_for_job

if __name__ == "__main__":
    main_for_job("generate", sys.argv[1:])
