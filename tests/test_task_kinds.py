"""Task types: inference from the target, config checks per task, custom estimators by import
path, features.exclude and identifier columns, and each task's metrics (bundled sklearn tables)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.ensemble import ExtraTreesClassifier

from driftline.core.candidates import labels, search
from driftline.core.config import load_config
from driftline.core.datasets import discover_sources, read_sources
from driftline.core.evaluation import best_record, evaluate_model
from driftline.core.splitting import split_frame
from driftline.core.targets import decide_task
from driftline.errors import ConfigError, DataError
from driftline.testing.tables import table, write_table_project


def _read(path: Path):
    cfg = load_config(path)
    return cfg, *read_sources(cfg, discover_sources(cfg.resolve(cfg.data.source)))


def _small(cfg, **changes):
    training = cfg.training.model_copy(update={"search_budget": 1, "cv_folds": 2, **changes})
    return cfg.model_copy(update={"training": training})


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["yes", "no", "yes"], "binary"),
        ([0, 1, 1, 0], "binary"),
        (["setosa", "versicolor", "virginica"], "multiclass"),
        (np.linspace(0, 10, 50), "regression"),
        ([1.5, 2.0, 3.0], "regression"),
        (list(range(30)), "regression"),
    ],
)
def test_the_task_is_inferred_and_the_reason_given(values, task) -> None:
    decision = decide_task(pd.Series(values), "y", None)
    assert decision.task == task
    assert f"inferred task '{task}'" in decision.note and "'y'" in decision.note


def test_a_few_integers_are_ambiguous_and_the_error_names_the_key(tmp_path: Path) -> None:
    df = table("wine")
    df["target"] = df["target"].map({"class_0": 0, "class_1": 1, "class_2": 2})
    path = write_table_project(tmp_path / "ok", "wine")  # a valid project, then numeric classes
    df.to_csv(path.parent / "data.csv", index=False)
    with pytest.raises(DataError, match=r"column 'target'.*3 distinct.*set target\.task"):
        _read(path)
    raw = yaml.safe_load(path.read_text())
    raw["target"]["task"] = "multiclass"
    path.write_text(yaml.safe_dump(raw))
    _, _, schema = _read(path)
    assert schema.task == "multiclass" and schema.classes == ("0", "1", "2")


def test_positive_label_belongs_to_binary_targets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="positive_label applies to binary targets only"):
        write_table_project(
            tmp_path,
            "diabetes",
            target={"column": "target", "task": "regression", "positive_label": 1},
        )
    path = write_table_project(tmp_path / "inferred", "diabetes")
    raw = yaml.safe_load(path.read_text())
    raw["target"]["positive_label"] = 1
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(DataError, match=r"target\.positive_label applies to binary.*'regression'"):
        _read(path)


def test_features_exclude_and_identifier_columns(tmp_path: Path) -> None:
    path = write_table_project(tmp_path, "wine", features={"exclude": ["alcohol"]})
    df = pd.read_csv(path.parent / "data.csv")
    df.insert(0, "sample_code", [f"W-{i:04d}" for i in range(len(df))])
    df.to_csv(path.parent / "data.csv", index=False)
    _, _, schema = _read(path)
    assert "alcohol" not in schema.features and "sample_code" not in schema.features
    assert any("sample_code" in n and "identifier" in n for n in schema.notes)
    assert any("features.exclude" in n and "alcohol" in n for n in schema.notes)
    raw = yaml.safe_load(path.read_text())
    raw["features"] = {"exclude": ["no_such_column"]}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(DataError, match=r"features\.exclude.*no_such_column"):
        _read(path)


def _custom(**fields) -> dict:
    return {"name": "mine", "estimator": "sklearn.ensemble.ExtraTreesClassifier", **fields}


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        (
            _custom(estimator="sklearn.ensemble.NoSuchForest"),
            r"\('mine'\)\.estimator: .*NoSuchForest",
        ),
        (_custom(estimator="no_such_package.Model"), r"\('mine'\)\.estimator: cannot import"),
        (
            _custom(estimator="sklearn.linear_model.Ridge"),
            r"\('mine'\)\.estimator: .*not a classifier",
        ),
        (_custom(estimator="sklearn.svm.SVC"), r"no predict_proba.*probability: true"),
        (
            _custom(params={"n_trees": 5}),
            r"\('mine'\)\.params\.n_trees: ExtraTreesClassifier has no parameter",
        ),
        (
            _custom(search={"max_depth": {"normal": [1, 2]}}),
            r"'mine'.*search\.max_depth.*unknown distribution",
        ),
        (
            _custom(search={"max_depth": {"randint": [8, 2]}}),
            r"search\.max_depth.*low 8 must be below",
        ),
        (
            _custom(search={"max_dept": [2, 4]}),
            r"\('mine'\)\.search\.max_dept: .* has no parameter",
        ),
        ("ridge", r"candidates\[0\]: 'ridge' is not a built-in candidate for a multiclass task"),
    ],
)
def test_a_bad_candidate_is_an_error_at_config_load(tmp_path: Path, candidate, message) -> None:
    path = write_table_project(tmp_path, "wine")
    raw = yaml.safe_load(path.read_text())
    raw["target"]["task"] = "multiclass"
    raw["training"] = {"candidates": [candidate]}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_primary_metric_must_be_one_of_the_task(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"primary_metric 'roc_auc' is not a metric of a regression"
    ):
        write_table_project(
            tmp_path,
            "diabetes",
            target={"column": "target", "task": "regression"},
            training={"primary_metric": "roc_auc"},
        )


def test_a_custom_estimator_trains_on_a_multiclass_table(tmp_path: Path) -> None:
    candidate = _custom(params={"n_estimators": 30}, search={"max_depth": {"randint": [2, 8]}})
    path = write_table_project(
        tmp_path,
        "wine",
        training={"candidates": ["logistic_regression", candidate], "slice_columns": ["ash"]},
    )
    cfg, df, schema = _read(path)
    cfg = _small(cfg)
    parts = split_frame(df, cfg, [*schema.features, schema.target], None, schema.task)
    y = labels(parts.train, cfg, schema.task)
    result = search("mine", parts.train, y, schema, cfg.training)
    forest = result.model.named_steps["model"]
    assert isinstance(forest, ExtraTreesClassifier) and forest.n_estimators == 30
    assert 2 <= result.params["max_depth"] < 8 and result.threshold is None
    record = evaluate_model(
        result.model, parts.holdout, schema, cfg, tmp_path / "eval", name="mine"
    )
    assert record.task == "multiclass" and record.classes == ["class_0", "class_1", "class_2"]
    assert {"accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "log_loss"} <= set(
        record.metrics
    )
    assert record.metrics["f1_macro"] > 0.8
    assert set(record.per_class) == set(record.classes)
    assert all({"precision", "recall"} <= set(v) for v in record.per_class.values())
    assert np.array(record.confusion_matrix).sum() == record.rows
    assert {"confusion_matrix", "evaluation"} <= set(record.artifacts)
    assert len(record.slices) == 4 and all(g.f1_macro is not None for g in record.slices)
    assert set(record.slice_gaps["ash"]) == {"accuracy", "f1_macro"}


def test_regression_metrics_plots_and_the_lower_is_better_choice(tmp_path: Path) -> None:
    cfg, df, schema = _read(write_table_project(tmp_path, "diabetes"))
    cfg = _small(cfg, slice_columns=["bmi"])
    parts = split_frame(df, cfg, [*schema.features, schema.target], None, schema.task)
    y = labels(parts.train, cfg, schema.task)
    records = []
    for name in ("ridge", "random_forest"):
        result = search(name, parts.train, y, schema, cfg.training)
        assert result.threshold is None and result.cv_score > 0  # rmse, in its own sign
        records.append(
            evaluate_model(result.model, parts.holdout, schema, cfg, tmp_path / name, name=name)
        )
    for record in records:
        assert set(record.metrics) == {"mae", "rmse", "r2", "mape"}
        assert 0.2 < record.metrics["r2"] < 1 and record.metrics["rmse"] > record.metrics["mae"]
        assert {"predicted_vs_actual", "residuals"} <= set(record.artifacts)
        assert record.confusion_matrix == [] and record.threshold is None
        assert {g.group for g in record.slices} and all(g.rmse for g in record.slices)
        assert set(record.slice_gaps["bmi"]) == {"mae", "rmse"}
    best = best_record(records, "rmse")
    assert best.metrics["rmse"] == min(r.metrics["rmse"] for r in records)


def test_mape_leaves_out_zero_targets() -> None:
    from driftline.core.evaluation import regression_metrics

    metrics = regression_metrics(np.array([0.0, 10.0, 20.0]), np.array([1.0, 11.0, 18.0]))
    assert metrics["mape"] == pytest.approx((0.1 + 0.1) / 2)
    assert "mape" not in regression_metrics(np.zeros(3), np.ones(3))


def test_breast_cancer_binary_keeps_its_threshold(tmp_path: Path) -> None:
    cfg, df, schema = _read(write_table_project(tmp_path, "breast_cancer"))
    cfg = _small(cfg)
    assert schema.task == "binary"
    parts = split_frame(df, cfg, [*schema.features, schema.target], None, schema.task)
    y = labels(parts.train, cfg, schema.task)
    assert y.sum() == (parts.train["target"] == "malignant").sum()
    result = search("logistic_regression", parts.train, y, schema, cfg.training)
    record = evaluate_model(result.model, parts.holdout, schema, cfg, name="lr")
    assert record.threshold == result.threshold and 0 < record.threshold < 1
    assert record.metrics["roc_auc"] > 0.95


def test_a_feature_that_alone_predicts_the_target_is_flagged(tmp_path: Path) -> None:
    from driftline.core.leakage import leak_warnings

    cfg, df, schema = _read(write_table_project(tmp_path / "bc", "breast_cancer"))
    df["diagnosis_code"] = (df["target"] == "malignant").astype(float) * 3 + 1
    schema = schema.model_copy(update={"numeric": (*schema.numeric, "diagnosis_code")})
    warnings = leak_warnings(df[schema.features], labels(df, cfg, "binary"), schema, seed=0)
    assert len(warnings) == 1 and "'diagnosis_code'" in warnings[0] and "ROC AUC" in warnings[0]
    assert "features.exclude" in warnings[0]

    cfg, df, schema = _read(write_table_project(tmp_path / "db", "diabetes"))
    assert leak_warnings(df[schema.features], df["target"], schema, seed=0) == []
    df["target_copy"] = df["target"] * 2 + 1
    schema = schema.model_copy(update={"numeric": (*schema.numeric, "target_copy")})
    [warning] = leak_warnings(df[schema.features], df["target"], schema, seed=0)
    assert "'target_copy'" in warning and "R²" in warning


def test_probabilities_stay_meaningful_and_calibration_is_shown(tmp_path: Path) -> None:
    """No class_weight='balanced': the mean probability tracks the positive rate; the record
    carries the Brier score and a reliability curve; calibration is one setting away."""
    from sklearn.calibration import CalibratedClassifierCV

    cfg, df, schema = _read(write_table_project(tmp_path, "breast_cancer"))
    cfg = _small(cfg)
    parts = split_frame(df, cfg, [*schema.features, schema.target], None, schema.task)
    y = labels(parts.train, cfg, schema.task)
    result = search("logistic_regression", parts.train, y, schema, cfg.training)
    record = evaluate_model(result.model, parts.holdout, schema, cfg, tmp_path / "lr", name="lr")
    c = record.calibration
    assert c is not None and c.brier == pytest.approx(record.metrics["brier"])
    assert abs(c.mean_probability - c.positive_rate) < 0.05
    assert c.curve and all(0 <= p <= 1 and 0 <= o <= 1 for p, o in c.curve)
    assert "reliability_curve" in record.artifacts
    calibrated = search(
        "logistic_regression", parts.train, y, schema, _small(cfg, calibration="sigmoid").training
    )
    assert isinstance(calibrated.model.estimator, CalibratedClassifierCV)
    assert 0 < calibrated.threshold < 1


@pytest.mark.parametrize(
    ("table_name", "candidate", "metric"),
    [
        (
            "wine",
            {
                "name": "lgbm",
                "estimator": "lightgbm.LGBMClassifier",
                "params": {"n_estimators": 30, "verbose": -1, "min_child_samples": 5},
                "search": {
                    "learning_rate": {"loguniform": [0.05, 0.3]},
                    "num_leaves": {"randint": [4, 16]},
                },
            },
            "f1_macro",
        ),
        (
            "diabetes",
            {
                "name": "xgb",
                "estimator": "xgboost.XGBRegressor",
                "params": {"n_estimators": 40, "max_depth": 3},
                "search": {"learning_rate": {"uniform": [0.05, 0.3]}},
            },
            "r2",
        ),
    ],
)
def test_lightgbm_and_xgboost_train_by_import_path(
    tmp_path: Path, table_name, candidate, metric
) -> None:
    """The optional extra `boosting` (pip install -e '.[boosting]'); skipped without it."""
    pytest.importorskip(candidate["estimator"].split(".")[0])
    path = write_table_project(tmp_path, table_name, training={"candidates": [candidate]})
    cfg, df, schema = _read(path)
    cfg = _small(cfg)
    parts = split_frame(df, cfg, [*schema.features, schema.target], None, schema.task)
    y = labels(parts.train, cfg, schema.task)
    result = search(candidate["name"], parts.train, y, schema, cfg.training)
    record = evaluate_model(result.model, parts.holdout, schema, cfg, name=candidate["name"])
    assert type(result.model.named_steps["model"]).__name__ == candidate["estimator"].split(".")[1]
    assert record.metrics[metric] > 0.2


@pytest.mark.parametrize(("name", "task"), [("spend", "regression"), ("next-step", None)])
def test_the_readme_example_configs_load(name: str, task: str | None) -> None:
    cfg = load_config(Path(__file__).resolve().parents[1] / "examples" / f"{name}.yaml")
    assert cfg.target.task == task and cfg.features.exclude == ["snapshot_date"]


def test_the_generator_writes_a_target_per_task_with_drift_knobs() -> None:
    from driftline.core.generator import TARGETS, Drift, generate

    churn = generate(3000, seed=4)
    for kind in ("regression", "multiclass"):
        df = generate(3000, seed=4, task=kind)
        again = generate(3000, seed=4, task=kind)
        pd.testing.assert_frame_equal(df, again)
        assert TARGETS[kind] in df.columns and "churned" not in df.columns
        # The features are the churn population's: one generator, three targets.
        pd.testing.assert_frame_equal(df.iloc[:, :-1], churn.iloc[:, :-1])
        decision = decide_task(df[TARGETS[kind]], TARGETS[kind], None)
        assert decision.task == kind
    spend = generate(3000, seed=4, task="regression")["next_month_spend"]
    drifted = generate(3000, seed=4, task="regression", drift=Drift(concept=1.0))
    assert abs(drifted["next_month_spend"].mean() - spend.mean()) > 3
    steps = generate(3000, seed=4, task="multiclass")["next_step"].value_counts(normalize=True)
    moved = generate(3000, seed=4, task="multiclass", drift=Drift(concept=1.0))
    assert abs(moved["next_step"].value_counts(normalize=True)["churn"] - steps["churn"]) > 0.05


def test_an_estimator_that_cannot_fit_class_names_is_refused_at_config_load(tmp_path: Path) -> None:
    pytest.importorskip("xgboost")
    path = write_table_project(tmp_path, "wine")
    raw = yaml.safe_load(path.read_text())
    raw["target"]["task"] = "multiclass"
    raw["training"] = {"candidates": [{"name": "xgb", "estimator": "xgboost.XGBClassifier"}]}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(
        ConfigError, match=r"\('xgb'\)\.estimator: .*cannot fit the targets of a multiclass"
    ):
        load_config(path)


@pytest.mark.parametrize(
    ("task", "classes", "labels_", "bad"),
    [
        ("regression", (), ["12.5", "abc", "inf"], "data row 2: 'abc' is not a number"),
        (
            "multiclass",
            ("class_0", "class_1", "class_2"),
            ["class_1", "class_7"],
            "'class_7' is not a class",
        ),
    ],
)
def test_feedback_import_refuses_labels_the_task_cannot_take(
    tmp_path: Path, task, classes, labels_, bad
) -> None:
    from driftline.core.contracts import Schema
    from driftline.storage.prediction_log import import_feedback

    schema = Schema(numeric=("x",), categorical=(), target="y", task=task, classes=classes)
    path = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": [f"r{i}" for i in range(len(labels_))], "label": labels_}).to_csv(
        path, index=False
    )
    with pytest.raises(DataError, match=rf"column 'label': .*{bad}.*nothing was imported"):
        import_feedback(tmp_path / "log", path, 1, schema=schema)
    assert not (tmp_path / "log" / "feedback").exists()
