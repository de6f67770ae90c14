"""The single-feature leak check: a feature that alone predicts the target almost perfectly
is usually a leak (a column written after the outcome, a copy of the target).

Each feature on its own, ordinal-encoded, fits a small decision tree, scored out of fold on
the training split: ROC AUC (binary; one-vs-rest macro for multiclass) or R² (regression).
scikit-learn does the work; what is written here is only which score counts as "alone
almost perfect".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.preprocessing import OrdinalEncoder
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from driftline.core.contracts import Schema

LEAK_SCORE = 0.98
MAX_ROWS = 5000
LEAVES = 32


def _column(train: pd.DataFrame, name: str, schema: Schema) -> np.ndarray:
    if name in schema.numeric:
        values = train[name].astype("float64")
        return values.fillna(values.median() if values.notna().any() else 0.0).to_numpy()[:, None]
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    return encoder.fit_transform(train[[name]].astype(str))


def leak_warnings(train: pd.DataFrame, y: pd.Series, schema: Schema, seed: int) -> list[str]:
    """One warning per feature whose out-of-fold score alone reaches LEAK_SCORE."""
    if len(train) > MAX_ROWS:
        train = train.sample(n=MAX_ROWS, random_state=seed)
        y = y.loc[train.index]
    regression = schema.task == "regression"
    if not regression and y.value_counts().min() < 2:
        return []
    metric = "r2" if regression else "roc_auc" if schema.task == "binary" else "roc_auc_ovr"
    folds = (
        KFold(2, shuffle=True, random_state=seed)
        if regression
        else StratifiedKFold(2, shuffle=True, random_state=seed)
    )
    tree = (
        DecisionTreeRegressor(max_leaf_nodes=LEAVES, random_state=seed)
        if regression
        else DecisionTreeClassifier(max_leaf_nodes=LEAVES, random_state=seed)
    )
    out = []
    for name in schema.features:
        X = _column(train, name, schema)
        score = float(np.mean(cross_val_score(tree, X, y, cv=folds, scoring=metric)))
        if score >= LEAK_SCORE:
            label = "R²" if regression else "ROC AUC"
            out.append(
                f"feature '{name}' alone predicts '{schema.target}' with {label} {score:.3f} "
                f"on the training split (>= {LEAK_SCORE}): it is usually a leak; if it is, "
                "list it in features.exclude"
            )
    return out
