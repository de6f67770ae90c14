"""`driftline serve` (the prediction API) and `driftline feedback` (true labels for its log)."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import typer

from driftline.apps.cli.common import ConfigOption, project, user_errors


def serve(
    config: Path = ConfigOption,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port to listen on."),
    workers: int = typer.Option(
        1,
        min=1,
        help="Server processes sharing the port, each with the model, its own log writer "
        "and hot swap; more than one helps only with a core free for each (see README).",
    ),
    access_log: bool = typer.Option(
        True, help="Log a line per HTTP request (the prediction log keeps every answer anyway)."
    ),
) -> None:
    """Serve the project's champion over HTTP; it swaps in a new champion by itself.

    Concurrent requests are scored together in one model call (serving.batch_max_records,
    serving.batch_max_wait_ms); a request that arrives alone is scored at once.

    SIGTERM or Ctrl-C stops gracefully: in-flight requests finish, the log is flushed.

    What a crash loses (serving.log_durability): "buffered" (the default) writes the
    prediction log every log_flush_seconds (or log_flush_rows rows), so a kill -9 or power
    cut loses what was answered since the last write, plus what a failing disk kept buffered
    (at most log_buffer_rows; at that bound /predict answers 503, or with log_when_full: drop
    keeps answering and counts every dropped row in /ready). "journal" fsyncs every answered
    prediction to a journal before answering and replays it at the next start: nothing
    answered is lost, at the cost of a disk sync per request (see `make bench`).
    """
    with user_errors():
        cfg = project(config)
        import uvicorn

        from driftline.apps.serving.app import create_app
        from driftline.apps.serving.worker import CONFIG_ENV

        if workers == 1:
            app: Any = create_app(cfg)
        else:  # each worker process builds its own app from the config file
            os.environ[CONFIG_ENV] = str(config.resolve())
            app = "driftline.apps.serving.worker:app_from_env"
    # uvicorn's own logging setup, extended so swaps, refusals and log flushes show too.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"]["driftline"] = {"handlers": ["default"], "level": "INFO"}
    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=workers,
        factory=workers > 1,
        timeout_graceful_shutdown=30,
        access_log=access_log,
        log_level="info",
        log_config=log_config,
    )


feedback_app = typer.Typer(help="True labels for logged predictions.", no_args_is_help=True)


@feedback_app.command("import")
def import_labels(
    file: Path = typer.Argument(..., help="CSV or Parquet with request_id and label columns."),
    config: Path = ConfigOption,
    label_column: str = typer.Option("label", help="Column holding the true label."),
) -> None:
    """Join a labels file to the prediction log (by request id) for live performance."""
    with user_errors():
        cfg = project(config)
        from driftline.storage.prediction_log import import_feedback, log_root
        from driftline.storage.registry import CHAMPION, ModelRegistry

        registry = ModelRegistry.for_config(cfg)
        champion = registry.alias(CHAMPION)
        model = registry.load_model(champion.version) if champion else None
        classes = getattr(model, "classes_", None)
        n = import_feedback(
            log_root(cfg),
            file,
            cfg.target.positive_label,
            label_column,
            None if classes is None else list(classes),
            schema=champion.metadata.table_schema if champion else None,
        )
    typer.echo(f"imported {n} label(s) into {log_root(cfg)}")
