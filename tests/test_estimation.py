"""CBPE: quality estimated from calibrated probabilities tracks the realised quality."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics
from sklearn.linear_model import LogisticRegression

from driftline.core.candidates import build_pipeline
from driftline.core.config import FeatureSelection
from driftline.core.estimation import (
    BINARY_METRICS,
    MULTICLASS_METRICS,
    Calibrator,
    estimate,
)
from driftline.core.generator import SCHEMA, Drift, generate

COVARIATE_SHIFT = Drift(
    shift={"monthly_charges": 25.0, "days_since_last_login": 10.0},
    category_mix={"contract": {"month-to-month": 0.8, "one_year": 0.1, "two_year": 0.1}},
)


@pytest.fixture(scope="module")
def churn_model():
    train, reference = generate(6000, seed=1), generate(3000, seed=2)
    model = build_pipeline("logistic_regression", SCHEMA, FeatureSelection(), 0)
    model.fit(train[SCHEMA.features], train.churned)
    calibrate = Calibrator(
        model.predict_proba(reference[SCHEMA.features]), reference.churned.to_numpy()
    )
    return model, calibrate


@pytest.mark.parametrize("drift", [None, COVARIATE_SHIFT], ids=["same", "covariate-shift"])
def test_binary_estimate_tracks_the_realised_metric(churn_model, drift: Drift | None) -> None:
    model, calibrate = churn_model
    window = generate(4000, seed=7, drift=drift)
    proba = model.predict_proba(window[SCHEMA.features])
    predicted = (proba[:, 1] >= 0.5).astype(int)
    y = window.churned.to_numpy()
    realised = {
        "roc_auc": metrics.roc_auc_score(y, proba[:, 1]),
        "accuracy": metrics.accuracy_score(y, predicted),
    }
    found = {e.metric: e for e in estimate(proba, predicted, BINARY_METRICS, calibrate)}
    assert set(found) == set(BINARY_METRICS)
    for name, value in realised.items():
        est = found[name]
        assert est.lower <= value <= est.upper, (name, est, value)
        assert est.lower < est.value < est.upper and est.rows == 4000 and est.level == 0.9
        assert est.upper - est.lower < 0.05  # a band narrow enough to act on


def test_the_estimate_moves_when_quality_moves(churn_model) -> None:
    """Shifted covariates lower the accuracy this model reaches; the estimate sees it."""
    model, calibrate = churn_model
    accuracy = {}
    for name, drift in (("same", None), ("shifted", COVARIATE_SHIFT)):
        window = generate(4000, seed=8, drift=drift)
        proba = model.predict_proba(window[SCHEMA.features])
        (est,) = estimate(proba, (proba[:, 1] >= 0.5).astype(int), ["accuracy"], calibrate)
        accuracy[name] = est
    assert accuracy["shifted"].upper < accuracy["same"].lower


def test_multiclass_estimate_tracks_the_realised_metric() -> None:
    rng = np.random.default_rng(0)
    weights = np.array([[1.5, -1.0, 0.0], [0.0, 1.2, -1.4]])

    def draw(n: int, centre: float) -> tuple[np.ndarray, np.ndarray]:
        """Rows from a true multinomial model; `centre` moves the rows, never P(y | x)."""
        X = rng.normal(loc=centre, scale=1.2, size=(n, 2))
        logits = X @ weights
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        y = (rng.random((n, 1)) > np.cumsum(p, axis=1)).sum(axis=1)
        return X, y

    X, y = draw(5000, 0.0)
    model = LogisticRegression(max_iter=500).fit(X, y)
    X_ref, y_ref = draw(3000, 0.0)
    calibrate = Calibrator(model.predict_proba(X_ref), y_ref)
    X_cur, y_cur = draw(4000, 0.8)  # covariate shift: other rows, the same relationship
    proba = model.predict_proba(X_cur)
    predicted = proba.argmax(axis=1)
    found = {e.metric: e for e in estimate(proba, predicted, MULTICLASS_METRICS, calibrate)}
    realised = {
        "accuracy": metrics.accuracy_score(y_cur, predicted),
        "macro_f1": metrics.f1_score(y_cur, predicted, average="macro"),
    }
    for name, value in realised.items():
        assert found[name].lower <= value <= found[name].upper, (name, found[name], value)


def test_calibrator_maps_probabilities_onto_observed_rates() -> None:
    rng = np.random.default_rng(1)
    true = rng.random(20_000)
    y = (rng.random(20_000) < true).astype(int)
    squashed = true**3  # a model whose scores rank well but are far too low
    calibrated = Calibrator(squashed, y)(squashed)
    assert calibrated.shape == (20_000, 2)
    assert abs(calibrated[:, 1].mean() - y.mean()) < 0.01
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
