"""``spark-submit jobs/submit.py COMMAND [OPTIONS]``: the ``tracepile COMMAND`` that runs stages
(``tracepile.cli.JOB_COMMANDS``: run, ingest, dedup, rewrite, trace, generate, questions, inputs,
export, gate, repair; the same options), on the submitting Spark. The one spark-submit entry script:
nothing imports it (the stages are in ``*_stage.py``, the pipeline in ``stages.py``)."""

import sys

from tracepile.cli import submit

if __name__ == "__main__":
    submit(sys.argv[1:])
