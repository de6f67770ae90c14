"""The child process a `driftline run …` command runs its flow in (see `flow_process`).

`python -m driftline.orchestration.flow_child SPEC.json` calls the flow the spec names, as
the command used to call it in its own process, and writes a `FlowOutcome`: the value as
JSON, or the error in one line. Everything logged also goes to the command's log file with
full tracebacks; the console keeps Prefect's log lines but without tracebacks, so a person
sees what happened and the one `error:` line, and the log file has the rest.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from driftline.core.atomic import atomic_path
from driftline.errors import DriftlineError
from driftline.orchestration.flow_process import REPORT_FD, REPORTED, FlowOutcome, FlowSpec

# Prefect's console formats with the date, so a log file read days later is unambiguous.
DATE = "%Y-%m-%d %H:%M:%S"
EXIT_GRACE = 60  # seconds a reported child may take to exit before SIGALRM ends it
RECORD_HOOK = "record_flow_run_id_for_driftline"
LOG_FORMATS = {
    "format": "%(asctime)s | %(levelname)-7s | %(name)s - %(message)s",
    "flow_run_fmt": "%(asctime)s | %(levelname)-7s | Flow run %(flow_run_name)r - %(message)s",
    "task_run_fmt": "%(asctime)s | %(levelname)-7s | Task run %(task_run_name)r - %(message)s",
}


class WithoutTraceback(logging.Formatter):
    """Another formatter's output with the exception text and stack left out."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def route_logs(log: Path) -> logging.Logger:
    """Send every record that reaches the root logger to `log` as well (tracebacks
    included) and strip tracebacks from the console handlers. Call after Prefect has set up
    its logging (`prefect.main` does), which replaces the root's handlers. Returns a logger
    that writes to the file only."""
    from prefect.logging.formatters import PrefectFormatter

    file_handler = logging.FileHandler(log, encoding="utf-8")
    file_handler.setFormatter(PrefectFormatter(datefmt=DATE, **LOG_FORMATS))
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setFormatter(WithoutTraceback(handler.formatter))
            # Prefect announces every hook it runs; ours is plumbing, not news to a person.
            handler.addFilter(lambda record: RECORD_HOOK not in record.getMessage())
    root.addHandler(file_handler)
    file_only = logging.getLogger("driftline.run")
    file_only.propagate = False
    file_only.setLevel(logging.INFO)
    file_only.addHandler(file_handler)
    return file_only


def error_line(exc: BaseException) -> str:
    """A driftline error says what to fix in its message; anything else gets its type."""
    if isinstance(exc, DriftlineError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _record_flow_run_id(path: Path) -> Any:
    def hook(_flow: object, flow_run: Any, _state: object) -> None:
        with atomic_path(path) as tmp:
            tmp.write_text(str(flow_run.id))

    hook.__name__ = RECORD_HOOK
    return hook


def _write(path: Path, outcome: FlowOutcome) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(outcome.model_dump_json())


def run(spec: FlowSpec) -> int:
    """Run the spec's flow in this process and write its outcome; the exit code to use."""
    import prefect.main  # noqa: F401  (sets up Prefect's logging, which route_logs extends)

    log = route_logs(Path(spec.log))
    try:
        module, _, name = spec.flow.partition(":")
        flow = getattr(importlib.import_module(module), name)
        # The flow run's id as soon as it runs, so the command can mark it if it kills us.
        hooks = [*flow.on_running_hooks, _record_flow_run_id(Path(spec.flow_run_id))]
        value = flow.with_options(on_running=hooks)(**spec.parameters)
    except Exception as exc:
        log.error("%s failed", spec.flow, exc_info=True)
        _write(Path(spec.outcome), FlowOutcome(ok=False, error=error_line(exc)))
        return 1
    _write(Path(spec.outcome), FlowOutcome(ok=True, value=to_jsonable_python(value)))
    return 0


def reported(notify: Callable[[], object]) -> None:
    """Tell the command the outcome is written (it may return now), let go of its terminal
    or pipes (the rest goes to the log file), and bound what is left of this process's life:
    Prefect sends its last logs and events, Python tears down."""
    sys.stdout.flush()
    sys.stderr.flush()
    with suppress(OSError):
        notify()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    signal.alarm(EXIT_GRACE)


def main(spec_path: str) -> int:
    code = run(FlowSpec.model_validate_json(Path(spec_path).read_text()))
    if fd := os.environ.get(REPORT_FD):
        reported(lambda: os.write(int(fd), REPORTED))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
