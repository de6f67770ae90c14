"""Seeded synthetic customer data: the embedded default data of the demo and tests.

Written by hand because no library ships a churn simulator with drift knobs: sklearn's
`make_classification` has no named, typed columns, missing values or category mixes.
One population, three targets (`task`): binary `churned` comes from a logistic model of the
features (a good classifier reaches a ROC AUC of about 0.85); regression
`next_month_spend` from a linear model with noise; multiclass `next_step` (stay, downgrade,
upgrade, churn) from a softmax of four linear scores. The drift knobs move exactly what
they name; `concept` blends each target's model towards a different one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from driftline.core.datasets import Schema

NUMERIC = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "age",
    "data_usage_gb",
    "days_since_last_login",
]
CATEGORICAL = ["contract", "payment_method", "internet_service", "region"]
TARGET = "churned"
TARGETS = {"binary": TARGET, "regression": "next_month_spend", "multiclass": "next_step"}
NEXT_STEPS = ("stay", "downgrade", "upgrade", "churn")
ID = "customer_id"
TIMESTAMP = "snapshot_date"

CATEGORY_MIX: dict[str, dict[str, float]] = {
    "contract": {"month-to-month": 0.5, "one_year": 0.3, "two_year": 0.2},
    "payment_method": {
        "electronic_check": 0.35,
        "mailed_check": 0.2,
        "bank_transfer": 0.25,
        "credit_card": 0.2,
    },
    "internet_service": {"fiber": 0.45, "dsl": 0.35, "none": 0.2},
    "region": {"north": 0.25, "south": 0.25, "east": 0.25, "west": 0.25},
}

SCHEMA = Schema(numeric=tuple(NUMERIC), categorical=tuple(CATEGORICAL), target=TARGET, id_column=ID)

# Share of missing values per column, to exercise imputation and `mostly` expectations.
MISSING = {"total_charges": 0.02, "data_usage_gb": 0.03, "payment_method": 0.01}


@dataclass(frozen=True)
class Drift:
    """What to change about the generated population.

    shift/scale move numeric features (value * scale + shift, applied before labelling, so
    it is covariate drift); category_mix replaces a categorical column's probabilities;
    concept in [0, 1] blends the label model towards a different one (concept drift:
    the features keep their distribution, their relationship to churn changes).
    """

    shift: Mapping[str, float] = field(default_factory=dict)
    scale: Mapping[str, float] = field(default_factory=dict)
    category_mix: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    concept: float = 0.0

    def __post_init__(self) -> None:
        for col in [*self.shift, *self.scale]:
            if col not in NUMERIC:
                raise ValueError(f"drift: '{col}' is not a numeric column; choose from {NUMERIC}")
        for col, mix in self.category_mix.items():
            if col not in CATEGORY_MIX:
                raise ValueError(f"drift: '{col}' is not a categorical column")
            unknown = set(mix) - set(CATEGORY_MIX[col])
            if unknown:
                raise ValueError(f"drift: unknown categories for '{col}': {sorted(unknown)}")
        if not 0.0 <= self.concept <= 1.0:
            raise ValueError("drift: concept must be within [0, 1]")


def _categorical(rng: np.random.Generator, col: str, n: int, drift: Drift) -> np.ndarray:
    mix = dict(CATEGORY_MIX[col])
    mix.update({k: float(v) for k, v in drift.category_mix.get(col, {}).items()})
    names = list(mix)
    p = np.array([mix[k] for k in names], dtype=float)
    return rng.choice(names, size=n, p=p / p.sum())


def _logit(df: pd.DataFrame, concept: float) -> np.ndarray:
    """Churn log-odds. The drifted model reverses the role of contract and charges."""
    month_to_month = (df["contract"] == "month-to-month").to_numpy(float)
    fiber = (df["internet_service"] == "fiber").to_numpy(float)
    echeck = (df["payment_method"] == "electronic_check").to_numpy(float)
    tenure = df["tenure_months"].to_numpy() / 24.0
    charges = (df["monthly_charges"].to_numpy() - 70.0) / 30.0
    calls = df["support_calls"].to_numpy()
    login = df["days_since_last_login"].to_numpy() / 30.0
    base = (
        -2.8
        + 1.9 * month_to_month
        - 1.2 * tenure
        + 0.8 * charges
        + 0.55 * calls
        + 0.9 * fiber
        + 0.6 * echeck
        + 0.8 * login
    )
    drifted = -1.0 - 1.2 * month_to_month + 0.8 * tenure - 0.9 * charges + 1.4 * (1 - fiber)
    return (1.0 - concept) * base + concept * drifted


def _spend(df: pd.DataFrame, concept: float, noise: np.ndarray) -> np.ndarray:
    """Next month's spend; the drifted model makes usage, not the plan, drive it."""
    charges = df["monthly_charges"].to_numpy()
    usage = df["data_usage_gb"].to_numpy()
    fiber = (df["internet_service"] == "fiber").to_numpy(float)
    base = 0.9 * charges + 0.4 * usage + 8.0 * fiber + 2.0 * df["support_calls"].to_numpy()
    drifted = 0.4 * charges + 2.5 * usage - 5.0 * fiber + 20.0
    return ((1.0 - concept) * base + concept * drifted + noise).round(2)


