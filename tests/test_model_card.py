"""A truthful model card: the gate outcome and, when forced, who forced it and why; the split
and the holdout's span or files; row counts and class balance; source files; search time."""

from __future__ import annotations

from pathlib import Path

from sklearn.dummy import DummyClassifier

from driftline.core.contracts import Blessing, DatasetRef
from driftline.core.generator import SCHEMA, generate
from driftline.storage.registry import ModelRegistry
from driftline.testing.models import churn_metadata


def ref(rows: int, sources: list[str]) -> DatasetRef:
    return DatasetRef(
        path="x.parquet", fingerprint="f" * 20, rows=rows, columns=[], sources=sources
    )


def test_the_card_of_a_forced_champion_says_who_forced_it_and_why(tmp_path: Path) -> None:
    data = generate(300, seed=1)
    model = DummyClassifier(strategy="prior").fit(data[SCHEMA.features], data[SCHEMA.target])
    rejected = Blessing(
        blessed=False,
        candidate_id="logistic_regression",
        baseline_id=None,
        checks=[],
        reasons=["roc_auc is 0.7000; must be at least 0.8"],
        holdout="out-of-time holdout (the latest batch files): 1,000 rows (training: 7,000)",
    )
    metadata = churn_metadata(
        blessing=rejected,
        metrics={"roc_auc": 0.7, "brier": 0.18, "log_loss": 0.52},
        data=ref(8000, [f"/data/month_2026-0{i}.csv" for i in range(1, 9)]),
        train=ref(7000, []),
        holdout=ref(1000, []),
        split_strategy="latest_batches",
        holdout_files=["/data/month_2026-08.csv"],
        target_balance={"train": {"0": 0.74, "1": 0.26}, "holdout": {"0": 0.7, "1": 0.3}},
        fit_seconds=12.5,
    )
    registry = ModelRegistry(tmp_path / "registry")
    mv = registry.register(model, metadata, status="rejected")
    before = registry.card(mv.version) or ""
    assert "Gate outcome: **rejected**" in before and "forced" not in before
    assert "out-of-time holdout (the latest batch files): 1,000 rows (training: 7,000)" in before
    assert "from month_2026-08.csv" in before
    assert "Source files (8): `month_2026-01.csv`" in before
    assert "`churned` in the train set: `0` 74.0%, `1` 26.0%" in before
    assert "search time 12.5 s" in before

    registry.promote(mv.version, reason="OPS-7: ship before the freeze", force=True, actor="alice")
    after = Path(registry.card_path(mv.version)).read_text()
    assert "Gate outcome: **rejected**" in after
    assert "**forced past the gates** to champion by alice" in after
    assert "OPS-7: ship before the freeze" in after
