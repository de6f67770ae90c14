"""`driftline run`: run a flow locally, in a child process the command can stop at once.

Each command runs its flow against the project's Prefect server when one runs
(`driftline server start`, `serve-flows`, the demo), PREFECT_API_URL when set, else a
temporary server it starts and stops (`driftline.orchestration.flow_process`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from driftline.apps.cli.common import ConfigOption, DataOption, project, user_errors
from driftline.core.contracts import (
    DriftResult,
    IngestAndValidateResult,
    RetrainingOutcome,
    ScoreResult,
    TrainingOutcome,
)
from driftline.core.sources import check_sources, check_suite, discover_sources
from driftline.errors import ConfigError
from driftline.orchestration.flow_process import run_flow

app = typer.Typer(
    help="Run a driftline flow locally (Ctrl-C stops it: exit 130; SIGTERM: 143).",
    no_args_is_help=True,
)


@app.command("ingest")
def ingest(config: Path = ConfigOption, data: str = DataOption) -> None:
    """Ingest the project's data and validate it with its expectation suite."""
    with user_errors():
        cfg = project(config, data)
        check_sources(cfg)
        check_suite(cfg)
        result = run_flow(
            cfg.state_path,
            "ingest",
            "flows.ingest:ingest_and_validate",
            {"config_path": str(config), "data": data},
            IngestAndValidateResult,
        )
    v = result.validation
    typer.echo(
        f"\n{cfg.project}: ingested {result.ingested.dataset.rows} rows "
        f"(fingerprint {result.ingested.dataset.fingerprint})\n"
        f"validation: {v.summary_line}\n"
        f"validation result: {v.result_path}\nData Docs: {v.docs_path}"
    )


@app.command("score")
def score(
    input: str = typer.Option(..., "--input", help="File, glob or folder of CSV/Parquet to score."),
    output: Path = typer.Option(None, "--output", help="Parquet file (default: run folder)."),
    config: Path = ConfigOption,
    no_validate: bool = typer.Option(False, "--no-validate", help="Skip the suite's checks."),
    keep: str = typer.Option(
        None, "--keep", help="Input columns to carry into the output, comma-separated: COL,..."
    ),
) -> None:
    """Score a file or glob with the champion into Parquet predictions (with the version):
    the id column, the task's prediction (and per-class probabilities), `--keep` columns."""
    with user_errors():
        cfg = project(config)
        discover_sources(Path(input).resolve())
        if output is not None and output.suffix.lower() != ".parquet":
            raise ConfigError(
                f"--output {output}: predictions are written as Parquet; end the name in .parquet"
            )
        parameters = {
            "input": input,
            "output": str(output.resolve()) if output else None,
            "config_path": str(config),
            "validate_input": not no_validate,
            "keep": [c.strip() for c in keep.split(",") if c.strip()] if keep else None,
        }
        result = run_flow(
            cfg.state_path, "score", "flows.scoring:batch_scoring", parameters, ScoreResult
        )
    typer.echo(
        f"\n{cfg.project}: scored {result.rows} rows with {result.model_version}\n"
        f"predictions: {result.output}"
    )


@app.command("train")
def train(
    config: Path = ConfigOption,
    data: str = DataOption,
    candidate: list[str] = typer.Option(
        None, "--candidate", help="Candidate to train (repeatable; default: the config's)."
    ),
    search_budget: int = typer.Option(None, min=1, help="Settings tried per candidate."),
    force: bool = typer.Option(
        False, help="Retrain unchanged data; promote even if the gate rejects (needs --reason)."
    ),
    reason: str = typer.Option(None, help="Why the gate is overridden (with --force)."),
) -> None:
    """Train, evaluate, gate, register, and promote to champion when blessed.

    Exits 1 when the run ends with no champion at all; a rejected candidate that leaves
    the champion in place exits 0 ("kept vN").
    """
    with user_errors():
        cfg = project(config, data)
        check_sources(cfg)
        check_suite(cfg)
        parameters = {
            "config_path": str(config),
            "data": data,
            "candidates": candidate or None,
            "search_budget": search_budget,
            "force": force,
            "force_reason": reason,
        }
        outcome = run_flow(
            cfg.state_path, "train", "flows.training:training", parameters, TrainingOutcome
        )
    from driftline.core.render import no_champion, training_outcome

    typer.echo(training_outcome(outcome))
    if (missing := no_champion(outcome)) is not None:
        typer.echo(f"error: {missing}", err=True)
        raise typer.Exit(1)


@app.command("monitor")
def monitor(
    config: Path = ConfigOption,
    source: str = typer.Option(
        None, "--source", help="Batch file/glob to check (default: the prediction log)."
    ),
) -> None:
    """Check the current window for drift against the champion's reference sample."""
    with user_errors():
        cfg = project(config)
        if source:
            discover_sources(cfg.resolve(source))
        result = run_flow(
            cfg.state_path,
            "monitor",
            "flows.monitoring:monitoring",
            {"config_path": str(config), "source": source},
            DriftResult | None,
        )
    if result is None:
        typer.echo("no verdict: no champion to compare against")
        return
    if not result.verdict:
        typer.echo(result.reason)
    else:
        drifted = result.drifted_columns or "none"
        typer.echo(f"drift share {result.drift_share:.0%}, drifted: {drifted}")
    quality = ", ".join(f"{k} {v:.4f}" for k, v in result.quality.items())
    typer.echo(f"quality: {quality or result.quality_note}")
    estimated = ", ".join(
        f"{e.metric} {e.value:.4f} [{e.lower:.4f}, {e.upper:.4f}]" for e in result.estimated
    )
    typer.echo(f"estimated quality (no labels): {estimated or result.estimate_note}")
    typer.echo(f"alerts: {[a.rule for a in result.alerts] or 'none'}")
    typer.echo(f"report: {result.report_path or 'none'}")
    if (c := result.challenger) is not None:
        done = f" ({c.action})" if c.action != "none" else ""
        typer.echo(f"challenger {c.challenger}: {c.recommendation}{done}: {c.explanation}")


@app.command("retrain")
def retrain(
    config: Path = ConfigOption,
    recent: str = typer.Option(None, help="Labelled recent batch (default: the labelled log)."),
    strategy: str = typer.Option(None, help="combined, recent or sliding (default: config)."),
    ignore_cooldown: bool = typer.Option(False, help="Retrain even within the cooldown."),
) -> None:
    """Retrain on reference + recent data, gate against the champion, promote if blessed."""
    with user_errors():
        cfg = project(config)
        check_suite(cfg)
        if recent:
            discover_sources(cfg.resolve(recent))
        parameters = {
            "config_path": str(config),
            "recent": recent,
            "strategy": strategy,
            "ignore_cooldown": ignore_cooldown,
        }
        result = run_flow(
            cfg.state_path, "retrain", "flows.retraining:retraining", parameters, RetrainingOutcome
        )
    typer.echo(f"retraining {result.status}: {result.detail}")
    if result.training is not None:
        from driftline.core.render import training_outcome

        typer.echo(training_outcome(result.training))
