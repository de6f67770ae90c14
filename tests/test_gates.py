"""The blessing gate: value and change thresholds, both directions, and the refusals."""

from __future__ import annotations

import math

import pytest

from driftline.core.config import Bound, Change, Gates
from driftline.core.gates import bless


def value(metric: str, **bound: float) -> Gates:
    return Gates(value={metric: Bound(**bound)})


def change(metric: str, **rule: object) -> Gates:
    return Gates(change={metric: Change(**rule)})


AUC, LOSS, BRIER = "roc_auc", "log_loss", "brier"
NAN = math.nan

# fmt: off
CASES = [
    # gates, candidate, baseline, failed (metric, kind) pairs; blessed = nothing failed
    pytest.param(value(AUC, min=0.75), {AUC: 0.8}, None, [], id="value min passes"),
    pytest.param(value(AUC, min=0.75), {AUC: 0.7}, None, [(AUC, "min")], id="value min fails"),
    pytest.param(value(AUC, min=0.75), {AUC: 0.75}, None, [], id="value at the bound passes"),
    pytest.param(value(BRIER, max=0.2), {BRIER: 0.25}, None, [(BRIER, "max")], id="max fails"),
    pytest.param(value("f1", min=0.3, max=0.9), {"f1": 0.5}, None, [], id="value range passes"),
    pytest.param(change(AUC, max_drop_abs=0.01), {AUC: 0.84}, {AUC: 0.85}, [],
                 id="higher: drop within abs"),
    pytest.param(change(AUC, max_drop_abs=0.01), {AUC: 0.83}, {AUC: 0.85},
                 [(AUC, "max_drop_abs")], id="higher: drop beyond abs"),
    pytest.param(change(AUC, max_drop_abs=0), {AUC: 0.9}, {AUC: 0.85}, [],
                 id="higher: a gain passes a drop limit"),
    pytest.param(change(AUC, max_drop_rel=0.05), {AUC: 0.82}, {AUC: 0.85}, [],
                 id="higher: drop within rel"),
    pytest.param(change(AUC, max_drop_rel=0.05), {AUC: 0.80}, {AUC: 0.85},
                 [(AUC, "max_drop_rel")], id="higher: drop beyond rel"),
    pytest.param(change(AUC, max_drop_abs=0.1, max_drop_rel=0.01), {AUC: 0.8}, {AUC: 0.85},
                 [(AUC, "max_drop_rel")], id="higher: abs passes, rel fails"),
    pytest.param(change(LOSS, direction="lower", max_drop_rel=0.05), {LOSS: 0.52}, {LOSS: 0.5},
                 [], id="lower: increase within rel"),
    pytest.param(change(LOSS, direction="lower", max_drop_rel=0.05), {LOSS: 0.53}, {LOSS: 0.5},
                 [(LOSS, "max_drop_rel")], id="lower: increase beyond rel"),
    pytest.param(change(BRIER, direction="lower", max_drop_abs=0.0), {BRIER: 0.1}, {BRIER: 0.12},
                 [], id="lower: a decrease passes abs"),
    pytest.param(change(BRIER, direction="lower", max_drop_abs=0.01), {BRIER: 0.14},
                 {BRIER: 0.12}, [(BRIER, "max_drop_abs")], id="lower: increase beyond abs"),
    pytest.param(change(AUC, min_gain_abs=0.01), {AUC: 0.87}, {AUC: 0.85}, [],
                 id="higher: min gain met"),
    pytest.param(change(AUC, min_gain_abs=0.01), {AUC: 0.855}, {AUC: 0.85},
                 [(AUC, "min_gain_abs")], id="higher: min gain missed"),
    pytest.param(change(BRIER, direction="lower", min_gain_abs=0.01), {BRIER: 0.1},
                 {BRIER: 0.12}, [], id="lower: min gain met"),
    pytest.param(change(BRIER, direction="lower", min_gain_abs=0.01), {BRIER: 0.115},
                 {BRIER: 0.12}, [(BRIER, "min_gain_abs")], id="lower: min gain missed"),
    pytest.param(value("pr_auc", min=0.3), {AUC: 0.9}, None, [("pr_auc", "min")],
                 id="missing metric fails a value check"),
    pytest.param(value(AUC, min=0.5), {AUC: NAN}, None, [(AUC, "min")],
                 id="NaN metric fails a value check"),
    pytest.param(change("f1", max_drop_abs=0.01), {AUC: 0.9}, {"f1": 0.5},
                 [("f1", "max_drop_abs")], id="missing metric fails a change check"),
    pytest.param(change("f1", max_drop_abs=0.01), {"f1": 0.5}, {AUC: 0.9},
                 [("f1", "max_drop_abs")], id="missing in the baseline fails a change check"),
]
# fmt: on


