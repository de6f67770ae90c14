"""The blessing gate: a candidate's metrics against value thresholds and against the champion.

Pure (no Prefect). TFX-style: value thresholds bound a metric on its own; change thresholds
compare it with the baseline (the current champion scored on the same holdout). Nothing is
blessed unless at least one threshold actually ran; a missing or NaN metric fails its check.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from driftline.core.config import Change, DummyGate, Gates, ProjectConfig
from driftline.core.contracts import Blessing, Check, CheckKind, TaskKind
from driftline.core.task_kinds import LOWER_IS_BETTER, direction, primary_metric

# Metrics come from float arithmetic: 0.85 - 0.84 is 0.010000000000000009, which must still
# pass "max_drop_abs: 0.01". Comparisons allow this much slack.
TOLERANCE = 1e-9
# The default gates' tolerance against the champion: at most 1 % worse on the primary metric.
DEFAULT_MAX_DROP_REL = 0.01


def default_gates(metric: str) -> Gates:
    """The gates of a config without a `gates:` section: beat the dummy baseline on the
    primary `metric` by 5 % of its value, and be at most 1 % worse than the champion on it."""
    return Gates(
        dummy=DummyGate(metric=metric),
        change={metric: Change(direction=direction(metric), max_drop_rel=DEFAULT_MAX_DROP_REL)},
    )


def gates_for(cfg: ProjectConfig, task: TaskKind) -> tuple[Gates, str | None]:
    """The gates a project of `task` is judged by, and a line saying so when they are the
    defaults. A dummy gate without a metric judges the primary metric."""
    primary = primary_metric(cfg.training.primary_metric, task)
    if cfg.gates is None:
        note = (
            f"no 'gates:' section in the config, so the default gates apply: {primary} must "
            f"beat the dummy baseline by {DummyGate().min_gain_rel:.0%} of its value "
            f"and be at most {DEFAULT_MAX_DROP_REL:.0%} worse than the champion's; set "
            "'gates:' to choose your own ('gates: {}' blesses nothing)"
        )
        return default_gates(primary), note
    if cfg.gates.dummy is not None and cfg.gates.dummy.metric is None:
        dummy = cfg.gates.dummy.model_copy(update={"metric": primary})
        return cfg.gates.model_copy(update={"dummy": dummy}), None
    return cfg.gates, None


def _usable(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _value_checks(
    metric: str, low: float | None, high: float | None, observed: float | None
) -> Iterator[Check]:
    limits: list[tuple[CheckKind, float | None]] = [("min", low), ("max", high)]
    for kind, limit in limits:
        if limit is None:
            continue
        if not _usable(observed):
            yield Check(
                metric=metric,
                kind=kind,
                threshold=limit,
                observed=observed,
                status="failed",
                message=f"metric '{metric}' is missing or NaN in the candidate's evaluation",
            )
            continue
        ok = observed >= limit - TOLERANCE if kind == "min" else observed <= limit + TOLERANCE
        word = "at least" if kind == "min" else "at most"
        yield Check(
            metric=metric,
            kind=kind,
            threshold=limit,
            observed=observed,
            status="passed" if ok else "failed",
            message=f"{metric} is {observed:.4f}; must be {word} {limit:.4g}",
        )


def _change_limits(rule: Change) -> list[tuple[CheckKind, float]]:
    pairs: list[tuple[CheckKind, float | None]] = [
        ("max_drop_abs", rule.max_drop_abs),
        ("max_drop_rel", rule.max_drop_rel),
        ("min_gain_abs", rule.min_gain_abs),
    ]
    return [(kind, limit) for kind, limit in pairs if limit is not None]


def _change_checks(
    metric: str, rule: Change, observed: float | None, base: float | None
) -> Iterator[Check]:
    for kind, limit in _change_limits(rule):
        common = {"metric": metric, "kind": kind, "threshold": limit, "observed": observed}
        if not _usable(observed) or not _usable(base):
            whose = "candidate's" if not _usable(observed) else "baseline's"
            message = f"metric '{metric}' is missing or NaN in the {whose} evaluation"
            yield Check(**common, baseline=base, status="failed", message=message)
            continue
        # gain > 0 is an improvement in the metric's direction; a drop is -gain.
        better = rule.direction or direction(metric)
        gain = observed - base if better == "higher" else base - observed
        if kind == "max_drop_abs":
            ok = -gain <= limit + TOLERANCE
            message = (
                f"{metric} is {observed:.4f} against the baseline's {base:.4f} "
                f"({better} is better): a drop of {max(-gain, 0.0):.4f}; "
                f"at most {limit:.4g} allowed"
            )
        elif kind == "max_drop_rel":
            rel = -gain / abs(base) if base else (0.0 if gain >= 0 else math.inf)
            ok = rel <= limit + TOLERANCE
            message = (
                f"{metric} is {observed:.4f} against the baseline's {base:.4f} "
                f"({better} is better): a relative drop of {max(rel, 0.0):.2%}; "
                f"at most {limit:.2%} allowed"
            )
        else:
            ok = gain >= limit - TOLERANCE
            message = (
                f"{metric} is {observed:.4f} against the baseline's {base:.4f} "
                f"({better} is better): a gain of {gain:.4f}; at least {limit:.4g} required"
            )
        yield Check(**common, baseline=base, status="passed" if ok else "failed", message=message)


def _dummy_check(rule: DummyGate, observed: float | None, dummy: float | None) -> Check:
    metric = rule.metric or "(primary metric)"
    lower = metric in LOWER_IS_BETTER
    if not _usable(observed) or not _usable(dummy):
        whose = "candidate's" if not _usable(observed) else "dummy baseline's"
        return Check(
            metric=metric,
            kind="beats_dummy",
            threshold=math.nan,
            observed=observed,
            baseline=dummy,
            status="failed",
            message=f"metric '{metric}' is missing or NaN in the {whose} evaluation",
        )
    assert observed is not None and dummy is not None
    margin = max(rule.min_gain_abs, rule.min_gain_rel * abs(dummy))
    required = dummy - margin if lower else dummy + margin
    ok = observed <= required + TOLERANCE if lower else observed >= required - TOLERANCE
    word = "at most" if lower else "at least"
    return Check(
        metric=metric,
        kind="beats_dummy",
        threshold=required,
        observed=observed,
        baseline=dummy,
        status="passed" if ok else "failed",
        message=f"{metric} is {observed:.4f} against the dummy baseline's {dummy:.4f}; "
        f"must be {word} {required:.4f} (a margin of {margin:.4g})",
    )


def bless(
    gates: Gates,
    candidate: dict[str, float],
    baseline: dict[str, float] | None,
    candidate_id: str,
    baseline_id: str | None = None,
    dummy: dict[str, float] | None = None,
) -> Blessing:
    """Apply every configured threshold; bless only if all ran checks pass and at least one ran.

    `dummy` holds the trivial baseline's metrics on the same holdout (the dummy gate's).
    """
    checks: list[Check] = []
    if gates.dummy is not None:
        metric = gates.dummy.metric
        if metric is None:
            raise ValueError("the dummy gate needs its metric (see gates_for)")
        checks.append(_dummy_check(gates.dummy, candidate.get(metric), (dummy or {}).get(metric)))
    for metric, bound in gates.value.items():
        checks += _value_checks(metric, bound.min, bound.max, candidate.get(metric))
    for metric, rule in gates.change.items():
        if baseline is None:
            checks += [
                Check(
                    metric=metric,
                    kind=kind,
                    threshold=limit,
                    observed=candidate.get(metric),
                    status="skipped",
                    message=f"{metric} {kind}: skipped, there is no baseline to compare with",
                )
                for kind, limit in _change_limits(rule)
            ]
        else:
            checks += _change_checks(metric, rule, candidate.get(metric), baseline.get(metric))
    reasons = [c.message for c in checks if c.status == "failed"]
    if not checks:
        reasons = ["no gate thresholds configured; refusing to bless"]
    elif all(c.status == "skipped" for c in checks):
        reasons = [
            "only change thresholds are configured and there is no baseline to compare with; "
            "refusing to bless"
        ]
    return Blessing(
        blessed=not reasons,
        candidate_id=candidate_id,
        baseline_id=baseline_id,
        checks=checks,
        reasons=reasons,
    )
