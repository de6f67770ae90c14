"""Quality before labels arrive: the drift check's CBPE estimate tracks the realised metric
on drifted generated data within its band, and its floor raises a performance alert."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from driftline.core.candidates import build_pipeline
from driftline.core.config import FeatureSelection, Monitoring
from driftline.core.contracts import DriftResult
from driftline.core.drift import check_drift
from driftline.core.generator import CATEGORICAL, NUMERIC, SCHEMA, Drift, generate
from driftline.core.lineage import PREDICTION_COLUMN, reference_sample
from driftline.core.render import drift_check

# Covariate drift (CBPE's premise: the features move, their relation to churn does not):
# shorter tenures and mostly month-to-month contracts, where the model ranks worse.
SHORTER_TENURE = Drift(
    scale={"tenure_months": 0.4},
    category_mix={"contract": {"month-to-month": 0.9, "one_year": 0.05, "two_year": 0.05}},
)


@pytest.fixture(scope="module")
def champion() -> tuple[Any, pd.DataFrame]:
    train = generate(3000, seed=1)
    model = build_pipeline("logistic_regression", SCHEMA, FeatureSelection(), 0)
    model.fit(train[SCHEMA.features], train[SCHEMA.target])
    return model, reference_sample(model, generate(2000, seed=2), SCHEMA, 5000, 0)


def checked(champion: tuple[Any, pd.DataFrame], drift: Drift, policy: Monitoring) -> DriftResult:
    model, reference = champion
    current = generate(3000, seed=3, drift=drift)
    current[PREDICTION_COLUMN] = model.predict_proba(current[SCHEMA.features])[:, 1]
    result, _ = check_drift(
        reference,
        current,
        NUMERIC,
        CATEGORICAL,
        policy,
        prediction_column=PREDICTION_COLUMN,
        target_column=SCHEMA.target,
    )
    return result


def test_the_estimate_tracks_the_realised_metric_within_its_band(
    champion: tuple[Any, pd.DataFrame],
) -> None:
    calm = {e.metric: e for e in checked(champion, Drift(), Monitoring()).estimated}
    drifted = checked(champion, SHORTER_TENURE, Monitoring())
    estimated = {e.metric: e for e in drifted.estimated}
    assert "CBPE on 3000 rows" in drifted.estimate_note
    for metric in ("roc_auc", "accuracy", "precision"):
        e = estimated[metric]
        assert e.lower <= drifted.quality[metric] <= e.upper, (metric, e, drifted.quality)
        assert e.level == 0.9 and e.rows == 3000
    # The drift really moved quality, and the estimate moved with it, beyond its band.
    assert calm["roc_auc"].value - estimated["roc_auc"].value > 0.05
    assert estimated["roc_auc"].upper < calm["roc_auc"].lower
    assert "Estimated quality" in drift_check(drifted, "v0001")


def test_an_estimate_below_its_floor_raises_a_performance_alert(
    champion: tuple[Any, pd.DataFrame],
) -> None:
    policy = Monitoring(performance_floor={}, estimated_performance_floor={"roc_auc": 0.8})
    calm = checked(champion, Drift(), policy)
    assert not calm.performance_alert
    drifted = checked(champion, SHORTER_TENURE, policy)
    (alert,) = [a for a in drifted.alerts if a.rule == "estimated_performance_floor"]
    assert "estimated roc_auc" in alert.message and "< 0.8" in alert.message
    assert drifted.performance_alert
