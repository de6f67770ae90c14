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
