"""Encoding that fits the estimator: what each kind of model is given for each kind of column.

Categorical columns are told apart by the training data (`column_kinds`): up to
`high_cardinality_levels` distinct values they are categorical, above it high-cardinality,
and columns of free text (configured, or many distinct values of several words) are text.
Then, per estimator family (`preprocessor`):

- "ordinal" (tree models): categoricals as ordinal codes, first, so HistGradientBoosting can
  declare them categorical (`native_categories`); rare levels grouped, so a column never has
  more codes than the 255 bins the estimator allows; numeric columns as they are (both tree
  models split on missing values themselves); high-cardinality columns target encoded; text as
  one cross-fitted TF-IDF score per column (`TextScore`).
- "sparse" (linear models): numeric imputed and scaled; categoricals one-hot, sparse, rare
  levels grouped and unknown ones counted as rare; high-cardinality columns target encoded and
  scaled; text through TF-IDF. When sparse pays (density below 0.3), the output stays sparse
  all the way into the estimator.
- "dense" (custom estimators, which may take neither sparse input nor missing values): as
  "sparse", but dense, and text as the cross-fitted score.

Nothing is one-hot encoded level by level without a bound. Target encoding and the text score
are cross-fitted on the training rows (scikit-learn's `TargetEncoder` scheme): a row's value
never comes from its own label. Every encoder works for binary, multiclass and continuous
targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
    TargetEncoder,
)
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from driftline.core.config.encoding import Encoding

Family = Literal["ordinal", "sparse", "dense"]
TargetType = Literal["auto", "binary", "multiclass", "continuous"]

# HistGradientBoosting's bin limit: a categorical column may have at most this many codes.
MAX_BINS = 255
# Distinct values read to decide whether a column holds free text.
TEXT_SAMPLE = 2000


@dataclass(frozen=True)
class ColumnKinds:
    """The feature columns by how they are encoded."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...] = ()
    high_cardinality: tuple[str, ...] = ()
    text: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "high-cardinality": self.high_cardinality,
            "text": self.text,
        }
        return "; ".join(f"{k}: {', '.join(v)}" for k, v in parts.items() if v) or "no features"


def column_kinds(
    X: pd.DataFrame, numeric: tuple[str, ...], categorical: tuple[str, ...], encoding: Encoding
) -> ColumnKinds:
    """Tell the categorical columns of `X` apart: categorical, high-cardinality or text."""
    low: list[str] = []
    high: list[str] = []
    text: list[str] = []
    for col in categorical:
        values = X[col].dropna()
        levels = int(values.nunique())
        if col in encoding.text or _looks_like_text(values, levels, encoding):
            text.append(col)
        elif levels > encoding.high_cardinality_levels:
            high.append(col)
        else:
            low.append(col)
    return ColumnKinds(tuple(numeric), tuple(low), tuple(high), tuple(text))


def _looks_like_text(values: pd.Series, levels: int, encoding: Encoding) -> bool:
    if levels < encoding.text_min_levels:
        return False
    distinct = pd.Series(values.unique()[:TEXT_SAMPLE]).astype(str)
    return float(distinct.str.split().str.len().mean()) >= encoding.text_min_words


def preprocessor(
    family: Family,
    kinds: ColumnKinds,
    encoding: Encoding,
    seed: int,
    target_type: TargetType = "auto",
) -> ColumnTransformer:
    """The column encoders an estimator of `family` is given (see the module docstring)."""
    if family == "ordinal":
        codes = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=-1,  # HistGradientBoosting reads a negative code as missing
            min_frequency=encoding.min_frequency,
            max_categories=MAX_BINS,
        )
        parts: list[tuple[str, Any, Any]] = [
            ("codes", _filled(codes), list(kinds.categorical)),
            ("numeric", "passthrough", list(kinds.numeric)),
            ("target", _filled(_target_encoder(target_type)), list(kinds.high_cardinality)),
            *[
                (f"text-{c}", TextScore(random_state=seed, target_type=target_type), [c])
                for c in kinds.text
            ],
        ]
        return ColumnTransformer(_present(parts), sparse_threshold=0.0)
    if family in ("sparse", "dense"):
        sparse = family == "sparse"
        onehot = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            min_frequency=encoding.min_frequency,
            max_categories=encoding.max_one_hot_levels,
            sparse_output=sparse,
        )
        numeric = Pipeline(
            [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        )
        target = Pipeline(
            [*_filled(_target_encoder(target_type)).steps, ("scale", StandardScaler())]
        )
        text: list[tuple[str, Any, Any]] = [
            (f"text-{c}", Pipeline([("text", _as_text()), ("tfidf", tfidf())]), c)
            if sparse
            else (f"text-{c}", TextScore(random_state=seed, target_type=target_type), [c])
            for c in kinds.text
        ]
        parts = [
            ("numeric", numeric, list(kinds.numeric)),
            ("onehot", _filled(onehot), list(kinds.categorical)),
            ("target", target, list(kinds.high_cardinality)),
            *text,
        ]
        # Sparse out when it pays (scikit-learn's rule: overall density below 0.3, e.g. TF-IDF
        # or many one-hot levels), else dense, which small batches score faster.
        return ColumnTransformer(_present(parts), sparse_threshold=0.3 if sparse else 0.0)
    raise ValueError(f"unknown encoding family {family!r}; one of 'ordinal', 'sparse', 'dense'")


def native_categories(kinds: ColumnKinds) -> list[int] | None:
    """Indices of the ordinal codes in an "ordinal" preprocessor's output (they come first),
    for HistGradientBoosting's `categorical_features`; None when there are none."""
    return list(range(len(kinds.categorical))) or None


def tfidf() -> TfidfVectorizer:
    """Words and word pairs seen in at least two rows, damped term counts."""
    return TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, max_features=50_000, sublinear_tf=True, dtype=np.float32
    )


