"""The stages (``*_stage.py``: each reads tables and writes tables), the pipeline's list of them
(``stages.py``), and ``submit.py``, the one script that runs any of them under spark-submit."""
