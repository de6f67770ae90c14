"""Drift check on 1M x 20 (x scale) current vs a 1M-row reference.

driftline's check (seeded sampling to `monitoring.sample_rows`, explicit Wasserstein /
Jensen-Shannon) against the same statistics computed in plain numpy/scipy on every row, and
against Evidently's default DataDriftPreset (on a 100k-row subsample: at 1M it takes ~96 s).
The run fails if driftline flags other columns than the full computation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
from scipy.spatial import distance
from scipy.stats import wasserstein_distance

from benchmarks.harness import Figure, best_of
from driftline.core.config import Monitoring
from driftline.core.drift import check_drift

AREA = "drift"
N_NUMERIC, N_CATEGORICAL = 14, 6
PRESET_ROWS = 100_000
NUMERIC = [f"num_{i:02d}" for i in range(N_NUMERIC)]
CATEGORICAL = [f"cat_{i}" for i in range(N_CATEGORICAL)]
LEVELS = np.array(["a", "b", "c", "d", "e", "f"])


def _frame(n: int, seed: int, drifted: bool) -> pd.DataFrame:
    """Mixed numeric/categorical columns; `drifted` moves 4 numeric and 1 categorical column."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i, col in enumerate(NUMERIC):
        x = rng.gamma(2.0, 10.0, n) if i % 2 else rng.normal(50.0, 12.0, n)
        if drifted and i < 4:
            x = x * 1.3 + 3.0
        data[col] = x.round(2)
    base = np.array([0.3, 0.25, 0.2, 0.12, 0.08, 0.05])
    for i, col in enumerate(CATEGORICAL):
        p = base[::-1] if drifted and i == 0 else base
        data[col] = LEVELS[rng.choice(len(LEVELS), size=n, p=p)]
    return pd.DataFrame(data)


def _full_scipy(ref: pd.DataFrame, cur: pd.DataFrame, policy: Monitoring) -> list[str]:
    """The same statistics as the check, by hand on every row: normed Wasserstein, JS."""
    drifted = []
    for col in NUMERIC:
        r, c = ref[col].to_numpy(), cur[col].to_numpy()
        score = wasserstein_distance(r, c) / max(float(np.std(r)), 0.001)
        if score >= policy.num_threshold:
            drifted.append(col)
    for col in CATEGORICAL:
        rc = ref[col].value_counts(normalize=True)
        cc = cur[col].value_counts(normalize=True)
        keys = rc.index.union(cc.index)
        score = distance.jensenshannon(
            rc.reindex(keys, fill_value=0).to_numpy(), cc.reindex(keys, fill_value=0).to_numpy()
        )
        if score >= policy.cat_threshold:
            drifted.append(col)
    return drifted


def _preset(ref: pd.DataFrame, cur: pd.DataFrame) -> None:
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    Report([DataDriftPreset()]).run(
        current_data=Dataset.from_pandas(cur, data_definition=definition),
        reference_data=Dataset.from_pandas(ref, data_definition=definition),
    )


def figures(scale: float) -> list[Figure]:
    n = max(int(1_000_000 * scale), 2_000)
    ref = _frame(n, seed=1, drifted=False)
    cur = _frame(n, seed=2, drifted=True)
    policy = Monitoring()

    result, _ = check_drift(ref, cur, NUMERIC, CATEGORICAL, policy)
    expected = _full_scipy(ref, cur, policy)
    if result.drifted_columns != expected:
        raise AssertionError(f"sampled check flags {result.drifted_columns}, full: {expected}")
    sampled = result.rows.current_sampled

    ours = best_of(lambda: check_drift(ref, cur, NUMERIC, CATEGORICAL, policy), repeat=2)
    full = best_of(lambda: _full_scipy(ref, cur, policy), repeat=1)
    k = min(n, PRESET_ROWS)
    ref_k, cur_k = ref.sample(n=k, random_state=0), cur.sample(n=k, random_state=1)
    preset = best_of(lambda: _preset(ref_k, cur_k), repeat=1)

    name = f"check {n:,}x20 vs {n:,} (sampled {sampled:,}/side, {len(expected)} flagged)"
    return [
        Figure(
            AREA,
            name,
            ours,
            full,
            "s",
            f"numpy/scipy same stats, all {n:,} rows; same columns flagged",
            target="<= 10 s at 1M",
        ),
        Figure(
            AREA,
            name,
            ours,
            preset,
            "s",
            f"Evidently DataDriftPreset defaults on {k:,}-row subsample",
        ),
    ]
