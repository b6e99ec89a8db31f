"""``spark-submit jobs/pipeline.py [OPTIONS]``: ``tracepile run`` (every stage in order, see
``stages.py``) on the submitting Spark. An entry script only: nothing imports it."""

import sys

from tracepile.cli import main_for_job

if __name__ == "__main__":
    main_for_job("run", sys.argv[1:])
