"""Encoding that fits the estimator: column kinds, bin limits, sparse one-hot, text, cross-fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

from driftline.core.config import Encoding
from driftline.core.encoding import (
    MAX_BINS,
    ColumnKinds,
    TextScore,
    column_kinds,
    native_categories,
    preprocessor,
)

WORDS = np.array(
    [
        "late",
        "refund",
        "broken",
        "great",
        "slow",
        "friendly",
        "rude",
        "quick",
        "parcel",
        "missing",
        "box",
    ]
)


def table(n: int = 1200, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Numeric, 8-level, 600-level and free-text columns with missing values; a binary label
    that depends on a numeric column, two levels and a word of the text."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "plan": [f"plan-{i}" for i in rng.integers(0, 8, n)],
            "city": [f"city-{i}" for i in rng.integers(0, 600, n)],
            "review": [" ".join(rng.choice(WORDS, 6)) + f" order {i}" for i in range(n)],
        }
    )
    score = df.amount + df.plan.isin(["plan-1", "plan-2"]) + 2 * df.review.str.contains("rude")
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(1 - score))).astype(int), name="label")
    for col in df.columns:
        df.loc[rng.random(n) < 0.05, col] = np.nan
    return df.astype({c: "str" for c in ("plan", "city", "review")}), y


NUMERIC, CATEGORICAL = ("amount",), ("plan", "city", "review")


def test_columns_are_told_apart_by_their_values() -> None:
    df, _ = table()
    kinds = column_kinds(df, NUMERIC, CATEGORICAL, Encoding())
    assert kinds == ColumnKinds(("amount",), ("plan",), ("city",), ("review",))
    # A configured text column is text whatever it holds; a higher limit keeps 600 levels.
    configured = Encoding(text=["plan"], high_cardinality_levels=1000)
    again = column_kinds(df, NUMERIC, CATEGORICAL, configured)
    assert again.text == ("plan", "review") and again.categorical == ("city",)


def test_boosting_gets_native_categories_within_its_bin_limit() -> None:
    df, y = table()
    # 600 levels kept as categorical: rare ones are grouped, so the column fits the 255 bins.
    kinds = column_kinds(df, NUMERIC, CATEGORICAL, Encoding(high_cardinality_levels=1000))
    prepare = preprocessor("ordinal", kinds, Encoding(min_frequency=1), seed=0)
    model = HistGradientBoostingClassifier(categorical_features=native_categories(kinds))
    pipeline = make_pipeline(prepare, model).fit(df, y)
    out = prepare.transform(df)
    assert out[:, 1].max() < MAX_BINS  # city's codes
    assert model.is_categorical_[:2].all()  # plan and city, first
    assert not model.is_categorical_[2:].any()  # amount, then the text score
    # Text is one score column, not one column per value.
    assert out.shape[1] == 4
    assert 0 <= pipeline.predict_proba(df.head(1))[0, 1] <= 1


def test_linear_models_get_sparse_bounded_one_hot() -> None:
    df, y = table()
    kinds = column_kinds(df, NUMERIC, CATEGORICAL, Encoding())
    prepare = preprocessor("sparse", kinds, Encoding(max_one_hot_levels=5), seed=0)
    out = prepare.fit_transform(df, y)
    assert sp.issparse(out)
    onehot = prepare.named_transformers_["onehot"][-1]
    assert len(onehot.get_feature_names_out()) <= 5  # 8 plan levels and missing, grouped
    make_pipeline(prepare, LogisticRegression(max_iter=500)).fit(df, y)


def test_target_encoding_and_text_score_are_cross_fitted() -> None:
    df, y = table(n=1500)
    # An id column: each value once. In-sample target means would equal the label itself;
    # cross-fitted, they carry nothing about a row's own label.
    ids = pd.DataFrame({"id": [f"row-{i}" for i in range(len(df))]})
    kinds = ColumnKinds((), (), ("id",), ())
    encoded = preprocessor("ordinal", kinds, Encoding(), seed=0).fit_transform(ids, y)
    assert roc_auc_score(y, encoded[:, 0]) < 0.6
    # The text score is out-of-fold when fitted, yet it carries the signal on new rows.
    fresh, y_fresh = table(n=600, seed=1)
    score = TextScore(random_state=0)
    fitted = score.fit_transform(df[["review"]], y)
    assert not np.allclose(fitted, score.transform(df[["review"]]))
    assert roc_auc_score(y_fresh, score.transform(fresh[["review"]])[:, 0]) > 0.6


def test_unknown_levels_and_missing_values_are_encoded() -> None:
    df, y = table()
    kinds = column_kinds(df, NUMERIC, CATEGORICAL, Encoding())
    new = pd.DataFrame(
        {"amount": [np.nan], "plan": ["never-seen"], "city": [np.nan], "review": ["unseen words"]}
    ).astype({c: "str" for c in CATEGORICAL})
    for family in ("ordinal", "sparse"):
        prepare = preprocessor(family, kinds, Encoding(), seed=0).fit(df, y)
        assert prepare.transform(new).shape[0] == 1


@pytest.mark.parametrize("family", ["ordinal", "sparse"])
def test_encoders_take_multiclass_and_continuous_targets(family: str) -> None:
    wine = load_wine(as_frame=True)
    X = wine.data.iloc[:, :4].copy()
    X["grade"] = [f"g{int(v)}" for v in wine.data["alcohol"] * 3]  # ~15 levels
    X["note"] = [f"tasting note {i % 40} with body {int(v)}" for i, v in enumerate(X.iloc[:, 0])]
    numeric = tuple(wine.data.columns[:4])
    enc = Encoding(high_cardinality_levels=10, text_min_levels=20)
    kinds = column_kinds(X, numeric, ("grade", "note"), enc)
    assert kinds.high_cardinality == ("grade",) and kinds.text == ("note",)
    classes = preprocessor(family, kinds, enc, seed=0).fit_transform(X, wine.target)
    # Three classes: three target-encoded columns for "grade" (and three text scores).
    width = 4 + 3 + (3 if family == "ordinal" else 0)
    assert classes.shape[1] >= width
    continuous = wine.data["proline"]
    model = (
        HistGradientBoostingRegressor(categorical_features=native_categories(kinds))
        if family == "ordinal"
        else Ridge()
    )
    make_pipeline(preprocessor(family, kinds, enc, seed=0, target_type="continuous"), model).fit(
        X, continuous
    )