@pytest.mark.parametrize(("gates", "candidate", "baseline", "failed"), CASES)
def test_checks(
    gates: Gates,
    candidate: dict[str, float],
    baseline: dict[str, float] | None,
    failed: list[tuple[str, str]],
) -> None:
    result = bless(gates, candidate, baseline, "cand", "champ" if baseline else None)
    assert result.blessed is not failed
    assert [(c.metric, c.kind) for c in result.checks if c.status == "failed"] == failed
    assert len(result.reasons) == len(failed)
    for (metric, _), reason in zip(failed, result.reasons, strict=True):
        assert metric in reason


def test_missing_metric_is_named() -> None:
    result = bless(Gates(value={"pr_auc": Bound(min=0.3)}), {"roc_auc": 0.9}, None, "c")
    assert result.reasons == ["metric 'pr_auc' is missing or NaN in the candidate's evaluation"]


def test_no_baseline_skips_change_checks() -> None:
    gates = Gates(
        value={"roc_auc": Bound(min=0.75)},
        change={"roc_auc": Change(max_drop_abs=0.01, max_drop_rel=0.05)},
    )
    result = bless(gates, {"roc_auc": 0.8}, None, "cand")
    assert result.blessed
    statuses = [(c.kind, c.status) for c in result.checks]
    assert statuses == [
        ("min", "passed"),
        ("max_drop_abs", "skipped"),
        ("max_drop_rel", "skipped"),
    ]
    assert not result.checks[1].passed


def test_no_thresholds_refuses() -> None:
    result = bless(Gates(), {"roc_auc": 0.99}, {"roc_auc": 0.5}, "cand", "champ")
    assert not result.blessed
    assert result.reasons == ["no gate thresholds configured; refusing to bless"]


def test_only_change_thresholds_and_no_baseline_refuses() -> None:
    result = bless(
        Gates(change={"roc_auc": Change(max_drop_abs=0.01)}), {"roc_auc": 0.9}, None, "c"
    )
    assert not result.blessed
    assert "refusing to bless" in result.reasons[0]


def test_float_noise_at_the_limit_passes() -> None:
    gates = Gates(change={"roc_auc": Change(max_drop_abs=0.01)})
    assert bless(gates, {"roc_auc": 0.84}, {"roc_auc": 0.85}, "c", "b").blessed


def test_markdown_and_json() -> None:
    gates = Gates(
        value={"roc_auc": Bound(min=0.75)},
        change={"brier": Change(direction="lower", max_drop_abs=0.01)},
    )
    result = bless(gates, {"roc_auc": 0.7, "brier": 0.2}, {"brier": 0.1}, "v3", "v2")
    text = result.to_markdown()
    assert "**not blessed**" in text and "`v2`" in text
    assert "| roc_auc | min | 0.75 | 0.7000 | - | failed |" in text
    assert "| brier | max_drop_abs | 0.01 | 0.2000 | 0.1000 | failed |" in text
    dumped = result.model_dump(mode="json")
    assert dumped["checks"][0]["passed"] is False