def _next_step(df: pd.DataFrame, concept: float, rng: np.random.Generator) -> np.ndarray:
    """The customer's next step, drawn from a softmax of one linear score per step."""
    churn = _logit(df, concept)
    charges = (df["monthly_charges"].to_numpy() - 70.0) / 30.0
    usage = np.log1p(df["data_usage_gb"].to_numpy()) - 2.5
    two_year = (df["contract"] == "two_year").to_numpy(float)
    scores = np.column_stack(
        [
            np.full(len(df), 1.0) + 0.8 * two_year,
            0.9 * charges - 0.5 * usage - 0.2 + concept * (1.5 * usage - 1.8 * charges),
            1.6 * usage - 0.4 * charges - 0.6,
            churn,
        ]
    )
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    picks = (rng.random(len(df))[:, None] > p.cumsum(axis=1)).sum(axis=1)
    return np.asarray(NEXT_STEPS, dtype=object)[np.minimum(picks, len(NEXT_STEPS) - 1)]


def generate(
    n_rows: int = 10_000,
    seed: int = 0,
    drift: Drift | None = None,
    start_id: int = 0,
    start_date: str = "2026-01-01",
    task: str = "binary",
    days: int = 90,
) -> pd.DataFrame:
    """One seeded population of customers with the `task`'s target (see TARGETS), their
    snapshot dates spread over `days` days from `start_date`; the same arguments give the
    same frame."""
    if task not in TARGETS:
        raise ValueError(f"unknown task '{task}'; one of {list(TARGETS)}")
    if n_rows < 1:
        raise ValueError("n_rows must be at least 1")
    drift = drift or Drift()
    rng = np.random.default_rng(seed)
    n = n_rows
    df = pd.DataFrame(
        {
            ID: [f"C{start_id + i:08d}" for i in range(n)],
            TIMESTAMP: pd.Timestamp(start_date)
            + pd.to_timedelta(np.sort(rng.integers(0, days, n)), unit="D"),
            "tenure_months": rng.gamma(2.0, 14.0, n).clip(0, 120),
            "monthly_charges": rng.normal(70, 25, n).clip(15, 150),
            "support_calls": rng.poisson(1.3, n).astype(float),
            "age": rng.normal(45, 14, n).clip(18, 90),
            "data_usage_gb": rng.lognormal(2.5, 0.7, n),
            "days_since_last_login": rng.exponential(12, n).clip(0, 365),
        }
    )
    for col in CATEGORICAL:
        df[col] = _categorical(rng, col, n, drift)
    for col in NUMERIC:
        if col == "total_charges":
            continue
        df[col] = df[col] * drift.scale.get(col, 1.0) + drift.shift.get(col, 0.0)
    total = df["tenure_months"] * df["monthly_charges"] * rng.normal(1.0, 0.05, n)
    df["total_charges"] = total * drift.scale.get("total_charges", 1.0) + drift.shift.get(
        "total_charges", 0.0
    )
    p = 1.0 / (1.0 + np.exp(-_logit(df, drift.concept)))
    df[TARGET] = (rng.random(n) < p).astype(int)
    # The other targets draw from their own stream: the churn data keeps its bytes.
    other = np.random.default_rng([seed, 1])
    if task == "regression":
        df[TARGETS[task]] = _spend(df, drift.concept, other.normal(0.0, 6.0, n))
    elif task == "multiclass":
        df[TARGETS[task]] = _next_step(df, drift.concept, other)
    for col, share in MISSING.items():
        df.loc[rng.random(n) < share, col] = np.nan if col in NUMERIC else None
    for col in ("tenure_months", "monthly_charges", "total_charges", "age", "data_usage_gb"):
        df[col] = df[col].round(2)
    df["days_since_last_login"] = df["days_since_last_login"].round(1)
    return df[[ID, TIMESTAMP, *NUMERIC, *CATEGORICAL, TARGETS[task]]]


