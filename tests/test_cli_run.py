"""The `driftline` command tree: every command's help, and `run` failing cleanly on a bad config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from driftline.apps.cli import app

runner = CliRunner()


def _walk(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path under a (Typer) click group, groups included, depth first."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if hasattr(command, "commands"):
            yield from _walk(command, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), prog_name="driftline")


def test_top_level_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0, result.output
    top = [path[0] for path in COMMANDS if len(path) == 1]
    assert {"data", "expectations", "models", "run", "serve", "feedback", "demo"} <= set(top)
    for name in top:
        assert name in result.output


def test_run_group_has_every_flow() -> None:
    assert {p[1] for p in COMMANDS if p[0] == "run" and len(p) == 2} == {
        "ingest",
        "score",
        "train",
        "monitor",
        "retrain",
    }


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert f"Usage: driftline {' '.join(path)}" in " ".join(result.output.split())


def test_run_train_help_shows_its_options() -> None:
    result = invoke("run", "train", "--help")
    assert result.exit_code == 0, result.output
    for option in ("--config", "--data", "--candidate", "--search-budget", "--force", "--reason"):
        assert option in result.output


def test_run_ingest_with_a_missing_config_exits_1_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "driftline.yaml"
    result = invoke("run", "ingest", "--config", str(missing))
    assert result.exit_code == 1
    assert f"error: {missing}: config file not found" in result.output
    assert "Traceback" not in result.output


def test_run_ingest_with_an_invalid_config_names_file_and_key(tmp_path: Path) -> None:
    broken = tmp_path / "driftline.yaml"
    broken.write_text("project: Not A Valid Name\n")
    result = invoke("run", "ingest", "--config", str(broken))
    assert result.exit_code == 1
    assert f"{broken}: invalid configuration" in result.output
    assert "key 'project'" in result.output


@pytest.mark.parametrize("command", ["ingest", "train", "retrain"])
def test_a_missing_suite_is_refused_before_any_flow_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from conftest import write_project

    def no_flow(*args: object, **kwargs: object) -> None:
        raise AssertionError("a flow run started")

    monkeypatch.setattr("driftline.apps.cli.run.run_flow", no_flow)
    path = write_project(tmp_path, n_rows=200, expectations={"suite": "absent"})
    result = invoke("run", command, "--config", str(path))
    assert result.exit_code == 1, result.output
    suite = tmp_path / "expectations" / "absent.json"
    assert f"error: {suite}: expectation suite not found" in result.output
    assert "driftline expectations suggest" in result.output


def test_run_score_refuses_an_output_that_is_not_parquet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--output scored.csv` wrote Parquet bytes into a .csv file."""
    from conftest import write_project

    def no_flow(*args: object, **kwargs: object) -> None:
        raise AssertionError("a flow run started")

    monkeypatch.setattr("driftline.apps.cli.run.run_flow", no_flow)
    path = write_project(tmp_path, n_rows=200)
    batch = next((tmp_path / "data").iterdir())
    out = tmp_path / "scored.csv"
    result = invoke(
        "run", "score", "--config", str(path), "--input", str(batch), "--output", str(out)
    )
    assert result.exit_code == 1, result.output
    assert f"error: --output {out}: predictions are written as Parquet" in result.output
