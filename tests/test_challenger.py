"""Challenger verdicts: the right test per metric and traffic, significance, labels needed."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from driftline.core.challenger import Arm, compare, recommend


def accuracy(y, predicted, scores):
    return accuracy_score(y, predicted)


def auc(y, predicted, scores):
    return roc_auc_score(y, scores)


def mae(y, predicted, scores):
    return float(np.mean(np.abs(y - predicted)))


def classifier_arm(rng: np.random.Generator, n: int, skill: float) -> Arm:
    """Labels and a model whose scores separate the classes by `skill`."""
    y = rng.integers(0, 2, n)
    scores = 1 / (1 + np.exp(-(skill * (2 * y - 1) + rng.normal(size=n))))
    return Arm(y=y, predicted=(scores >= 0.5).astype(int), scores=scores)


def test_canary_accuracy_uses_two_proportions_and_promotes_a_clear_winner() -> None:
    rng = np.random.default_rng(0)
    champion, challenger = classifier_arm(rng, 3000, 0.6), classifier_arm(rng, 3000, 1.2)
    result = compare("accuracy", champion, challenger, accuracy, paired=False)
    assert result.test == "two-proportion z-test" and result.verdict == "better"
    assert result.ci_low > 0 and result.p_value < 0.001 and result.labels_needed is None
    assert result.labelled == {"champion": 3000, "challenger": 3000}
    assert recommend(result)[0] == "promote"


def test_too_few_labels_asks_for_more_and_says_how_many() -> None:
    rng = np.random.default_rng(1)
    champion, challenger = classifier_arm(rng, 60, 0.6), classifier_arm(rng, 60, 0.8)
    result = compare("accuracy", champion, challenger, accuracy, paired=False)
    action, why = recommend(result)
    assert result.verdict == "undecided" and action == "need more data"
    assert result.labels_needed and result.labels_needed > 60 and str(result.labels_needed) in why
    assert result.ci_low < 0 < result.ci_high


def test_shadow_auc_is_a_paired_bootstrap_and_keeps_a_worse_challenger() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 2000)
    good = 1 / (1 + np.exp(-(1.2 * (2 * y - 1) + rng.normal(size=2000))))
    bad = 1 / (1 + np.exp(-(0.4 * (2 * y - 1) + rng.normal(size=2000))))
    champion = Arm(y=y, predicted=(good >= 0.5).astype(int), scores=good)
    challenger = Arm(y=y, predicted=(bad >= 0.5).astype(int), scores=bad)
    result = compare("roc_auc", champion, challenger, auc, paired=True)
    assert result.test.startswith("paired bootstrap") and result.verdict == "worse"
    assert result.ci_high < 0 and recommend(result)[0] == "keep"


def test_shadow_accuracy_tests_the_discordant_pairs() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 1500)
    champion = Arm(y=y, predicted=np.where(rng.random(1500) < 0.75, y, 1 - y))
    challenger = Arm(y=y, predicted=np.where(rng.random(1500) < 0.85, y, 1 - y))
    result = compare("accuracy", champion, challenger, accuracy, paired=True)
    assert "McNemar" in result.test and result.verdict == "better"


def test_lower_is_better_metrics_read_the_sign_the_right_way() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=2000) * 10
    champion = Arm(y=y, predicted=y + rng.normal(scale=3.0, size=2000))
    challenger = Arm(y=y, predicted=y + rng.normal(scale=2.0, size=2000))
    result = compare("mae", champion, challenger, mae, paired=True)
    assert result.difference < 0 and result.verdict == "better"
    assert result.test == "paired t-test on absolute errors"
    unpaired = compare("mae", champion, challenger, mae, paired=False)
    assert unpaired.test == "Welch's t-test on absolute errors" and unpaired.verdict == "better"

    def loss(y_true, predicted, scores):
        return log_loss(y_true, scores, labels=[0, 1])

    arms = classifier_arm(rng, 1500, 1.5), classifier_arm(rng, 1500, 0.3)
    worse = compare("log_loss", *arms, loss, paired=False)
    assert worse.difference > 0 and worse.verdict == "worse"


def test_shadow_needs_the_same_requests() -> None:
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="same requests"):
        compare(
            "accuracy",
            classifier_arm(rng, 10, 1),
            classifier_arm(rng, 11, 1),
            accuracy,
            paired=True,
        )
