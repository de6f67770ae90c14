"""A training run as one self-contained HTML page: candidates, holdout metrics, blessing, plots.

Hand-written HTML (the stack has no report tool for scikit-learn runs): tables and the
evaluation's PNG plots, linked relatively so the run folder opens anywhere, offline.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from driftline.core.contracts import Blessing, EvaluationRecord


def training_report(
    project: str,
    version: str,
    records: list[EvaluationRecord],
    best: str,
    blessing: Blessing,
    folder: Path,
) -> str:
    """The page for `folder/training-report.html`."""
    names = sorted({k for r in records for k in r.metrics})
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = "".join(
        f"<tr{' class=best' if r.name == best else ''}><td>{html.escape(r.name)}</td>"
        + "".join(f"<td>{r.metrics[n]:.4f}</td>" if n in r.metrics else "<td></td>" for n in names)
        + "</tr>"
        for r in records
    )
    checks = "".join(
        f"<li>{html.escape(c.status)}: {html.escape(c.message)}</li>" for c in blessing.checks
    )
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in blessing.reasons)
    plots = "".join(
        f"<figure><img src='{html.escape(Path(os.path.relpath(p, folder)).as_posix())}' "
        f"alt='{html.escape(name)}' width='420'>"
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
        for r in records
        if r.name == best
        for name, p in sorted(r.artifacts.items())
        if p.endswith(".png")
    )
    verdict = "blessed" if blessing.blessed else "not blessed"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(project)} {version}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: .3em .7em; border-bottom: 1px solid #ddd; }}
tr.best {{ font-weight: bold; }} figure {{ display: inline-block; margin: .5em; }}
</style></head><body>
<h1>Training of {html.escape(project)}: {version} ({html.escape(best)}, {verdict})</h1>
<h2>Candidates on the holdout</h2>
<table id="candidates"><thead><tr><th>candidate</th>{head}</tr></thead><tbody>{rows}</tbody></table>
<h2>Blessing</h2><ul id="blessing">{checks}{reasons}</ul>
<h2>Plots of {html.escape(best)}</h2>{plots}
</body></html>
"""
