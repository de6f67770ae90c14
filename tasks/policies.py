"""What every task shares: the retry rule, and a cache keyed on exactly what shapes a result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy, CachePolicy
from prefect.context import TaskRunContext

from driftline.core.fingerprints import digest


def retry_on_io(task: Any, task_run: Any, state: Any) -> bool:
    """Retry transient I/O failures only; bad data stays bad on a retry."""
    try:
        state.result()
    except OSError:
        return True
    except Exception:
        return False
    return False


def cached_on(shape: Callable[[dict[str, Any]], Any]) -> CachePolicy:
    """Cache a task on `shape(parameters)` (what shapes its result) and the task's source.

    Narrower than Prefect's INPUTS on purpose: a setting that does not change the result
    (serving, monitoring, `n_jobs`) must not throw a finished result away; and inputs such as
    a dataset are keyed by their fingerprint, never by pickling them.
    """

    def key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
        return f"{context.task.name}-{digest(shape(parameters))}"

    return TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=key)
