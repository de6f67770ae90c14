"""Time to a champion on hard tables, the training flow against a bare script, and Prefect's
cost per task.

(0) Time to champion: the `training` flow with the default config (no `training:` section) on
(a) a generated 200k x 20 table with categoricals of 10, 300 and 5,000 levels and 5 % missing
values, (b) a generated 10k x 55 table with a free-text column of about 5,000 distinct values
(`benchmarks/tables.py`), (c) the demo data with the demo's `driftline.yaml`. Against it, on the
same train/holdout split the flow made: one bare default HistGradientBoosting fit (ordinal
codes, the whole machine), and FLAML's AutoML given the flow's wall time (the tool a user would
otherwise pick). Each side runs in a fresh process, so its peak memory (max RSS, imports
included) is its own; the seconds are the work, not the imports.
(1) The whole training flow (ingest, validate, split, parallel candidate searches, evaluation,
gate, registry) on 200k x scale rows against a bare script doing the same fits and the same
evaluation on the same rows: the same typed read, the same stratified split, the same
`driftline.core.candidates.search` calls in the same threads with the same core shares, and
`driftline.core.evaluation.evaluate_model` with plots and importance. The flow runs in a fresh
state folder each time, so nothing comes from its cache. The ratio is what the lifecycle
(validation, lineage, registry, orchestration) costs over the least a script could do.
OpenMP is held to one thread in the calling thread for both sides (each search already holds
its own thread to its core share): HistGradientBoosting's predict with two OpenMP threads on a
busy two-core machine took 1.2 to 8.5 s for the same evaluation, which would swamp what is
measured here.
(2) Time to champion of a regression and a multiclass project (the generator's
`next_month_spend` and `next_step` targets, 50k x scale rows, two candidates each): the
training flow against the same bare script on the same data.
(3) N trivial tasks called in a flow against N plain calls, timed inside the flow body, so
the flow run's own start and finish are not spread over the tasks.

Both run against one real Prefect server started once for this module, so its start-up is
not charged to any flow.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from prefect import flow, task
from prefect.settings import PREFECT_API_URL, temporary_settings
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder
from threadpoolctl import threadpool_limits

from benchmarks.harness import Figure, best_of
from benchmarks.tables import LABEL, messy_with_text, wide_categoricals
from driftline.core.candidates import labels, search
from driftline.core.config import ProjectConfig, load_config
from driftline.core.contracts import EvaluationRecord
from driftline.core.datasets import discover_sources, read_sources
from driftline.core.estimators import check_candidates
from driftline.core.evaluation import best_record, evaluate_model
from driftline.core.generator import TARGETS, write_batches
from driftline.core.labels import positive_mask
from driftline.core.task_kinds import primary_metric
from driftline.orchestration.prefect_server import prefect_server
from driftline.storage.expectations import save_suite, suggest_suite
from driftline.storage.registry import ModelRegistry
from flows.training import training
from tasks.train import cores_per_candidate

AREA = "training"
ROOT = Path(__file__).resolve().parents[1]
TRAINING = {
    "candidates": ["logistic_regression", "hist_gradient_boosting"],
    "search_budget": 3,
    "cv_folds": 3,
    "slice_columns": ["contract", "region"],
}
N_TASKS = 200
REPEAT = 2
# The other tasks' projects: the demo's features, the task's target, candidates and gate.
TASK_PROJECTS: dict[str, dict[str, Any]] = {
    "regression": {
        "candidates": ["ridge", "hist_gradient_boosting"],
        "gates": {"value": {"r2": {"min": 0.3}}},
        "metric": "rmse",
    },
    "multiclass": {
        "candidates": ["logistic_regression", "hist_gradient_boosting"],
        "gates": {"value": {"f1_macro": {"min": 0.2}}},
        "metric": "f1_macro",
    },
}
CHAMPION_SECONDS = 60  # the target for (a) and (b) on two cores


def _config(folder: Path, data: Path, name: str, task: str = "binary") -> Path:
    """The demo project on `data`, with the benchmark's training settings and its own state;
    for another `task`, its target, candidates, gate and an expectation suite of the data."""
    raw = yaml.safe_load((ROOT / "driftline.yaml").read_text())
    raw["data"] = {"source": str(data)}
    raw["state_dir"] = f"state-{name}"
    raw["expectations"] = {"suite": "churn", "directory": str(ROOT / "expectations")}
    raw["training"] = TRAINING
    # The bare script draws a stratified random holdout: the flow draws the same one.
    raw["split"] = {"strategy": "random"}
    if task != "binary":
        project = TASK_PROJECTS[task]
        raw["target"] = {"column": TARGETS[task], "task": task}
        raw["training"] = {**TRAINING, "candidates": project["candidates"], "slice_columns": []}
        raw["gates"] = project["gates"]
        raw["expectations"] = {"suite": task, "directory": str(folder / "expectations")}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def bare_script(cfg: ProjectConfig, out_dir: Path) -> EvaluationRecord:
    """The same fits and evaluation as the flow, as plain calls: no Prefect, no checks."""
    df, schema = read_sources(cfg, discover_sources(cfg.resolve(cfg.data.source)))
    train, holdout = train_test_split(
        df,
        test_size=cfg.training.holdout_fraction,
        stratify=labels(df, cfg, schema.task) if schema.task != "regression" else None,
        random_state=cfg.training.seed,
    )
    # In the dataset's row order, as the flow's split keeps them: the folds of the search
    # then hold the same rows, so both sides fit the same models.
    train, holdout = train.sort_index(), holdout.sort_index()
    candidates = check_candidates(cfg.training, schema.task)
    n_jobs = cores_per_candidate(cfg.training.n_jobs, len(candidates))
    y = labels(train, cfg, schema.task)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [
            pool.submit(search, name, train, y, schema, cfg.training, n_jobs) for name in candidates
        ]
        results = [f.result() for f in futures]
    records = [
        evaluate_model(r.model, holdout, schema, cfg, out_dir / r.name, name=r.name)
        for r in results
    ]
    return best_record(records, primary_metric(cfg.training.primary_metric, schema.task))


@task
def _noop(i: int) -> int:
    return i + 1


def _plain_calls(n: int) -> int:
    return sum(_noop.fn(i) for i in range(n))


@flow
def _tasks_flow(n: int) -> float:
    """Seconds `n` sequential task calls take inside a flow run."""
    start = time.perf_counter()
    for i in range(n):
        _noop(i)
    return time.perf_counter() - start


def figures(scale: float) -> list[Figure]:
    rows = max(2000, int(200_000 * scale))
    with tempfile.TemporaryDirectory(prefix="driftline-bench-training-") as tmp:
        folder = Path(tmp)
        with (
            prefect_server(folder / "prefect-server") as api_url,
            temporary_settings({PREFECT_API_URL: api_url}),
            threadpool_limits(limits=1, user_api="openmp"),
        ):
            task_rows = max(2000, int(50_000 * scale))
            return [
                *_champion_figures(folder, api_url, scale),
                *_training_figures(folder, rows),
                *_task_kind_figures(folder, task_rows),
                _task_figure(),
            ]


# (0) Time to champion


def _table_project(folder: Path, name: str, df: pd.DataFrame) -> Path:
    """A project on `df` as a new user writes it: data, target, a suite; no training section."""
    root = folder / name
    (root / "data").mkdir(parents=True)
    (root / "expectations").mkdir()
    df.to_csv(root / "data" / "table.csv", index=False)
    suite = {
        "name": name,
        "expectations": [
            {"type": "expect_column_to_exist", "kwargs": {"column": LABEL}, "meta": {}},
        ],
    }
    (root / "expectations" / f"{name}.json").write_text(json.dumps(suite))
    raw = {
        "project": name,
        "data": {"source": "data/table.csv"},
        "target": {"column": LABEL, "positive_label": 1},
        "expectations": {"suite": name},
        "gates": {"value": {"roc_auc": {"min": 0.5}}},  # no gate at all blesses nothing
    }
    (root / "driftline.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return root / "driftline.yaml"


def _demo_project(folder: Path) -> Path:
    """The demo: `driftline data generate`'s 20,000 rows with the demo's driftline.yaml."""
    write_batches(folder / "demo-data", n_rows=20_000, n_batches=4, seed=0)
    raw = yaml.safe_load((ROOT / "driftline.yaml").read_text())
    raw["data"] = {"source": str(folder / "demo-data")}
    raw["state_dir"] = str(folder / "demo-state")
    raw["expectations"] = {"suite": "churn", "directory": str(ROOT / "expectations")}
    path = folder / "demo.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """`fn(*args)` in a fresh process, with that process's peak memory (MB) added."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(_measured, fn, *args).result()