def write_batches(
    folder: str | Path,
    n_rows: int = 10_000,
    n_batches: int = 4,
    seed: int = 0,
    drift: Drift | None = None,
    fmt: str = "csv",
    start_id: int = 0,
    task: str = "binary",
) -> list[Path]:
    """Write `n_batches` CSV/Parquet files that together hold `n_rows` customers, with the
    target of `task` (see TARGETS)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = np.full(n_batches, n_rows // n_batches)
    sizes[: n_rows % n_batches] += 1
    paths, start = [], start_id
    for i, size in enumerate(sizes):
        df = generate(int(size), seed=seed * 1000 + i, drift=drift, start_id=start, task=task)
        start += int(size)
        path = folder / f"batch_{i:03d}.{fmt}"
        if fmt == "csv":
            df.to_csv(path, index=False, date_format="%Y-%m-%d")
        elif fmt == "parquet":
            df.to_parquet(path, index=False)
        else:
            raise ValueError(f"unknown format '{fmt}': use csv or parquet")
        paths.append(path)
    return paths


def seasonal_drift(month: int, strength: float = 1.0) -> Drift:
    """The drift of calendar month `month` (0 = January) in a yearly cycle: charges and data
    usage swing with the season, month-to-month contracts peak in summer, and the churn
    pattern itself moves a little towards the drifted one (concept drift) and back."""
    phase = 2 * np.pi * (month % 12) / 12
    swing = float(np.sin(phase)) * strength
    summer = float((1 - np.cos(phase)) / 2) * strength
    return Drift(
        shift={"monthly_charges": 12.0 * swing, "data_usage_gb": 3.0 * swing},
        category_mix={
            "contract": {
                "month-to-month": 0.5 + 0.15 * summer,
                "one_year": 0.3 - 0.1 * summer,
                "two_year": 0.2 - 0.05 * summer,
            }
        },
        concept=0.15 * summer,
    )


def write_monthly_batches(
    folder: str | Path,
    months: int = 12,
    rows_per_month: int = 1000,
    seed: int = 0,
    start: str = "2026-01",
    strength: float = 1.0,
) -> list[Path]:
    """One CSV per month (`month_YYYY-MM.csv`, so name order is time order) with that
    month's seasonal drift (`seasonal_drift`) and snapshot dates inside the month."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    first = pd.Period(start, freq="M")
    paths = []
    for i in range(months):
        period = first + i
        df = generate(
            rows_per_month,
            seed=seed * 1000 + i,
            drift=seasonal_drift(period.month - 1, strength),
            start_id=i * rows_per_month,
            start_date=str(period.start_time.date()),
            days=period.days_in_month,
        )
        path = folder / f"month_{period}.csv"
        df.to_csv(path, index=False, date_format="%Y-%m-%d")
        paths.append(path)
    return paths
