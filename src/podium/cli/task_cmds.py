"""`podium task ...`: change a run's live graph (the living plan) from any terminal.

Works on a run another process is executing (the change is posted to it and
applied to its running graph within a poll) and on a run nobody drives (written
to the file; `podium resume RUN_ID` carries on). Bad input is one line, exit 2,
nothing written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from podium.cli.app import JsonOption, ProjectOption, app, print_json, project_path, run_async
from podium.cli.control_cmds import RunId, controllable
from podium.errors import PodiumError

task_app = typer.Typer(help="Change a run's plan while it runs: add, edit, retry, skip, cancel subtasks, "
                            "replace a finished output, decide proposals.", no_args_is_help=True)
app.add_typer(task_app, name="task")

SubtaskId = Annotated[str, typer.Argument(help="The subtask (t3).", show_default=False)]
AgentOption = Annotated[str | None, typer.Option("--agent", "-a", help="The agent that does it.")]
AfterOption = Annotated[list[str] | None, typer.Option(
    "--after", help="A subtask that must finish first; repeatable.")]
CriteriaOption = Annotated[list[str] | None, typer.Option(
    "--criteria", help="An acceptance criterion; repeatable.")]
DependentsOption = Annotated[str | None, typer.Option(
    "--dependents", help="proceed: what depends on it runs without it (and is told); block: it is blocked. "
    "Default: proceed for skip, block for cancel.")]


def _change(project: Path | None, run_id: str, **fields: object) -> None:
    from podium.app.live_plan import PlanChange, change_plan_in

    try:
        change = PlanChange.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValueError as exc:  # pydantic: the first problem, as one line
        raise PodiumError(f"invalid change: {str(exc).splitlines()[-2].strip()}") from None
    print(run_async(change_plan_in(controllable(project_path(None, project)), run_id, change)))


def _dependents(value: str | None) -> str | None:
    if value is not None and value not in ("proceed", "block"):
        raise PodiumError(f"--dependents is proceed or block, not {value!r}")
    return value


@task_app.command("add")
def add(run_id: RunId,
        description: Annotated[str, typer.Argument(help="What the subtask does.", show_default=False)],
        agent: AgentOption = None, after: AfterOption = None, criteria: CriteriaOption = None,
        subtask_id: Annotated[str | None, typer.Option(
            "--id", help="Its id (default: the next t<n>).")] = None,
        project: ProjectOption = None) -> None:
    """Add a subtask; it starts as soon as what it comes after is done."""
    _change(project, run_id, action="add", description=description, agent=agent, after=after or [],
            criteria=criteria, subtask_id=subtask_id)


@task_app.command("edit")
def edit(run_id: RunId, subtask: SubtaskId,
         description: Annotated[str | None, typer.Option("--description", "-d", help="New text.")] = None,
         agent: AgentOption = None, after: AfterOption = None, criteria: CriteriaOption = None,
         project: ProjectOption = None) -> None:
    """Edit or reassign a subtask that has not started (or failed: it then runs again)."""
    _change(project, run_id, action="edit", subtask_id=subtask, description=description, agent=agent,
            after=after, criteria=criteria)


@task_app.command("retry")
def retry(run_id: RunId, subtask: SubtaskId, agent: AgentOption = None,
          note: Annotated[str | None, typer.Option("--note", "-n", help="Told to the agent.")] = None,
          project: ProjectOption = None) -> None:
    """Run a failed (or blocked) subtask again, optionally with a note or by another agent."""
    _change(project, run_id, action="retry", subtask_id=subtask, agent=agent, note=note)


@task_app.command("skip")
def skip(run_id: RunId, subtask: SubtaskId, dependents: DependentsOption = None,
         project: ProjectOption = None) -> None:
    """Skip a subtask that has not started (or failed)."""
    _change(project, run_id, action="skip", subtask_id=subtask, dependents=_dependents(dependents))


@task_app.command("cancel")
def cancel(run_id: RunId, subtask: SubtaskId, dependents: DependentsOption = None,
           project: ProjectOption = None) -> None:
    """Cancel a subtask, stopping it if it is running."""
    _change(project, run_id, action="cancel", subtask_id=subtask, dependents=_dependents(dependents))


@task_app.command("output")
def output(run_id: RunId, subtask: SubtaskId,
           file: Annotated[Path, typer.Option("--file", "-f", help="The new output (a text file).",
                                              show_default=False)],
           project: ProjectOption = None) -> None:
    """Replace a finished subtask's output; what depends on it runs again."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else exc
        raise PodiumError(f"cannot read {file}: {why}") from None
    _change(project, run_id, action="output", subtask_id=subtask, output=text)


@task_app.command("proposals")
def proposals(run_id: RunId,
              accept: Annotated[int | None, typer.Option(
                  "--accept", min=1, help="Accept proposal N: its subtask (or the leader's replan) joins "
                  "the plan.", show_default=False)] = None,
              decline: Annotated[int | None, typer.Option(
                  "--decline", min=1, help="Decline proposal N.", show_default=False)] = None,
              reason: Annotated[str | None, typer.Option("--reason", help="Why (with --decline).")] = None,
              json: JsonOption = False,
              project: ProjectOption = None) -> None:
    """List a run's proposals (subtasks agents proposed, the leader's replans), or decide one."""
    from podium.app.live_plan import decide_proposal_in, proposals_in

    if accept is not None and decline is not None:
        raise PodiumError("choose one: --accept N or --decline N")
    if reason is not None and decline is None:
        raise PodiumError("--reason goes with --decline N")
    path = project_path(None, project)
    if accept is not None or decline is not None:
        number = accept if accept is not None else decline
        assert number is not None
        print(run_async(decide_proposal_in(controllable(path), run_id, number, accept=accept is not None,
                                           reason=reason)))
        return
    if not path.exists():
        raise PodiumError(f"{path} does not exist")
    listed = run_async(proposals_in(path, run_id))
    if json:
        print_json([p.model_dump(mode="json") for p in listed])
        return
    if not listed:
        print(f"run {run_id} has no proposals")
        return
    for p in listed:
        what = "; ".join(_said(c) for c in p.changes) or "no change"
        decided = f" by {p.decided_by}" + (f": {p.decision}" if p.decision else "") if p.decided_by else ""
        made = f" (plan v{p.version})" if p.version else ""
        origin = f" working on {p.from_subtask}" if p.from_subtask else ""
        print(f"#{p.number} {p.kind.value} from {p.proposed_by}{origin}: {p.status.value}{decided}{made}")
        print(f"    {what}")
        if p.reason:
            print(f"    why: {p.reason}")


def _said(change: object) -> str:
    from podium.domain import PlanAction, PlanChange

    assert isinstance(change, PlanChange)
    if change.action is PlanAction.ADD:
        after = f" after {', '.join(change.after)}" if change.after else ""
        return f"add {change.subtask_id or 'a subtask'} for {change.agent}{after}: {change.description}"
    return f"{change.action.value} {change.subtask_id}"
