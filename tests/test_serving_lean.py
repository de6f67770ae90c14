"""The lean serving copy of a fitted pipeline answers exactly like it, for every task, on
sklearn's bundled datasets with a categorical column and missing values; anything else is
served by scikit-learn's own path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier

import driftline.apps.serving.holder as holder_module
from driftline.apps.serving.holder import ModelHolder
from driftline.apps.serving.lean import LeanPipeline, equivalent, lean, probe_rows
from driftline.core.candidates import build_pipeline
from driftline.core.config import FeatureSelection
from driftline.core.contracts import Schema
from driftline.core.scoring import FeatureSpec
from driftline.storage.registry import ModelRegistry
from driftline.testing.models import churn_metadata

DATASETS = {"binary": load_breast_cancer, "multiclass": load_iris, "regression": load_diabetes}


def table(task: str) -> tuple[pd.DataFrame, Any, Schema]:
    """A bundled dataset with a few columns, one made categorical, and missing values."""
    data = DATASETS[task](as_frame=True)
    df = data.frame.iloc[:, :4].copy()
    df.columns = [f"x{i}" for i in range(4)]
    df["band"] = pd.cut(df["x0"], 3, labels=["low", "mid", "high"]).astype(object)
    df.loc[df.index[::7], "x1"] = np.nan
    df.loc[df.index[::9], "band"] = None
    target = data.target if task != "multiclass" else data.target.astype(str)
    schema = Schema(numeric=("x0", "x1", "x2", "x3"), categorical=("band",), target="y", task=task)
    return df, target, schema


@pytest.mark.parametrize("task", list(DATASETS))
@pytest.mark.parametrize("select", [False, True])
def test_the_lean_copy_answers_like_the_pipeline(task: str, select: bool) -> None:
    df, target, schema = table(task)
    name = "ridge" if task == "regression" else "logistic_regression"
    selection = FeatureSelection(method="k_best", k=3) if select else FeatureSelection()
    model: Any = build_pipeline(name, schema, selection, 0).fit(df, target)
    if task == "binary":
        model = FixedThresholdClassifier(model, threshold=0.3).fit(df, target)
    copied = lean(model)
    assert copied is not None
    spec = FeatureSpec.of(schema)
    probe = probe_rows(spec, df)
    assert equivalent(model, copied, probe, task)
    assert len(probe) == 2 + min(256, len(df)) and probe["band"].isna().any()


def test_other_models_have_no_lean_copy_and_a_differing_copy_is_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    df, target, schema = table("binary")
    assert lean(LogisticRegression().fit(df[["x0"]], target)) is None
    pipeline = build_pipeline("logistic_regression", schema, FeatureSelection(), 0)
    pipeline.fit(df, target)
    reg = ModelRegistry(tmp_path / "registry")
    mv = reg.register(pipeline, churn_metadata(table_schema=schema), status="blessed")
    holder = ModelHolder(reg)
    loaded = reg.scoring_model(mv.version)
    assert isinstance(holder._lean(loaded).model, LeanPipeline)

    def wrong(model: Any) -> Any:
        copied = lean(model)
        copied.final = LogisticRegression(C=1e-4).fit(copied._features(df), target)
        return copied

    monkeypatch.setattr(holder_module, "lean", wrong)
    assert holder._lean(loaded) is loaded  # sklearn's path serves it
