"""The one label normaliser: 1, 1.0, "1" and numpy's 1 are the same label, as a person means.

Labels arrive typed by whoever wrote them (an int column, a float column after a missing
value, JSON numbers or strings in feedback); comparing them as text is only right once every
spelling of a number is the same text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def label_text(value: object) -> str:
    """One label as text: integral floats lose their ".0", numpy scalars become Python ones."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def label_texts(values: pd.Series) -> pd.Series:
    """`label_text` of every value of a column (vectorised for the common dtypes)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
        return values.astype(str)
    if pd.api.types.is_float_dtype(values):
        as_float = values.astype("float64")
        integral = np.isfinite(as_float) & (as_float == np.floor(as_float))
        text = as_float.astype(str)
        text[integral] = as_float[integral].astype("int64").astype(str)
        return text
    return values.map(label_text)


def positive_mask(values: pd.Series, positive_label: object) -> pd.Series:
    """1 where a label is the positive label (compared as normalised text), else 0."""
    return (label_texts(values) == label_text(positive_label)).astype(int)


def _spellings(text: str) -> set[str]:
    """What a label written as `text` may mean: itself, its number, or its truth value."""
    out = {text, text.strip()}
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        out |= {"True", "1"} if lowered == "true" else {"False", "0"}
    try:
        number = float(text)
    except ValueError:
        return out
    if number.is_integer():
        out.add(str(int(number)))
        out |= {"True"} if number == 1 else {"False"} if number == 0 else set()
    return out


def canonical_label(value: object, classes: list[object]) -> str | None:
    """The class a fed-back label means, as `label_text` of that class; None when it means
    none of them. 1, 1.0, "1", true and "True" mean the class 1 (or True); "yes" means "Yes"
    only when no class differs from it by case alone."""
    texts = [label_text(c) for c in classes]
    if isinstance(value, bool):
        wanted = {"True", "1"} if value else {"False", "0"}
    else:
        wanted = _spellings(label_text(value))
    found = [t for t in texts if t in wanted]
    if len(found) == 1:
        return found[0]
    if not found and isinstance(value, str):
        folded = [t for t in texts if t.lower() == value.strip().lower()]
        if len(folded) == 1:
            return folded[0]
    return None


def label_problem(value: object, task: str, classes: tuple[str, ...]) -> str | None:
    """Why a fed-back label cannot be a true label for a model of `task`, or None: a
    regression label is a finite number; a class label one of `classes` (when known)."""
    if task == "regression":
        if isinstance(value, bool):
            return f"{value!r} is not a number; a regression model takes a finite number"
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return f"{value!r} is not a number; a regression model takes a finite number"
        return None if np.isfinite(number) else f"{value!r} is not a finite number"
    if classes and canonical_label(value, list(classes)) is None:
        return f"{value!r} is not a class of the model; one of {list(classes)}"
    return None
