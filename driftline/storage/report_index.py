"""Every report of a project in one page: `<state>/reports/<project>/index.html`.

Validation (Data Docs), training (the run's report), monitoring (Evidently's drift report)
and challenger reports are recorded as they are written, one JSON line each in
`entries.jsonl` next to the page; the page is rewritten after every entry, newest first,
with links relative to it, so the state folder can be copied or served and still opened.
Hand-written HTML (no template engine in the stack for this): a table and inline CSS.
"""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from driftline.core.atomic import write_atomic
from driftline.core.config import ProjectConfig

ReportKind = Literal["validation", "training", "monitoring", "challenger"]
INDEX_FILE = "index.html"
ENTRIES_FILE = "entries.jsonl"


class ReportEntry(BaseModel):
    time: datetime
    kind: ReportKind
    outcome: str
    title: str
    path: str  # absolute; the page links to it relatively


class ReportIndex:
    """The report list of one project."""

    def __init__(self, folder: Path, project: str) -> None:
        self.folder = folder
        self.project = project

    @classmethod
    def for_config(cls, cfg: ProjectConfig) -> ReportIndex:
        return cls(cfg.state_path / "reports" / cfg.project, cfg.project)

    @property
    def page(self) -> Path:
        return self.folder / INDEX_FILE

    def entries(self) -> list[ReportEntry]:
        """Every recorded report, newest first (a line torn by a crash is skipped)."""
        path = self.folder / ENTRIES_FILE
        if not path.exists():
            return []
        found = []
        for line in path.read_text().splitlines():
            try:
                found.append(ReportEntry.model_validate_json(line))
            except ValueError:
                continue
        return sorted(found, key=lambda e: e.time, reverse=True)

    def add(self, kind: ReportKind, outcome: str, title: str, path: str | Path) -> str:
        """Record a report and rewrite the page; returns its path relative to the state folder."""
        entry = ReportEntry(
            time=datetime.now(UTC),
            kind=kind,
            outcome=outcome,
            title=title,
            path=str(Path(path).resolve()),
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ENTRIES_FILE).open("a") as fh:
            fh.write(entry.model_dump_json() + "\n")
        write_atomic(self.page, render_index(self.project, self.entries(), self.folder))
        return os.path.relpath(entry.path, self.folder.parent.parent)


def render_index(project: str, entries: list[ReportEntry], folder: Path) -> str:
    rows = "\n".join(
        "<tr class='{kind}'><td>{time}</td><td>{kind}</td><td>{outcome}</td>"
        "<td><a href='{href}'>{title}</a></td></tr>".format(
            kind=html.escape(e.kind),
            time=e.time.strftime("%Y-%m-%d %H:%M:%S UTC"),
            outcome=html.escape(e.outcome),
            href=html.escape(Path(os.path.relpath(e.path, folder)).as_posix(), quote=True),
            title=html.escape(e.title),
        )
        for e in entries
    )
    name = html.escape(project)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{name}: reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .35em .8em; border-bottom: 1px solid #ddd; }}
th {{ background: #f4f4f4; }}
</style></head>
<body><h1>Reports of {name}</h1>
<p>{len(entries)} reports, newest first.</p>
<table id="reports"><thead><tr><th>date</th><th>kind</th><th>outcome</th><th>report</th></tr>
</thead><tbody>
{rows}
</tbody></table></body></html>
"""
