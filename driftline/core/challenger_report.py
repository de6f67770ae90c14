"""The challenger report: labelled shadow or canary traffic of both arms → per-arm quality,
the comparison (`driftline.core.challenger`) and a recommendation.

Pure pandas on the labelled prediction log (the log joined with the fed-back labels). Shadow
traffic is paired: both arms scored the same requests (the challenger's rows are not served);
canary traffic splits requests between the arms. Each arm's rows are those logged by its
version, so rows of an earlier champion never count for the current one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, log_loss, precision_score, recall_score, roc_auc_score

from driftline.core.challenger import Arm, compare, recommend
from driftline.core.config import ChallengerPolicy
from driftline.core.contracts import ChallengerReport
from driftline.core.evaluation import classification_metrics

Score = Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]
ARM_CHAMPION, ARM_CHALLENGER = "champion", "challenger"  # the log's `arm` values

SCORES: dict[str, Score] = {
    "roc_auc": lambda y, _, s: float(roc_auc_score(y, s)),
    "accuracy": lambda y, p, _: float(np.mean(y == p)),
    "f1": lambda y, p, _: float(f1_score(y, p, zero_division=0)),
    "precision": lambda y, p, _: float(precision_score(y, p, zero_division=0)),
    "recall": lambda y, p, _: float(recall_score(y, p, zero_division=0)),
    "log_loss": lambda y, _, s: float(log_loss(y, s, labels=[0, 1])),
}


def _arm(rows: pd.DataFrame) -> Arm:
    return Arm(
        y=rows["y_true"].to_numpy(dtype=int),
        predicted=rows["label"].to_numpy(dtype=int),
        scores=rows["probability"].to_numpy(dtype=float),
    )


def arms_from_log(
    labelled: pd.DataFrame, champion: str, challenger: str
) -> tuple[Arm, Arm, Literal["shadow", "canary"]]:
    """Both arms' labelled rows; shadow (paired on the request) when the challenger's rows
    were not served, canary otherwise."""
    served = labelled["served"].astype(bool)
    ours = labelled[(labelled["arm"] == ARM_CHAMPION) & served]
    ours = ours[ours["model_version"] == champion]
    theirs = labelled[
        (labelled["arm"] == ARM_CHALLENGER) & (labelled["model_version"] == challenger)
    ]
    if len(theirs) and not theirs["served"].astype(bool).any():
        paired = ours.merge(theirs, on="request_id", suffixes=("", "_challenger"))
        mine = paired[["y_true", "label", "probability"]]
        other = paired[["y_true", "label_challenger", "probability_challenger"]].set_axis(
            ["y_true", "label", "probability"], axis=1
        )
        return _arm(mine), _arm(other), "shadow"
    return _arm(ours), _arm(theirs), "canary"


def _quality(arm: Arm) -> dict[str, float]:
    if len(arm.y) == 0 or len(set(arm.y)) < 2:
        return {}
    assert arm.scores is not None
    return classification_metrics(arm.y, arm.scores, arm.predicted)


def challenger_report(
    project: str,
    labelled: pd.DataFrame,
    champion: str,
    challenger: str,
    policy: ChallengerPolicy,
    metric: str,
    seed: int = 0,
) -> ChallengerReport:
    """Per-arm quality, the comparison on `metric` and the recommendation (no action)."""
    if metric not in SCORES:
        raise ValueError(
            f"serving.challenger.metric '{metric}' cannot be compared on live traffic; "
            f"one of {sorted(SCORES)}"
        )
    a, b, mode = arms_from_log(labelled, champion, challenger)
    quality = {ARM_CHAMPION: _quality(a), ARM_CHALLENGER: _quality(b)}
    fewest = min(len(a.y), len(b.y))
    common = {"project": project, "champion": champion, "challenger": challenger, "mode": mode}
    if fewest < policy.min_labels or not quality[ARM_CHAMPION] or not quality[ARM_CHALLENGER]:
        why = (
            f"{len(a.y)} labelled rows of {champion} and {len(b.y)} of {challenger}; "
            f"at least {policy.min_labels} per arm (serving.challenger.min_labels), with both "
            "classes, are needed before comparing"
        )
        return ChallengerReport(
            **common, quality=quality, recommendation="need more data", explanation=why
        )
    comparison = compare(
        metric, a, b, SCORES[metric], paired=mode == "shadow", level=policy.level, seed=seed
    )
    recommendation, explanation = recommend(comparison)
    return ChallengerReport(
        **common,
        quality=quality,
        comparison=comparison,
        recommendation=recommendation,
        explanation=explanation,
    )
