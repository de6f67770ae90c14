"""The target column as a model sees it: which task it poses, and its values per task.

`decide_task` reads the task from the config or infers it from the values (and says why);
`target_values` turns the column into what the estimator learns: 0/1 for a binary task
(1 = the positive label), the class as label text for multiclass, a float for regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from driftline.core.contracts import TaskKind
from driftline.core.labels import label_texts, positive_mask

# A numeric target with more distinct values than this (or any non-integral value) is a
# quantity; with 3..this many integral values it may be classes or a count: the user says.
MAX_CLASS_VALUES = 20
# A text target with more distinct values than this is not a set of classes driftline infers.
MAX_TEXT_CLASSES = 50


@dataclass(frozen=True)
class TaskDecision:
    """The task of a target column, its classes (as label text) and how it was decided."""

    task: TaskKind
    classes: tuple[str, ...]
    note: str


def _integral(values: pd.Series) -> bool:
    as_float = values.astype("float64")
    return bool(np.all(np.isfinite(as_float) & (as_float == np.floor(as_float))))


def decide_task(values: pd.Series, column: str, configured: TaskKind | None) -> TaskDecision:
    """The configured task, or the one the target's values imply; ValueError when unclear.

    Two distinct values are binary; a numeric column with non-integral values or more than
    MAX_CLASS_VALUES distinct values is regression; a text column with up to
    MAX_TEXT_CLASSES values is multiclass. A few integral numbers could be classes or a
    count, so that (and anything else) asks for `target.task`.
    """
    distinct = values.dropna().unique()
    count = len(distinct)
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    classes = tuple(sorted(label_texts(pd.Series(distinct)).unique()))
    shown = ", ".join(classes[:8]) + (", …" if count > 8 else "")
    if configured == "regression":
        return TaskDecision("regression", (), "task 'regression' set in target.task")
    if configured == "binary" and count > 2:
        raise ValueError(
            f"column '{column}': target.task is 'binary' but the target holds {count} distinct "
            f"values ({shown}); set target.task to 'multiclass'"
        )
    if configured is not None and count >= 2:
        return TaskDecision(configured, classes, f"task '{configured}' set in target.task")
    if count < 2:
        raise ValueError(
            f"column '{column}': the target holds {count} distinct value(s) ({shown}); "
            "a model needs at least two"
        )
    if count == 2:
        why = f"inferred task 'binary': column '{column}' holds two distinct values ({shown})"
        return TaskDecision("binary", classes, why)
    if numeric and (count > MAX_CLASS_VALUES or not _integral(values.dropna())):
        kind = "non-integral" if not _integral(values.dropna()) else f"{count} distinct"
        why = f"inferred task 'regression': column '{column}' holds {kind} numeric values"
        return TaskDecision("regression", (), why)
    if not numeric and count <= MAX_TEXT_CLASSES:
        why = f"inferred task 'multiclass': column '{column}' holds {count} text classes ({shown})"
        return TaskDecision("multiclass", classes, why)
    what = "integral numeric" if numeric else "text"
    raise ValueError(
        f"column '{column}': the target holds {count} distinct {what} values ({shown}); "
        "they could be classes or a quantity: set target.task to 'multiclass' or 'regression'"
    )


def target_values(values: pd.Series, task: TaskKind, positive_label: object) -> pd.Series:
    """What the estimator learns from the target column for `task`."""
    if task == "binary":
        return positive_mask(values, positive_label)
    if task == "multiclass":
        return label_texts(values)
    return values.astype("float64")
