"""Is the challenger really better? Per-arm quality on labelled traffic, the difference with a
confidence interval, a test suited to the metric, the labels still needed, and a verdict.

Canary traffic splits requests between the arms (independent samples); shadow traffic has
both arms score the same requests (paired samples, a far more sensitive comparison):

- accuracy (error rates): a two-proportion z-test on canary traffic; on shadow traffic the
  paired difference of correct answers (McNemar's question), with scipy's exact binomial
  test on the discordant pairs;
- mean absolute error: Welch's t-test on the absolute errors (canary), a paired t-test
  (shadow);
- any other metric (ROC AUC, log loss, F1, RMSE, ...): a bootstrap of the difference,
  resampling requests jointly on shadow traffic (the paired bootstrap).

Hand-written on scipy and scikit-learn because no library here compares two models' live
traffic; the statistics are the textbook ones named above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from driftline.core.contracts import ArmComparison, Recommendation, Verdict
from driftline.core.task_kinds import LOWER_IS_BETTER

BOOTSTRAP_ROUNDS = 400
POWER = 0.8


@dataclass(frozen=True)
class Arm:
    """One arm's labelled answers: true values, and what the model said (labels and scores)."""

    y: np.ndarray
    predicted: np.ndarray
    scores: np.ndarray | None = None  # positive-class probability, or None


def compare(
    metric: str,
    champion: Arm,
    challenger: Arm,
    score: Callable[[np.ndarray, np.ndarray, np.ndarray | None], float],
    *,
    paired: bool,
    level: float = 0.95,
    seed: int = 0,
) -> ArmComparison:
    """Compare the arms on `metric`; `score(y, predicted, scores)` computes it for one arm."""
    if paired and len(champion.y) != len(challenger.y):
        raise ValueError("paired (shadow) comparison needs both arms on the same requests")
    values = (
        score(champion.y, champion.predicted, champion.scores),
        score(challenger.y, challenger.predicted, challenger.scores),
    )
    if metric == "accuracy":
        diff, se, p_value, test = _proportions(champion, challenger, paired)
    elif metric == "mae":
        diff, se, p_value, test = _mean_errors(champion, challenger, paired)
    else:
        diff, se, p_value, test = _bootstrap(champion, challenger, score, paired, seed)
    z = stats.norm.ppf(0.5 + level / 2)
    sign = 1.0 if metric not in LOWER_IS_BETTER else -1.0
    significant = p_value < 1 - level
    verdict: Verdict = (
        "undecided" if not significant else ("better" if diff * sign > 0 else "worse")
    )
    return ArmComparison(
        metric=metric,
        champion=float(values[0]),
        challenger=float(values[1]),
        difference=float(diff),
        ci_low=float(diff - z * se),
        ci_high=float(diff + z * se),
        level=level,
        p_value=float(p_value),
        test=test,
        labelled={"champion": len(champion.y), "challenger": len(challenger.y)},
        labels_needed=None if significant else _labels_needed(diff, se, champion, challenger, z),
        verdict=verdict,
    )


def recommend(comparison: ArmComparison) -> tuple[Recommendation, str]:
    """promote a significantly better challenger, keep the champion against a significantly
    worse one, else ask for more labels (saying how many)."""
    c = comparison
    what = (
        f"{c.metric}: challenger {c.challenger:.4f} vs champion {c.champion:.4f}, difference "
        f"{c.difference:+.4f} ({c.level:.0%} CI {c.ci_low:+.4f} to {c.ci_high:+.4f}), "
        f"{c.test} p={c.p_value:.3g}"
    )
    if c.verdict == "better":
        return "promote", f"the challenger is significantly better; {what}"
    if c.verdict == "worse":
        return "keep", f"the challenger is significantly worse; {what}"
    more = f"; about {c.labels_needed} more labels per arm needed" if c.labels_needed else ""
    return "need more data", f"no significant difference yet; {what}{more}"


