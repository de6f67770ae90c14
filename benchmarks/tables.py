"""Generated hard tables for the training benchmark, shaped like the real ones in issue 16.

`wide_categoricals`: many rows, numeric columns and categoricals of 10, 300 and 5,000 levels,
5 % missing values everywhere. `messy_with_text`: few rows, 55 columns of mixed kinds and a
free-text column of about 5,000 distinct comments. Both have a binary `label` that depends on
interactions, levels and (for the second) words, so a model has something to find.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LABEL = "label"
_WORDS = [
    "order", "parcel", "delivery", "support", "price", "account", "app", "screen", "box",
    "driver", "phone", "call", "week", "store", "card", "plan", "update", "again", "never",
    "today", "very", "quite", "still", "after", "before", "with", "without", "the", "my", "a",
]  # fmt: skip
_BAD = ["broken", "refund", "late", "rude", "cancel", "worst"]
_GOOD = ["great", "love", "quick", "friendly", "perfect", "thanks"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _with_missing(df: pd.DataFrame, share: float, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        out.loc[rng.random(len(out)) < share, col] = np.nan
    return out


def wide_categoricals(rows: int, seed: int = 0) -> pd.DataFrame:
    """`rows` x 20 features: 17 numeric, categoricals of 10, 300 and 5,000 levels; 5 % missing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 17))
    features = pd.DataFrame(x, columns=[f"x{i}" for i in range(17)])
    levels = {"segment": 10, "city": 300, "merchant": 5000}
    logit = 0.8 * x[:, 0] - 0.6 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + np.sin(2 * x[:, 4]) - 1.0
    for name, n in levels.items():
        # Level frequencies fall off like real ones: a few large levels, a long tail.
        weights = 1 / np.arange(1, n + 1) ** 0.7
        codes = rng.choice(n, size=rows, p=weights / weights.sum())
        logit += rng.normal(0, 0.6, n)[codes]
        features[name] = [f"{name}-{c}" for c in codes]
    labels = (rng.random(rows) < _sigmoid(logit)).astype(int)
    return _with_missing(features, 0.05, rng).assign(**{LABEL: labels})


def messy_with_text(rows: int, seed: int = 0, comments: int = 5000) -> pd.DataFrame:
    """`rows` x 55 features: 40 numeric (some skewed, some noise), 14 categoricals of 2 to 60
    levels, and `comment`, free text drawn from about `comments` distinct sentences."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 40))
    x[:, 30:] = np.exp(x[:, 30:])  # skewed amounts
    features = pd.DataFrame(x, columns=[f"n{i}" for i in range(40)])
    logit = 0.5 * x[:, 0] - 0.4 * x[:, 1] + 0.3 * np.log(x[:, 30]) - 0.8
    for i in range(14):
        n = int(rng.integers(2, 61))
        codes = rng.integers(0, n, rows)
        if i < 4:
            logit += rng.normal(0, 0.5, n)[codes]
        features[f"c{i}"] = [f"c{i}-{c}" for c in codes]
    tone = rng.choice([-1, 0, 1], size=comments, p=[0.25, 0.5, 0.25])
    sentences = []
    for t in tone:
        words = list(rng.choice(_WORDS, int(rng.integers(5, 12))))
        if t:
            words.insert(
                int(rng.integers(0, len(words))), str(rng.choice(_BAD if t < 0 else _GOOD))
            )
        sentences.append(" ".join(words))
    picked = rng.integers(0, comments, rows)
    features["comment"] = np.array(sentences, dtype=object)[picked]
    logit -= 1.5 * tone[picked]
    labels = (rng.random(rows) < _sigmoid(logit)).astype(int)
    return _with_missing(features, 0.03, rng).assign(**{LABEL: labels})
