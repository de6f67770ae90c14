"""The retry rule every task shares: only transient I/O is worth trying again."""

from __future__ import annotations

from typing import Any


def retry_on_io(task: Any, task_run: Any, state: Any) -> bool:
    """Retry transient I/O failures only; bad data stays bad on a retry."""
    try:
        state.result()
    except OSError:
        return True
    except Exception:
        return False
    return False
