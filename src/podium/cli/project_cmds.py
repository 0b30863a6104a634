"""Commands on the project file itself: init, info, export (the TUI lives in tui_cmds)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from podium.cli.app import JsonOption, ProjectOption, app, print_json, project_path, run_async
from podium.errors import PodiumError

if TYPE_CHECKING:
    from podium.domain import ProjectInfo

PathArgument = Annotated[Path | None, typer.Argument(help="Project file.", show_default=False)]


@app.command()
def init(path: PathArgument = None, project: ProjectOption = None) -> None:
    """Create an empty project file (or check an existing one)."""
    from podium.app.session import ProjectSession

    target = project_path(path, project)
    existed = target.exists() and target.stat().st_size > 0

    async def go() -> None:
        async with ProjectSession(target, tools=False, memory=False):
            pass  # opening creates (or checks and migrates) the file

    run_async(go())
    print(f"{'checked' if existed else 'created'} {target}")


@app.command()
def info(path: PathArgument = None, project: ProjectOption = None, json: JsonOption = False) -> None:
    """Verify a project file or archive and describe what it holds."""
    from podium.app.session import ProjectSession

    target = project_path(path, project)
    if not target.exists():
        raise PodiumError(f"{target} does not exist")

    async def go() -> ProjectInfo:
        async with ProjectSession(target, readonly=True, tools=False, memory=False) as session:
            return await session.describe()

    facts = run_async(go())
    if json:
        print_json(facts.model_dump())
        return
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(facts.runs_by_status.items())) or "none"
    print(f"{facts.path}")
    print(f"  schema      v{facts.schema_version} (application_id {facts.application_id})")
    print(f"  sqlite      {facts.sqlite_version}, sqlite-vec {facts.sqlite_vec_version}")
    print(f"  journal     {facts.journal_mode}, integrity {facts.integrity}")
    print(f"  runs        {facts.runs} ({statuses})")
    print(f"  agents      {facts.agents}")
    print(f"  memories    {facts.memories}")
    print(f"  messages    {facts.messages}, events {facts.events}")
    print(f"  size        {facts.size_bytes / 1024:.1f} KiB")
    if facts.integrity != "ok":
        raise PodiumError(f"integrity check failed: {facts.integrity}")


@app.command()
def export(
    path: PathArgument = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Archive file to write.")] = Path(
        "archive.podium"
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing archive.")] = False,
    project: ProjectOption = None,
) -> None:
    """Write a compacted, verified single-file archive of the project."""
    from podium.app.session import ProjectSession

    source = project_path(path, project)

    async def go() -> ProjectInfo:
        async with ProjectSession(source, create=False, tools=False, memory=False) as session:
            return await session.export_archive(output, force=force)

    facts = run_async(go())
    print(
        f"exported {source} -> {output} ({facts.size_bytes / 1024:.1f} KiB, "
        f"{facts.runs} runs, integrity {facts.integrity})"
    )
