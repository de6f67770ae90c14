"""The training flow against a bare script, and Prefect's cost per task.

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

import math
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from prefect import flow, task
from prefect.settings import PREFECT_API_URL, temporary_settings
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from benchmarks.harness import Figure, best_of
from driftline.core.candidates import labels, search
from driftline.core.config import ProjectConfig, load_config
from driftline.core.contracts import EvaluationRecord
from driftline.core.datasets import discover_sources, read_sources
from driftline.core.estimators import check_candidates
from driftline.core.evaluation import best_record, evaluate_model
from driftline.core.generator import TARGETS, write_batches
from driftline.core.task_kinds import primary_metric
from driftline.orchestration.prefect_server import prefect_server
from driftline.storage.expectations import save_suite, suggest_suite
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
                *_training_figures(folder, rows),
                *_task_kind_figures(folder, task_rows),
                _task_figure(),
            ]


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
