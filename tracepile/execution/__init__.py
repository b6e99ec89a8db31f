"""What the stages share, so that no stage imports another: running programs in the sandbox
(``runs_programs.py``), the text backend of generate and questions (``text_backend.py``) and
the schema of a stage's outcome rows (``outcomes.py``).

A stage (``jobs/*_stage.py``) may import these; these import no stage.
"""
