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
    served: Annotated[bool, typer.Option("--served", hidden=True,
                                         help="Run as `podium serve`'s app for one browser tab.")] = False,
) -> None:
    """Open the terminal app on a project file (created if missing)."""
    import os

    from podium.llm.config import resolve_api_base, resolve_model

    target = project_path(path, project)
    explicit = model or os.environ.get("PODIUM_MODEL") or None
    shown = resolve_model(flag=explicit, project=target).model
    _run_app(target, readonly=False, model=explicit, shown_model=shown,
             api_base=resolve_api_base(api_base, target), team=team, run=run, theme=theme, served=served)


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
             api_base: str | None, team: str | None, run: str | None, theme: str | None,
             served: bool = False) -> None:
    if target.is_dir():
        raise PodiumError(f"{target} is a directory, not a Podium project file")
    from podium.app.session import ProjectSession
    from podium.tui.app import PodiumApp

    session = None if readonly else ProjectSession(target, model=model, api_base=api_base, team=team)
    app_class = PodiumApp
    if served:
        from podium.tui.served import ServedPodiumApp

        app_class = ServedPodiumApp
    podium = app_class(target, session=session, readonly=readonly, model=shown_model, team=team,
                       open_run=run, theme=theme)
    podium.run()
    if served:  # stdout is the browser's terminal protocol: nothing else may be written to it
        raise typer.Exit(podium.return_code or 0)
    if podium.exit_message:
        print(f"podium: {podium.exit_message}")
    if podium.return_code:
        raise typer.Exit(podium.return_code)


@app.command()
def serve(
    path: PathArgument = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (not loopback: needs "
                                                     "--token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8000,
    token: Annotated[str | None, typer.Option("--token", envvar="PODIUM_SERVE_TOKEN", show_envvar=True,
                                              help="Access token (default: a random one, printed "
                                                   "once). Required for a non-loopback --host.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model for new runs.")] = None,
    api_base: Annotated[str | None, typer.Option("--api-base", help="Endpoint for the model.")] = None,
    team: Annotated[str | None, typer.Option("--team", "-t", help="Team preselected for new runs.")] = None,
    theme: Annotated[str | None, typer.Option("--theme", help="Theme name.")] = None,
    project: ProjectOption = None,
) -> None:
    """Serve the terminal app to a browser tab (each tab is its own app on the same project file)."""
    from podium.cli.serve_web import serve_app

    serve_app(project_path(path, project), host=host, port=port, token=token, model=model,
              api_base=api_base, team=team, theme=theme)