def _proportions(a: Arm, b: Arm, paired: bool) -> tuple[float, float, float, str]:
    right_a, right_b = a.y == a.predicted, b.y == b.predicted
    diff = right_b.mean() - right_a.mean()
    if paired:
        only_b, only_a = int((right_b & ~right_a).sum()), int((right_a & ~right_b).sum())
        n = len(right_a)
        se = np.sqrt(max((only_a + only_b) / n - diff**2, 1e-12) / n)
        p = stats.binomtest(only_b, only_a + only_b).pvalue if only_a + only_b else 1.0
        return diff, se, p, "paired exact binomial test on discordant answers (McNemar)"
    pa, pb, na, nb = right_a.mean(), right_b.mean(), len(right_a), len(right_b)
    pooled = (right_a.sum() + right_b.sum()) / (na + nb)
    se0 = np.sqrt(max(pooled * (1 - pooled) * (1 / na + 1 / nb), 1e-12))
    se = np.sqrt(max(pa * (1 - pa) / na + pb * (1 - pb) / nb, 1e-12))
    p = 2 * stats.norm.sf(abs(diff) / se0)
    return diff, se, p, "two-proportion z-test"


def _mean_errors(a: Arm, b: Arm, paired: bool) -> tuple[float, float, float, str]:
    err_a, err_b = np.abs(a.y - a.predicted), np.abs(b.y - b.predicted)
    diff = err_b.mean() - err_a.mean()
    if paired:
        d = err_b - err_a
        return (
            diff,
            d.std(ddof=1) / np.sqrt(len(d)),
            stats.ttest_rel(err_b, err_a).pvalue,
            ("paired t-test on absolute errors"),
        )
    se = np.sqrt(err_a.var(ddof=1) / len(err_a) + err_b.var(ddof=1) / len(err_b))
    p = stats.ttest_ind(err_b, err_a, equal_var=False).pvalue
    return diff, se, p, "Welch's t-test on absolute errors"


def _bootstrap(
    a: Arm, b: Arm, score: Callable[..., float], paired: bool, seed: int
) -> tuple[float, float, float, str]:
    rng = np.random.default_rng(seed)
    diff = score(b.y, b.predicted, b.scores) - score(a.y, a.predicted, a.scores)
    diffs = []
    for _ in range(BOOTSTRAP_ROUNDS):
        ia = rng.integers(0, len(a.y), len(a.y))
        ib = ia if paired else rng.integers(0, len(b.y), len(b.y))
        try:
            diffs.append(_score_at(score, b, ib) - _score_at(score, a, ia))
        except ValueError:  # a resample with one class only has no ROC AUC
            continue
    diffs_arr = np.asarray(diffs, dtype=float)
    diffs_arr = diffs_arr[np.isfinite(diffs_arr)]
    se = float(diffs_arr.std(ddof=1)) if len(diffs_arr) > 1 else float("inf")
    if len(diffs_arr) == 0:
        return diff, float("inf"), 1.0, "bootstrap (no usable resample)"
    # Two-sided p-value: how often a resample, shifted to no difference, is as far from zero.
    p = float(np.mean(np.abs(diffs_arr - diffs_arr.mean()) >= abs(diff)))
    kind = "paired bootstrap" if paired else "bootstrap"
    return diff, se, max(p, 1 / (len(diffs_arr) + 1)), f"{kind} ({len(diffs_arr)} resamples)"


def _score_at(score: Callable[..., float], arm: Arm, rows: np.ndarray) -> float:
    scores = arm.scores[rows] if arm.scores is not None else None
    return score(arm.y[rows], arm.predicted[rows], scores)


def _labels_needed(diff: float, se: float, a: Arm, b: Arm, z: float) -> int | None:
    """Labels per arm for the observed difference to be significant with 80 % power."""
    if not np.isfinite(se) or diff == 0:
        return None
    n = min(len(a.y), len(b.y))
    z_power = stats.norm.ppf(POWER)
    needed = n * ((z + z_power) * se / abs(diff)) ** 2
    return max(0, int(np.ceil(needed - n)))
