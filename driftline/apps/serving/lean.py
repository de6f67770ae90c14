"""A lean copy of a fitted driftline pipeline, for scoring the server's small batches.

On a one-row DataFrame, scikit-learn's ColumnTransformer spends about 3 ms per call selecting
columns and validating DataFrames (feature names, dtypes) in every fitted step, against well
under 1 ms for the same fitted transformers on numpy arrays. `lean(model)` returns a copy in
which the ColumnTransformer is replaced by `Blocks`: the same fitted transformers (copies that
skip the feature-name check), each applied to its columns as one numpy array, outputs stacked
in the same order; every later step and the estimator are the fitted ones. The server serves
it only if it answers exactly like the model on probe rows (`equivalent`), else the model.

Hand-written: scikit-learn has no per-call fast path for small inputs; its validation is the
cost, and the fitted transformers themselves are reused unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV
from sklearn.pipeline import Pipeline

from driftline.core.contracts import TaskKind
from driftline.core.scoring import FeatureSpec, predict, to_frame

WRAPPERS = (FixedThresholdClassifier, TunedThresholdClassifierCV)


class Blocks:
    """A fitted ColumnTransformer's transformers applied to numpy blocks of their columns."""

    def __init__(self, blocks: list[tuple[Any, list[str]]]) -> None:
        self.blocks = blocks

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        parts = [
            trans.transform(np.column_stack([frame[c].to_numpy() for c in cols]))
            for trans, cols in self.blocks
        ]
        # A sparse block (a sparse one-hot) is densified, as the dense ColumnTransformer does.
        return np.hstack([p.toarray() if sparse.issparse(p) else p for p in parts])


class LeanPipeline:
    """`Blocks`, then the pipeline's later fitted steps and its estimator."""

    def __init__(self, blocks: Blocks, steps: list[Any], final: Any) -> None:
        self.blocks = blocks
        self.steps = steps
        self.final = final

    @property
    def classes_(self) -> Any:
        return self.final.classes_

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, *args: Any, **kwargs: Any) -> LeanPipeline:
        raise TypeError("a lean serving copy is never fitted: fit the pipeline it came from")

    def _features(self, frame: pd.DataFrame) -> Any:
        x = self.blocks.transform(frame)
        for step in self.steps:
            x = step.transform(x)
        return x

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.final.predict_proba(self._features(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.final.predict(self._features(frame))


def _without_names(step: Any) -> Any:
    """A copy of a fitted step (or pipeline of steps) that takes arrays without warning."""
    out = copy.deepcopy(step)
    for part in [s for _, s in out.steps] if isinstance(out, Pipeline) else [out]:
        if hasattr(part, "feature_names_in_"):
            del part.feature_names_in_
    return out


def _lean_pipeline(pipe: Any) -> LeanPipeline | None:
    if not isinstance(pipe, Pipeline) or not isinstance(pipe.steps[0][1], ColumnTransformer):
        return None
    prepare: ColumnTransformer = pipe.steps[0][1]
    if getattr(prepare, "sparse_output_", False) or prepare.get_params().get("n_jobs"):
        return None
    blocks: list[tuple[Any, list[str]]] = []
    for _, trans, cols in prepare.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        if isinstance(trans, str) or not (
            isinstance(cols, list) and cols and all(isinstance(c, str) for c in cols)
        ):
            return None  # passthrough, or columns not given by name
        blocks.append((_without_names(trans), list(cols)))
    later = [s for _, s in pipe.steps[1:]]
    if any(hasattr(s, "feature_names_in_") for s in later):
        return None  # a later step expects a DataFrame (set_output): keep sklearn's path
    return LeanPipeline(Blocks(blocks), later[:-1], later[-1])


def lean(model: Any) -> Any | None:
    """The lean copy of `model` (a driftline pipeline, possibly inside its decision-threshold
    wrapper), or None when it is not of that shape."""
    if not isinstance(model, WRAPPERS):
        return _lean_pipeline(model)
    attr = "estimator_" if hasattr(model, "estimator_") else "estimator"
    inner = _lean_pipeline(getattr(model, attr))
    if inner is None:
        return None
    wrapper = copy.copy(model)
    setattr(wrapper, attr, inner)
    return wrapper


def equivalent(model: Any, other: Any, probe: pd.DataFrame, task: TaskKind) -> bool:
    """Whether `other` predicts exactly what `model` does on `probe` (to float rounding)."""
    try:
        a, b = predict(model, probe, task), predict(other, probe, task)
    except Exception:  # the lean copy fails where the model does not: do not use it
        return False
    if a.classes != b.classes or a.values.dtype != b.values.dtype:
        return False
    same = (
        np.allclose(a.values, b.values, rtol=1e-9, atol=1e-12)
        if a.values.dtype.kind == "f"
        else np.array_equal(a.values, b.values)
    )
    if a.proba is None or b.proba is None:
        return same and a.proba is None and b.proba is None
    return same and np.allclose(a.proba, b.proba, rtol=1e-9, atol=1e-12)


def probe_rows(spec: FeatureSpec, reference: pd.DataFrame | None, n: int = 256) -> pd.DataFrame:
    """Rows to compare a lean copy with its model on: up to `n` rows of the version's
    reference sample, and rows of zeros, empty text and missing values."""
    columns: dict[str, list[Any]] = {c: [0.0, None] for c in spec.numeric}
    columns |= {c: ["", None] for c in spec.categorical}
    if reference is not None and set(spec.features) <= set(reference.columns):
        head = reference.head(n)
        for c in spec.features:
            values = head[c].astype(object).where(head[c].notna(), None).tolist()
            columns[c] = columns[c] + values
    return to_frame(columns, spec)
