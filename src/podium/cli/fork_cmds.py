"""`podium fork` (a new run from a run's finished work) and `podium diff` (two runs compared).

Exit codes as for `podium run`: 0 completed, 1 partial or failed, 2 a usage error (nothing
forked), 3 stopped but resumable (halted, budget, plan left awaiting approval).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from podium.cli.app import ProjectOption, app, print_json, project_path, run_async
from podium.cli.run_cmds import (
    AllowToolsOption,
    ApiBaseOption,
    JsonLinesOption,
    MaxTokensOption,
    ModelOption,
    RunIdArgument,
    SecondsOption,
    StepsOption,
    TokensOption,
    UsdOption,
    YesOption,
    _finish,
    _Session,
)
from podium.errors import PodiumError

if TYPE_CHECKING:
    from podium.app.fork import ForkRecord
    from podium.domain import Execution


@app.command()
def fork(
    run_id: RunIdArgument,
    from_: Annotated[list[str] | None, typer.Option(
        "--from", help="Run this subtask again, and everything that depends on it (repeatable). "
        "Unfinished subtasks always run again.")] = None,
    edit: Annotated[list[str] | None, typer.Option(
        "--edit", help="SUBTASK=FILE: replace a finished subtask's output with the file's text before "
        "forking; what depends on it runs again (repeatable).")] = None,
    objective: Annotated[str | None, typer.Option(
        "--objective", help="A new objective for the fork (the subtasks that run again and the synthesis "
        "get it).")] = None,
    team: Annotated[str | None, typer.Option("--team", "-t", help="Another team for the fork (it must have "
                                             "the agents of the subtasks that run again).")] = None,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", min=1, max=64,
                                                    help="Subtasks running at once (default: as the run).")]
    = None,
    budget_tokens: TokensOption = None,
    budget_usd: UsdOption = None,
    budget_steps: StepsOption = None,
    budget_seconds: SecondsOption = None,
    max_tokens: MaxTokensOption = None,
    review: Annotated[bool | None, typer.Option(
        "--review/--no-review", help="Leave the result awaiting your review, or accept it after the "
        "leader's check (default: as the run).")] = None,
    allow_tools: AllowToolsOption = None,
    yes: YesOption = False,
    json: JsonLinesOption = False,
    archive: Annotated[Path | None, typer.Option(
        "--archive", help="Fork a run of this archive: it is imported into the project first.",
        show_default=False)] = None,
    project: ProjectOption = None,
) -> None:
    """A new run from RUN's finished work: only the subtasks named with --from (or edited with --edit),
    what was unfinished and what depends on them run again; the rest is copied with its output,
    transcript and usage, calling no model. The fork's plan goes through approval (--yes) and its
    result through review like any run's; `podium resume FORK` continues it after a stop."""
    from podium.app.fork import ForkOptions, fork_run, import_archive_run, parse_edits, read_edits
    from podium.app.run_settings import ResumeOptions

    path = project_path(None, project)
    if archive is None and not path.exists():
        raise PodiumError(f"{path} does not exist")
    if archive is not None and not archive.exists():
        raise PodiumError(f"{archive} does not exist")
    _refuse_archive_as_project(path)
    edits = read_edits(parse_edits(edit))
    if not yes and not sys.stdin.isatty():
        raise PodiumError("no terminal to ask for plan approval: pass --yes to approve automatically")
    options = ForkOptions(
        rerun_from=[i.strip() for item in from_ or [] for i in item.split(",") if i.strip()], edits=edits,
        objective=objective, team=team,
        run=ResumeOptions(model=model, api_base=api_base, concurrency=concurrency, max_tokens=max_tokens,
                          review=review, approve_plans=yes, allow_tools=allow_tools,
                          budget_tokens=budget_tokens, budget_usd=budget_usd, budget_steps=budget_steps,
                          budget_seconds=budget_seconds))

    async def go() -> Execution:
        async with _Session(path, None, json, create=archive is not None) as session:
            source = run_id
            if archive is not None:
                source = await import_archive_run(session.app, archive, run_id)
            outcome = await fork_run(session.app, source, options, drive_here=True)
            execution = outcome.execution
            session.console.print(fork_line(outcome.record), soft_wrap=True, markup=False)
            session.announce(execution.id, execution.objective, execution.team)
            return await session.drive(execution.id, yes=yes)

    _finish(run_async(go()))


def fork_line(record: ForkRecord) -> str:
    """One line: the fork, its parent, what it reused and what runs again."""
    reused = [f"{sid} (edited)" if r.edited else sid for sid, r in record.reused.items()]
    return (f"fork {record.run_id} of {record.parent_id}: reused {', '.join(reused) or 'nothing'}; "
            f"runs again: {', '.join(record.rerun) or 'only the synthesis'}")


def _refuse_archive_as_project(path: Path) -> None:
    """An exported archive is a record: it is never written to; its runs are forked with --archive."""
    if not path.exists():
        return
    with path.open("rb") as f:
        header = f.read(20)
    if len(header) == 20 and header[:16] == b"SQLite format 3\x00" and header[18] == 1:
        raise PodiumError(f"{path} is an exported archive (read-only): fork its runs into a project with "
                          f"`podium fork RUN --archive {path} -p PROJECT`")


@app.command()
def diff(
    run_a: Annotated[str, typer.Argument(help="The first run (id or unique prefix).", show_default=False)],
    run_b: Annotated[str, typer.Argument(help="The second run, typically a fork of the first.",
                                         show_default=False)],
    format: Annotated[str, typer.Option("--format", "-f", help="md or json.")] = "md",
    project: ProjectOption = None,
) -> None:
    """What changed between two runs: plan (subtasks added, removed, changed), each subtask's output as a
    unified diff, the result, and tokens and cost side by side."""
    if format not in ("md", "json"):
        raise PodiumError(f"unknown format {format!r}; use md or json")
    path = project_path(None, project)
    if not path.exists():
        raise PodiumError(f"{path} does not exist")
    from podium.app.diff import diff_runs, to_markdown

    async def go() -> Any:
        from podium.app.session import ProjectSession

        async with ProjectSession(path, readonly=True) as session:
            return await diff_runs(session, run_a, run_b)

    result = run_async(go())
    if format == "json":
        print_json(result.to_json())
    else:
        print(to_markdown(result))
