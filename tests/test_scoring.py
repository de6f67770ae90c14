"""Batch scoring: chunked scoring, the features part of the suite, and the flow end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_serving import FEATURES, fit_model, metadata

from driftline.core.batch_scoring import score_files
from driftline.core.config import ProjectConfig
from driftline.core.generator import CATEGORICAL, ID, NUMERIC, generate
from driftline.errors import DataError, ScoringFailed
from driftline.storage.expectations import features_suite
from driftline.storage.registry import ModelRegistry


@pytest.fixture
def champion(project: ProjectConfig) -> str:
    reg = ModelRegistry.for_config(project)
    mv = reg.register(fit_model(3), metadata(), status="blessed")
    reg.promote(mv.version, reason="test")
    return mv.version


def test_score_files_in_chunks(project: ProjectConfig, champion: str, tmp_path: Path) -> None:
    model = ModelRegistry.for_config(project).scoring_model(champion)
    df = generate(2500, seed=11)
    df.to_parquet(tmp_path / "a.parquet", index=False)
    df.iloc[:500].to_csv(tmp_path / "b.csv", index=False)
    seen: list[int] = []
    out = tmp_path / "out" / "pred.parquet"
    rows = score_files(
        [tmp_path / "a.parquet", tmp_path / "b.csv"],
        model,
        out,
        chunk_rows=1000,
        passthrough=[ID],
        progress=seen.append,
    )
    assert rows == 3000 and seen == [1000, 2000, 2500, 3000]
    pred = pd.read_parquet(out)
    assert list(pred.columns) == [ID, "probability", "label", "model_version"]
    assert set(pred.model_version) == {champion}
    expected = model.model.predict_proba(df[FEATURES])[:, 1]
    np.testing.assert_allclose(pred.probability[:2500], expected)
    np.testing.assert_allclose(pred.probability[2500:], expected[:500])
    assert pred[ID].tolist() == [*df[ID], *df[ID][:500]]


def test_missing_feature_column_is_named(
    project: ProjectConfig, champion: str, tmp_path: Path
) -> None:
    model = ModelRegistry.for_config(project).scoring_model(champion)
    generate(10).drop(columns=["age"]).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(DataError, match="'age' is missing"):
        score_files([tmp_path / "x.csv"], model, tmp_path / "o.parquet")
    assert not (tmp_path / "o.parquet").exists()


def test_features_suite_and_failed_chunk_writes_nothing(
    project: ProjectConfig, champion: str, tmp_path: Path
) -> None:
    from driftline.storage.expectations import load_suite, run_validation

    suite = features_suite(load_suite(project.suite_path), FEATURES)
    columns = {e.column for e in suite.expectations}
    assert columns == set(NUMERIC) | set(CATEGORICAL)
    model = ModelRegistry.for_config(project).scoring_model(champion)
    bad = generate(300, seed=5)
    bad.loc[250:, "contract"] = "lifetime"
    bad.to_parquet(tmp_path / "bad.parquet", index=False)

    def check(typed: pd.DataFrame, path: Path) -> None:
        report = run_validation(typed[FEATURES], suite)
        if not report.success:
            raise ScoringFailed(f"{path}: {report.summary_line}")

    out = tmp_path / "pred.parquet"
    with pytest.raises(ScoringFailed, match="contract"):
        score_files([tmp_path / "bad.parquet"], model, out, chunk_rows=200, check=check)
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.server
def test_scoring_flow(
    prefect_server: None, project: ProjectConfig, champion: str, tmp_path: Path
) -> None:
    from flows.scoring import batch_scoring

    for i in range(2):
        generate(400, seed=20 + i).to_csv(tmp_path / f"in_{i}.csv", index=False)
    out = tmp_path / "scored.parquet"
    result = batch_scoring(
        input=str(tmp_path / "in_*.csv"),
        output=str(out),
        config_path=str(project.base_dir / "driftline.yaml"),
        chunk_rows=300,
    )
    assert result.rows == 800 and result.model_version == champion and result.validated
    pred = pd.read_parquet(out)
    assert len(pred) == 800 and set(pred.model_version) == {champion}
