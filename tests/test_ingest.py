"""Configuration errors, the generator's determinism and drift knobs, and ingestion's bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import DEMO_CONFIG

from driftline.core.config import ConfigError, ProjectConfig, load_config
from driftline.core.datasets import DataError, discover_sources, read_sources
from driftline.core.generator import NUMERIC, Drift, generate, write_batches


def _config_with(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(DEMO_CONFIG.read_text())
    edit(raw)
    path = tmp_path / "driftline.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda raw: raw.pop("target"), "'target'"),
        (lambda raw: raw.update(trainng={}), "'trainng'"),
        (lambda raw: raw["training"].update(cv_folds=1), "'training.cv_folds'"),
        (lambda raw: raw["gates"]["value"].update(roc_auc={}), "'gates.value.roc_auc'"),
        (lambda raw: raw["features"].update(categorical=["age"]), "'features'"),
        (lambda raw: raw.update(project="no spaces"), "'project'"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, edit, key: str) -> None:
    path = _config_with(tmp_path, edit)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert f"key {key}" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [(None, "config file not found"), ("a: [1,", "not valid YAML"), ("- 1\n", "mapping")],
)
def test_unreadable_config_files(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "driftline.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_generator_same_seed_same_bytes(tmp_path: Path) -> None:
    a = write_batches(tmp_path / "a", n_rows=500, n_batches=2, seed=7)
    b = write_batches(tmp_path / "b", n_rows=500, n_batches=2, seed=7)
    c = write_batches(tmp_path / "c", n_rows=500, n_batches=2, seed=8)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes() != c[0].read_bytes()


N = 4000


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    return generate(N, seed=3)


def test_shift_moves_only_its_column(base: pd.DataFrame) -> None:
    drifted = generate(N, seed=3, drift=Drift(shift={"age": 10.0}))
    assert np.allclose(drifted["age"] - base["age"], 10.0, atol=0.011)
    others = [c for c in NUMERIC if c != "age"]
    pd.testing.assert_frame_equal(drifted[others], base[others])


def test_scale_multiplies_its_column(base: pd.DataFrame) -> None:
    drifted = generate(N, seed=3, drift=Drift(scale={"data_usage_gb": 2.0}))
    both = base["data_usage_gb"].notna()
    ratio = drifted.loc[both, "data_usage_gb"] / base.loc[both, "data_usage_gb"].clip(lower=0.5)
    assert ratio.median() == pytest.approx(2.0, rel=0.01)
    pd.testing.assert_series_equal(drifted["age"], base["age"])


def test_category_mix_moves_its_column(base: pd.DataFrame) -> None:
    mix = {"two_year": 0.9, "one_year": 0.05, "month-to-month": 0.05}
    drifted = generate(N, seed=3, drift=Drift(category_mix={"contract": mix}))
    assert (base["contract"] == "two_year").mean() == pytest.approx(0.2, abs=0.03)
    assert (drifted["contract"] == "two_year").mean() == pytest.approx(0.9, abs=0.03)
    pd.testing.assert_series_equal(drifted["region"], base["region"])


def test_concept_changes_the_label_relationship_not_the_features(base: pd.DataFrame) -> None:
    drifted = generate(N, seed=3, drift=Drift(concept=1.0))
    features = [c for c in base.columns if c != "churned"]
    pd.testing.assert_frame_equal(drifted[features], base[features])

    def month_to_month_gap(df: pd.DataFrame) -> float:
        rates = df.groupby(df["contract"] == "month-to-month")["churned"].mean()
        return float(rates[True] - rates[False])

    assert month_to_month_gap(base) > 0.15
    assert month_to_month_gap(drifted) < -0.1


def test_drift_rejects_unknown_columns() -> None:
    with pytest.raises(ValueError, match="not a numeric column"):
        Drift(shift={"contract": 1.0})
    with pytest.raises(ValueError, match="unknown categories"):
        Drift(category_mix={"contract": {"weekly": 1.0}})


def _read(cfg: ProjectConfig, source: Path) -> pd.DataFrame:
    cfg = cfg.with_source(source)
    return read_sources(cfg, discover_sources(cfg.resolve(cfg.data.source)))[0]


def test_clean_batches_are_typed(project: ProjectConfig) -> None:
    df = _read(project, project.resolve(project.data.source))
    assert len(df) == 2000
    assert all(df[c].dtype == "float64" for c in project.features.numeric)
    assert all(pd.api.types.is_string_dtype(df[c]) for c in project.features.categorical)


def _csv_with(project: ProjectConfig, tmp_path: Path, edit) -> Path:
    batch = sorted(project.resolve(project.data.source).glob("*.csv"))[0]
    raw = pd.read_csv(batch, dtype=str, keep_default_na=False)
    path = tmp_path / "bad" / "batch.csv"
    path.parent.mkdir()
    edit(raw).to_csv(path, index=False)
    return path


def _bad_number(raw: pd.DataFrame) -> pd.DataFrame:
    raw.loc[5, "monthly_charges"] = "lots"
    return raw


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p, t: t / "nope.csv", "file not found"),
        (lambda p, t: _write(t / "x.csv", b""), "file is empty"),
        (lambda p, t: _write(t / "x.parquet", b"PAR1 not really parquet"), "cannot be read"),
        (lambda p, t: _csv_with(p, t, lambda raw: raw.head(0)), "header but no rows"),
        (
            lambda p, t: _csv_with(p, t, lambda raw: raw.drop(columns=["age"])),
            "required column 'age' is missing",
        ),
        (
            lambda p, t: _csv_with(p, t, _bad_number),
            "column 'monthly_charges': value 'lots' in data row 6 is not a number",
        ),
    ],
    ids=["missing", "empty", "unreadable", "header-only", "missing-column", "bad-number"],
)
def test_bad_input_is_a_data_error_naming_the_file(
    project: ProjectConfig, tmp_path: Path, make, message: str
) -> None:
    path = make(project, tmp_path)
    with pytest.raises(DataError, match=message) as info:
        _read(project, path)
    assert str(path) in str(info.value)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