def as_text(X: Any) -> np.ndarray:
    """One column (Series, one-column frame or array) as a 1-D array of str, missing as ''."""
    column = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else X
    if isinstance(column, np.ndarray) and column.ndim == 2:
        column = column[:, 0]
    return pd.Series(column, dtype=object).fillna("").astype(str).to_numpy()


def _as_text() -> FunctionTransformer:
    return FunctionTransformer(as_text, feature_names_out="one-to-one")


def _filled(encoder: Any) -> Pipeline:
    """`encoder` after missing values become the level "missing"."""
    return Pipeline(
        [("impute", SimpleImputer(strategy="constant", fill_value="missing")), ("encode", encoder)]
    )


def _target_encoder(target_type: TargetType) -> TargetEncoder:
    return TargetEncoder(target_type=target_type)


def _present(parts: list[tuple[str, Any, Any]]) -> list[tuple[str, Any, Any]]:
    return [p for p in parts if not isinstance(p[2], list) or p[2]]


class TextScore(TransformerMixin, BaseEstimator):
    """A free-text column as the score of a linear model on its TF-IDF, cross-fitted.

    What `TargetEncoder` does for levels, done for text: `fit_transform` returns each row's
    out-of-fold score (so a tree never sees a score fitted on its own label), `transform` the
    score of the model fitted on all rows. Hand-written because scikit-learn cross-fits target
    statistics but not a model's predictions as a feature. Binary targets give the positive
    class's probability, multiclass one probability per class, continuous a Ridge prediction.
    """

    def __init__(self, cv: int = 5, random_state: int | None = None, target_type: str = "auto"):
        self.cv = cv
        self.random_state = random_state
        self.target_type = target_type

    def fit(self, X: Any, y: Any) -> TextScore:
        self._plan(y)
        self.model_ = clone(self._model()).fit(as_text(X), y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        self._plan(y)
        text = as_text(X)
        folds = (KFold if self.target_type_ == "continuous" else StratifiedKFold)(
            self.cv, shuffle=True, random_state=self.random_state
        )
        model = self._model()
        oof = cross_val_predict(model, text, y, cv=folds, method=self.method_)
        self.model_ = clone(model).fit(text, y)
        return self._columns(oof)

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self._columns(getattr(self.model_, self.method_)(as_text(X)))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "model_")
        name = "text" if input_features is None else str(input_features[0])
        if self.target_type_ == "multiclass":
            return np.array([f"{name}_score_{c}" for c in self.model_.classes_], dtype=object)
        return np.array([f"{name}_score"], dtype=object)

    def _plan(self, y: Any) -> None:
        kind = type_of_target(y) if self.target_type == "auto" else self.target_type
        self.target_type_ = "continuous" if kind.startswith("continuous") else kind
        self.method_ = "predict" if self.target_type_ == "continuous" else "predict_proba"

    def _model(self) -> Pipeline:
        model = Ridge() if self.target_type_ == "continuous" else LogisticRegression(max_iter=1000)
        return Pipeline([("tfidf", tfidf()), ("model", model)])

    def _columns(self, scores: np.ndarray) -> np.ndarray:
        if self.target_type_ == "continuous":
            return scores.reshape(-1, 1)
        return scores[:, 1:] if self.target_type_ == "binary" else scores
