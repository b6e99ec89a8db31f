from tracepile.cli import app

app(prog_name="tracepile")