def _measured(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    out = fn(*args)
    return out | {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _champion(config: str, api_url: str) -> dict[str, Any]:
    """The training flow with the project's config, timed; where its split went."""
    with temporary_settings({PREFECT_API_URL: api_url}):
        start = time.perf_counter()
        outcome = training(config_path=config)
        seconds = time.perf_counter() - start
    cfg = load_config(config)
    meta = ModelRegistry.for_config(cfg).get(outcome.version).metadata
    assert meta.train is not None and meta.holdout is not None
    return {
        "seconds": seconds,
        "roc_auc": outcome.metrics["roc_auc"],
        "candidate": outcome.candidate,
        "search": meta.search.describe() if meta.search else "",
        "train": meta.train.path,
        "holdout": meta.holdout.path,
        "target": cfg.target.column,
        "positive": cfg.target.positive_label,
        "numeric": list(meta.table_schema.numeric),
        "categorical": list(meta.table_schema.categorical),
    }


def _frames(split: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    train, holdout = pd.read_parquet(split["train"]), pd.read_parquet(split["holdout"])
    features = [*split["numeric"], *split["categorical"]]
    return (
        train[features],
        positive_mask(train[split["target"]], split["positive"]),
        holdout[features],
        positive_mask(holdout[split["target"]], split["positive"]),
    )


def _bare_fit(split: dict[str, Any]) -> dict[str, Any]:
    """One default HistGradientBoosting fit on ordinal codes, as a bare script would do it."""
    X, y, X_holdout, y_holdout = _frames(split)
    codes = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
    )
    model = make_pipeline(
        make_column_transformer((codes, split["categorical"]), remainder="passthrough"),
        HistGradientBoostingClassifier(random_state=0),
    )
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "roc_auc": roc_auc_score(y_holdout, model.predict_proba(X_holdout)[:, 1]),
    }


def _flaml_fit(split: dict[str, Any], seconds: float) -> dict[str, Any]:
    """FLAML's AutoML on the same rows, given `seconds`, on both cores."""
    try:
        from flaml import AutoML
    except ImportError as exc:
        raise SystemExit("FLAML is missing: pip install -e '.[bench]' (make bench does)") from exc
    X, y, X_holdout, y_holdout = _frames(split)
    for col in split["categorical"]:
        kinds = pd.CategoricalDtype(X[col].dropna().unique())
        X, X_holdout = X.astype({col: kinds}), X_holdout.astype({col: kinds})
    automl = AutoML()
    start = time.perf_counter()
    automl.fit(
        X,
        y,
        task="classification",
        metric="roc_auc",
        time_budget=max(1, round(seconds)),
        n_jobs=2,
        seed=0,
        verbose=0,
    )
    wall = time.perf_counter() - start
    proba = automl.predict_proba(X_holdout)[:, 1]
    return {
        "seconds": wall,
        "roc_auc": roc_auc_score(y_holdout, proba),
        "model": automl.best_estimator,
    }


def _champion_figures(folder: Path, api_url: str, scale: float) -> list[Figure]:
    tables = {
        "a: 200k x 20, 10/300/5,000 levels": _table_project(
            folder, "wide", wide_categoricals(max(5000, int(200_000 * scale)))
        ),
        "b: 10k x 55, 5,000-value text": _table_project(
            folder, "messy", messy_with_text(max(2000, int(10_000 * scale)))
        ),
        "c: demo churn 20k": _demo_project(folder),
    }
    figures = []
    for name, config in tables.items():
        flow = _in_child(_champion, str(config), api_url)
        bare = _in_child(_bare_fit, flow)
        flaml = _in_child(_flaml_fit, flow, flow["seconds"])
        print(
            f"  {name}: champion {flow['candidate']} in {flow['seconds']:.1f} s "
            f"({flow['search']}), roc_auc {flow['roc_auc']:.4f}, {flow['peak_mb']:.0f} MB; "
            f"bare HGB {bare['seconds']:.1f} s, roc_auc {bare['roc_auc']:.4f}, "
            f"{bare['peak_mb']:.0f} MB; FLAML {flaml['model']} {flaml['seconds']:.0f} s, "
            f"roc_auc {flaml['roc_auc']:.4f}",
            flush=True,
        )
        target = f"<= {CHAMPION_SECONDS} s" if not name.startswith("c") else ""
        figures += [
            Figure(
                AREA,
                f"{name}: time to champion",
                flow["seconds"],
                bare["seconds"],
                "s",
                "one bare default HGB fit",
                target,
            ),
            Figure(
                AREA,
                f"{name}: champion holdout roc_auc",
                flow["roc_auc"],
                bare["roc_auc"],
                "",
                "bare HGB fit's",
                "ratio >= 1",
            ),
            Figure(
                AREA,
                f"{name}: roc_auc vs FLAML at equal time",
                flow["roc_auc"],
                flaml["roc_auc"],
                "",
                f"FLAML AutoML, {flaml['seconds']:.0f} s",
                "ratio >= 1",
            ),
            Figure(
                AREA,
                f"{name}: peak memory",
                flow["peak_mb"],
                bare["peak_mb"],
                "MB",
                "bare fit's process",
            ),
        ]
    return figures


def _training_figures(folder: Path, rows: int) -> list[Figure]:
    warm = folder / "warm-data"
    write_batches(warm, n_rows=2000, n_batches=1, seed=1)
    data = folder / "data"
    write_batches(data, n_rows=rows, n_batches=2, seed=0)
    # Warm-up on small data: imports and first-call costs are paid by neither side below.
    training(config_path=str(_config(folder, warm, "warm")))
    bare_script(load_config(_config(folder, warm, "warm-bare")), folder / "warm-bare-eval")

    runs = iter(range(2 * REPEAT))
    flow_times, bare_times = [], []
    flow_auc = bare_auc = float("nan")
    for _ in range(REPEAT):  # interleaved, so both sides see the same background load
        i = next(runs)
        path = _config(folder, data, f"flow-{i}")  # a fresh state folder: no cached fits
        start = time.perf_counter()
        flow_auc = training(config_path=str(path)).metrics["roc_auc"]
        flow_times.append(time.perf_counter() - start)
        i = next(runs)
        cfg = load_config(_config(folder, data, f"bare-{i}"))
        start = time.perf_counter()
        bare_auc = bare_script(cfg, folder / f"bare-eval-{i}").metrics["roc_auc"]
        bare_times.append(time.perf_counter() - start)
    if flow_auc != bare_auc:
        raise AssertionError(f"flow and script fitted different models: {flow_auc} vs {bare_auc}")
    budget = f"{TRAINING['search_budget']} settings x {TRAINING['cv_folds']} folds"
    return [
        Figure(
            AREA,
            f"training flow, {rows / 1e3:g}k rows, LR+HGB, {budget}",
            min(flow_times),
            min(bare_times),
            "s",
            "bare script: search + evaluate_model",
            "ratio <= 1.10",
        )
    ]


def _task_kind_figures(folder: Path, rows: int) -> list[Figure]:
    """Time to champion per task: the training flow against the bare script, same data."""
    out = []
    for kind, project in TASK_PROJECTS.items():
        data = folder / f"data-{kind}"
        write_batches(data, n_rows=rows, n_batches=2, seed=0, task=kind)
        cfg = load_config(_config(folder, data, f"suite-{kind}", kind))
        df, schema = read_sources(cfg, discover_sources(cfg.resolve(cfg.data.source)))
        save_suite(suggest_suite(df, schema, kind), cfg.suite_path)
        metric = project["metric"]
        flow_times, bare_times = [], []
        flow_value = bare_value = float("nan")
        for i in range(REPEAT):  # interleaved, as above
            path = _config(folder, data, f"flow-{kind}-{i}", kind)
            start = time.perf_counter()
            outcome = training(config_path=str(path))
            flow_times.append(time.perf_counter() - start)
            if outcome.outcome != "promoted":
                raise AssertionError(f"{kind}: no champion: {outcome.blessing_reasons}")
            flow_value = outcome.metrics[metric]
            cfg = load_config(_config(folder, data, f"bare-{kind}-{i}", kind))
            start = time.perf_counter()
            bare_value = bare_script(cfg, folder / f"bare-eval-{kind}-{i}").metrics[metric]
            bare_times.append(time.perf_counter() - start)
        # Same rows in another order (the flow keeps the dataset's): equal up to rounding.
        if not math.isclose(flow_value, bare_value, rel_tol=1e-9):
            raise AssertionError(f"{kind}: flow and script differ: {flow_value} vs {bare_value}")
        names = "+".join(project["candidates"])
        out.append(
            Figure(
                AREA,
                f"time to champion, {kind}, {rows / 1e3:g}k rows, {names}",
                min(flow_times),
                min(bare_times),
                "s",
                "bare script: search + evaluate_model",
                "ratio <= 1.25",
            )
        )
    return out


def _task_figure() -> Figure:
    _tasks_flow(N_TASKS)  # warm-up: the flow and task are registered, clients connected
    in_flow = min(_tasks_flow(N_TASKS) for _ in range(3))
    plain = best_of(lambda: _plain_calls(N_TASKS))
    return Figure(
        AREA,
        f"per-task cost, {N_TASKS} trivial tasks in a flow",
        in_flow / N_TASKS * 1000,
        plain / N_TASKS * 1000,
        "ms",
        "plain call",
        "< 50 ms/task",
    )
