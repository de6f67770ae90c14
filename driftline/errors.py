"""One error family: everything driftline refuses, named for what the user must fix.

`DriftlineError` is the base; the CLI turns any of them into one "error: ..." line and a
non-zero exit (`driftline.apps.cli.common.user_errors`), so no command catches one by hand.
Each subclass also inherits the built-in error it refines (scikit-learn's pattern), so a
caller that catches `ValueError` or `RuntimeError` keeps working. Every message names what
was wrong (file, column, key, version) and what to do.
"""

from __future__ import annotations


class DriftlineError(Exception):
    """Base of every error driftline raises on purpose."""


class ConfigError(DriftlineError, ValueError):
    """A configuration file that cannot be used; the message names the file and the key."""


class DataError(DriftlineError, ValueError):
    """Input data that cannot be used; the message names the file, the column and the rule."""


class ValidationFailed(DataError):
    """A batch failed a critical expectation; the message says which and where it was moved."""


class ScoringFailed(DataError):
    """A chunk of a scoring input failed a critical expectation; nothing was written."""


class RegistryError(DriftlineError):
    """A request the registry refuses: unknown version or alias, or a refused promotion."""


class LockTimeout(DriftlineError, TimeoutError):
    """A lock of driftline's state stayed held by a live process for longer than allowed."""


class ChampionMoved(RegistryError):
    """A promotion was gated against a champion that is no longer the champion."""

    def __init__(self, message: str, current: str | None) -> None:
        super().__init__(message)
        self.current = current


class IntegrityError(RegistryError):
    """A model file that is missing or not the one registered; it is never unpickled."""


class VerificationError(DriftlineError):
    """A loaded model that must not serve: wrong schema, no probabilities, bad output."""


class ServingError(DriftlineError, RuntimeError):
    """The prediction server cannot start: no model and no configured features."""


class ServerError(DriftlineError, RuntimeError):
    """A Prefect server (or a process serving flows) did not come up; the message names its log."""


class Interrupted(BaseException):
    """A command stopped by a signal (Ctrl-C, SIGTERM, SIGHUP) while it ran a flow.

    Not a `DriftlineError` (nothing was wrong), and a BaseException like KeyboardInterrupt,
    so no `except Exception` swallows it on the way out. The CLI exits 128 + the signal
    number (130 for SIGINT, 143 for SIGTERM), as a shell reports a process the signal killed.
    """

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
