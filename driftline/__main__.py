"""`python -m driftline` is the `driftline` command (used to start background children)."""

from driftline.apps.cli import app

app()
