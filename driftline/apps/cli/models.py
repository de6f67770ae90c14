"""`driftline models`: the registry's versions and aliases, promotion and rollback by hand."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from driftline.apps.cli.common import ConfigOption, project, user_errors
from driftline.errors import RegistryError

if TYPE_CHECKING:  # the registry imports scikit-learn: only the commands that use it load it
    from driftline.storage.registry import ModelRegistry, ModelVersion

app = typer.Typer(help="Model versions, aliases, promotion and rollback.", no_args_is_help=True)

VersionArgument = typer.Argument(..., help="A version id (e.g. v0003) or an alias (champion).")


def _registry(config: Path) -> ModelRegistry:
    from driftline.storage.registry import ModelRegistry

    return ModelRegistry.for_config(project(config))


def _resolve(registry: ModelRegistry, name: str) -> ModelVersion:
    """An alias name stands for its version, so `show champion` works."""
    return registry.get(registry.aliases().get(name, name))


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return "cli"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


@app.command("list")
def list_versions(config: Path = ConfigOption) -> None:
    """Every version, oldest first: candidate, key holdout metrics, gate outcome, aliases."""
    with user_errors():
        registry = _registry(config)
        versions = registry.versions()
        aliases = registry.aliases()
    if not versions:
        typer.echo(f"no model versions registered yet in {registry!r}")
        return
    by_version: dict[str, list[str]] = {}
    for name, version in sorted(aliases.items()):
        by_version.setdefault(version, []).append(name)
    rows = [
        [
            v.version,
            v.created_at[:16].replace("T", " "),
            v.metadata.candidate,
            *("-" if x is None else f"{x:.4f}" for x in v.metadata.key_metrics().values()),
            v.status,
            ",".join(by_version.get(v.version, [])),
        ]
        for v in versions
    ]
    # One task per project: the newest version's metrics name the columns.
    header = [
        "version",
        "created (UTC)",
        "candidate",
        *versions[-1].metadata.key_metrics(),
        "gate",
        "aliases",
    ]
    typer.echo(_table(header, rows))


@app.command("show")
def show(version: str = VersionArgument, config: Path = ConfigOption) -> None:
    """One version: its metadata, its model card and the history of aliases that pointed at it."""
    with user_errors():
        registry = _registry(config)
        mv = _resolve(registry, version)
        aliases = sorted(name for name, v in registry.aliases().items() if v == mv.version)
        history = [e for e in registry.audit_log() if mv.version in (e["from"], e["to"])]
        card = registry.card(mv.version) or "(no model card)"
    typer.echo(f"{mv.version}  {mv.status}  aliases: {', '.join(aliases) or 'none'}")
    typer.echo(f"created {mv.created_at}  sha256 {mv.sha256}\nfolder {mv.uri}\n")
    typer.echo("== metadata ==")
    typer.echo(json.dumps(mv.metadata.model_dump(mode="json"), indent=2, sort_keys=True))
    typer.echo("\n== model card ==")
    typer.echo(card)
    typer.echo("== alias history ==")
    for e in history:
        forced = " FORCED" if e["forced"] else ""
        typer.echo(
            f"{e['time']}  {e['action']}{forced}  {e['alias']}: {e['from'] or '-'} -> "
            f"{e['to'] or '-'}  by {e['actor']}: {e['reason']}"
        )
    if not history:
        typer.echo("no alias has pointed at this version")


@app.command("promote")
def promote(
    version: str = VersionArgument,
    force: bool = typer.Option(
        False, "--force", help="Promote a version the gates rejected (needs --reason)."
    ),
    reason: str = typer.Option(None, "--reason", help="Why; recorded in the audit log."),
    config: Path = ConfigOption,
) -> None:
    """Make a version the champion; the current champion becomes "previous"."""
    with user_errors():
        from driftline.storage.registry import ANY, CHAMPION, ModelRegistry
        from driftline.storage.registry.regate import needs_regate, regate

        cfg = project(config)
        registry = ModelRegistry.for_config(cfg)
        target = _resolve(registry, version)
        # A forced promotion gets no default reason: the registry refuses it without one.
        why = reason or ("" if force else "promoted from the command line")
        champion = registry.aliases().get(CHAMPION)
        gated_against = target.metadata.blessing.baseline_id
        if not force and target.status == "blessed" and needs_regate(target, champion):
            assert champion is not None
            typer.echo(f"{target.version} was gated against {gated_against or 'no champion'}; "
                       f"gating it against the champion {champion} on its holdout ...")  # fmt: skip
            blessing = regate(cfg, registry, target, champion)
            if not blessing.blessed:
                raise RegistryError(
                    f"{target.version} fails the gates against the champion {champion}: "
                    + "; ".join(blessing.reasons)
                    + " (promote it anyway with --force and a --reason)"
                )
            gated_against = champion
            why = f"{why}; passed the gates against {champion} on the holdout of {target.version}"
        old = registry.promote(
            target.version,
            reason=why,
            force=force,
            actor=_actor(),
            expected=ANY if force else champion,
            gated_against=None if force else gated_against,
        )
    forced = " (forced past the gates)" if force else ""
    typer.echo(
        f"{target.version} is now the champion{forced}; previous: {old.version if old else 'none'}"
    )


@app.command("rollback")
def rollback(
    reason: str = typer.Option(
        "rolled back from the command line", "--reason", help="Why; recorded in the audit log."
    ),
    config: Path = ConfigOption,
) -> None:
    """Make the previous champion the champion again (the current one becomes "previous")."""
    with user_errors():
        registry = _registry(config)
        champion = registry.rollback(reason=reason, actor=_actor())
        from driftline.storage.registry import PREVIOUS

        previous = registry.aliases().get(PREVIOUS)
    typer.echo(f"rolled back: {champion.version} is the champion; previous: {previous or 'none'}")
