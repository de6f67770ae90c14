"""Case 10: bad input gets an error naming the file, the line or column, and what to set."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import write_project
from typer.testing import CliRunner, Result

import flows.ingest
import flows.training
from driftline.apps.cli import app as cli

pytestmark = pytest.mark.faults


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, n_rows=300)


@pytest.fixture
def no_flow_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks must come before any flow run (and its Prefect server) starts."""

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("a flow run started before the input was checked")

    monkeypatch.setattr(flows.ingest, "ingest_and_validate", started)
    monkeypatch.setattr(flows.training, "training", started)


def test_latin_1_csv_names_file_line_and_the_encoding_to_set(
    project: Path, no_flow_runs: None
) -> None:
    data = project.parent / "data"
    first = sorted(data.glob("*.csv"))[0]
    lines = first.read_bytes().splitlines(keepends=True)
    fields = lines[3].split(b",")
    fields[-2] = b"caf\xe9"  # the region, in latin-1
    lines[3] = b",".join(fields)
    first.write_bytes(b"".join(lines))
    from driftline.core.config import load_config
    from driftline.core.datasets import discover_sources, read_sources

    cfg = load_config(project)
    with pytest.raises(Exception, match=r"line 4: .* not valid utf-8 .* data\.encoding"):
        read_sources(cfg, discover_sources(cfg.resolve(cfg.data.source)))
    raw = yaml.safe_load(project.read_text())
    raw["data"]["encoding"] = "latin-1"
    project.write_text(yaml.safe_dump(raw))
    df, _ = read_sources(load_config(project), discover_sources(cfg.resolve(cfg.data.source)))
    assert "café" in set(df["region"])

    raw["data"]["encoding"] = "klingon"
    project.write_text(yaml.safe_dump(raw))
    result = run("run", "ingest", "--config", str(project))
    assert result.exit_code == 1 and "key 'data.encoding'" in result.output


def test_a_duplicated_column_is_named(project: Path) -> None:
    from driftline.core.config import load_config
    from driftline.core.datasets import read_sources

    bad = project.parent / "dup.csv"
    bad.write_text("age,plan,age,churned\n30,a,31,0\n40,b,41,1\n")
    with pytest.raises(Exception, match="column 'age' appears more than once"):
        read_sources(load_config(project), [bad])


@pytest.mark.parametrize("command", [["run", "ingest"], ["run", "train"]])
def test_a_missing_data_source_fails_before_any_flow_run(
    project: Path, no_flow_runs: None, command: list[str]
) -> None:
    result = run(*command, "--config", str(project), "--data", str(project.parent / "nowhere"))
    assert result.exit_code == 1, result.output
    assert f"error: {project.parent / 'nowhere'}: file not found" in result.output
    assert "Traceback" not in result.output


def test_a_missing_scoring_input_fails_before_any_flow_run(project: Path) -> None:
    missing = project.parent / "new-*.csv"
    result = run("run", "score", "--config", str(project), "--input", str(missing))
    assert result.exit_code == 1 and "no file matches this pattern" in result.output
