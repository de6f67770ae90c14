"""scikit-learn's bundled real tables as driftline projects: a CSV, a suite and a config.

Tests, benchmarks and the README's per-task examples train on them: `diabetes`
(regression), `wine` and `iris` (multiclass, class names as text), `breast_cancer` (binary).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sklearn import datasets

from driftline.core.config import load_config
from driftline.core.datasets import discover_sources, read_sources
from driftline.storage.expectations import save_suite, suggest_suite

TABLES = {
    "diabetes": datasets.load_diabetes,
    "wine": datasets.load_wine,
    "iris": datasets.load_iris,
    "breast_cancer": datasets.load_breast_cancer,
}
TARGET = "target"
POSITIVE = {"breast_cancer": {"positive_label": "malignant"}}


def table(name: str) -> pd.DataFrame:
    """One bundled table with its target as `target` (class names as text for classifiers,
    so a reader sees 'class_0' rather than 0) and clean column names."""
    bunch = TABLES[name](as_frame=True)
    df = bunch.frame.rename(
        columns=lambda c: str(c).replace(" ", "_").replace("(", "").replace(")", "")
    )
    if name != "diabetes":
        df[TARGET] = [str(bunch.target_names[int(i)]) for i in df[TARGET]]
    return df


def write_table_project(folder: Path, name: str, **overrides: Any) -> Path:
    """`folder/data.csv`, a suggested suite and `folder/driftline.yaml` for table `name`;
    `overrides` replace top-level config keys. Returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    table(name).to_csv(folder / "data.csv", index=False)
    raw: dict[str, Any] = {
        "project": name.replace("_", "-"),
        "data": {"source": "data.csv"},
        "target": {"column": TARGET, **POSITIVE.get(name, {})},
        "expectations": {"suite": name, "directory": "expectations"},
        "state_dir": "state",
        **overrides,
    }
    path = folder / "driftline.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    cfg = load_config(path)
    df, schema = read_sources(cfg, discover_sources(cfg.resolve(cfg.data.source)))
    save_suite(suggest_suite(df, schema, name), cfg.suite_path)
    return path
