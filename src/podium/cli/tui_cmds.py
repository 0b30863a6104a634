"""`podium [PROJECT]` (the terminal app) and `podium open ARCHIVE` (read-only replay)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from podium.cli.app import ProjectOption, app, project_path
from podium.errors import PodiumError

PathArgument = Annotated[Path | None, typer.Argument(help="Project file.", show_default=False)]


@app.command(hidden=True)
def tui(
    path: PathArgument = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model for new runs (e.g. local, "
                                              "scripted:PATH, openai/gpt-4o-mini).")] = None,
    api_base: Annotated[str | None, typer.Option("--api-base", help="Endpoint for the model.")] = None,
    team: Annotated[str | None, typer.Option("--team", "-t", help="Team preselected for new runs.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Open this run straight away.")] = None,
    theme: Annotated[str | None, typer.Option("--theme", help="Theme name (see themes/).")] = None,
    project: ProjectOption = None,
) -> None:
    """Open the terminal app on a project file (created if missing)."""
    import os

    from podium.llm.config import resolve_api_base, resolve_model

    target = project_path(path, project)
    explicit = model or os.environ.get("PODIUM_MODEL") or None
    shown = resolve_model(flag=explicit, project=target).model
    _run_app(target, readonly=False, model=explicit, shown_model=shown,
             api_base=resolve_api_base(api_base, target), team=team, run=run, theme=theme)


@app.command("open")
def open_archive(
    archive: Annotated[Path, typer.Argument(help="Archive (or project) file to replay read-only.")],
    run: Annotated[str | None, typer.Option("--run", help="Open this run straight away.")] = None,
    theme: Annotated[str | None, typer.Option("--theme", help="Theme name.")] = None,
) -> None:
    """Replay the runs of an archive read-only in the terminal app."""
    _run_app(archive, readonly=True, model=None, shown_model=None, api_base=None, team=None, run=run,
             theme=theme)


def _run_app(target: Path, *, readonly: bool, model: str | None, shown_model: str | None,
             api_base: str | None, team: str | None, run: str | None, theme: str | None) -> None:
    if target.is_dir():
        raise PodiumError(f"{target} is a directory, not a Podium project file")
    from podium.app.session import ProjectSession
    from podium.tui.app import PodiumApp

    session = None if readonly else ProjectSession(target, model=model, api_base=api_base, team=team)
    podium = PodiumApp(target, session=session, readonly=readonly, model=shown_model, team=team,
                       open_run=run, theme=theme)
    podium.run()
    if podium.exit_message:
        print(f"podium: {podium.exit_message}")
    if podium.return_code:
        raise typer.Exit(podium.return_code)
