"""`driftline ui`: Evidently's UI on the project's monitoring workspace, in the foreground.

The dashboard (drift, predictions, quality and promotions over time) is Evidently's own
`evidently ui`, pointed at `<state_dir>/evidently`; it picks up new checks while it runs.
The command also says where the Prefect UI and the report index are.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from driftline.apps.cli.common import ConfigOption, project, user_errors
from driftline.core.config.tracking import DASHBOARD_PORT
from driftline.errors import ConfigError


def ui_command(workspace: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    """`evidently ui` from this environment, on the workspace (telemetry off: DO_NOT_TRACK)."""
    evidently = Path(sys.executable).parent / "evidently"
    return [
        str(evidently),
        "ui",
        "--workspace",
        str(workspace),
        "--host",
        host,
        "--port",
        str(port),
    ]


def ui(
    config: Path = ConfigOption,
    port: int = typer.Option(DASHBOARD_PORT, min=1, max=65535, help="Port of the dashboard."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
) -> None:
    """Serve the monitoring dashboard (Evidently's UI) until Ctrl-C."""
    with user_errors():
        cfg = project(config)
        from driftline.orchestration.project_server import running_server
        from driftline.storage.dashboard import Dashboard, champion_task, promotion_lines
        from driftline.storage.registry import ModelRegistry
        from driftline.storage.report_index import ReportIndex

        registry = ModelRegistry.for_config(cfg)
        board = Dashboard.for_config(cfg, champion_task(registry))
        if not board.folder.exists():
            raise ConfigError(
                f"{board.folder}: no dashboard yet; it fills with every training run and "
                "monitoring check (`driftline run train`, `driftline run monitor`, `make demo`)"
            )
        board.refresh(promotion_lines(registry.audit_log()))
        server = running_server(cfg.state_path / "prefect")
        typer.echo(f"dashboard: http://{host}:{port} (Evidently project '{cfg.project}')")
        typer.echo(f"reports: {ReportIndex.for_config(cfg).page}")
        if server is not None:
            typer.echo(f"Prefect UI: {server.ui_url}")
        else:
            typer.echo("Prefect UI: not running (`driftline server start` serves it on :4200)")
        try:
            done = subprocess.run(ui_command(board.folder, port, host), check=False)
        except KeyboardInterrupt:
            return
        raise typer.Exit(done.returncode)
