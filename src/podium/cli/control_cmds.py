"""Steering a run from a second terminal: `podium guide`, `pause`, `halt`, `answer`, `review`,
and `podium bench control`.

These write to the project file: a live process running the run (a headless
`podium run`, the TUI) picks them up within a poll (0.05 s) and applies them;
when nobody runs it, they act on the file directly or are kept for the next
session. (`podium resume` lives in run_cmds.py and uses the same path when
another process holds the run.) Bad input is one line and exit 2, with
nothing changed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from podium.cli.app import ProjectOption, app, project_path, run_async
from podium.cli.bench_cmds import bench_app
from podium.errors import PodiumError, ReadOnlyError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from podium.app.queries import AwaitingReview
    from podium.orchestrator.steering import Steered, Steering

RunId = Annotated[str, typer.Argument(help="Run id (or a unique prefix of it).", show_default=False)]


def controllable(path: Path) -> Path:
    """The project file, if control may change it: it exists, is writable and is not an archive."""
    if not path.exists():
        raise PodiumError(f"{path} does not exist")
    if not os.access(path, os.W_OK):
        raise ReadOnlyError(f"{path} is read-only; nothing was changed")
    with path.open("rb") as f:
        header = f.read(20)
    # Bytes 18-19 of an SQLite header are 2 in WAL mode. Every project Podium opened for writing is
    # in WAL mode; an exported archive is switched out of it, so it reads 1: a record, not a run.
    if len(header) == 20 and header[:16] == b"SQLite format 3\x00" and header[18] == 1:
        raise ReadOnlyError(f"{path} is an exported archive (read-only): nothing was changed; "
                            f"replay it with `podium open {path}`")
    return path


def _steer(project: Path | None, act: Callable[[Steering], Awaitable[Steered]]) -> Steered:
    from podium.app.session import ProjectSession

    async def go() -> Steered:
        async with ProjectSession(controllable(project_path(None, project)), create=False) as session:
            return await act(session.steering())

    result = run_async(go())
    print(result.message)
    return result


@app.command()
def guide(
    run_id: RunId,
    text: Annotated[str, typer.Argument(help="What the agents should do differently.", show_default=False)],
    subtask: Annotated[str | None, typer.Option("--subtask", "-s",
                                                help="Only for this subtask's agent.")] = None,
    as_guidance: Annotated[bool, typer.Option(
        "--as-guidance", help="Send it even if it reads as a stop request (\"stop\", \"halt now\"): without "
        "this such a message is not sent, and the command says how to halt.")] = False,
    project: ProjectOption = None,
) -> None:
    """Give the running agents guidance; each reads it at its next turn."""
    from podium.app.halt_words import halt_hint, is_stop_request

    if is_stop_request(text) and not as_guidance:
        # Agents would only read "stop" as text; halting is the person's decision, made explicitly.
        print(f"podium: {halt_hint(run_id, text)}", file=sys.stderr)
        sys.exit(2)
    _steer(project, lambda s: s.guide(run_id, text, subtask))


@app.command()
def pause(run_id: RunId, project: ProjectOption = None) -> None:
    """Pause a running run: agents stop at their next turn boundary; `podium resume` continues."""
    _steer(project, lambda s: s.pause(run_id))


@app.command()
def halt(run_id: RunId, project: ProjectOption = None,
         reason: Annotated[str, typer.Option(help="Why (kept with the run).")]
         = "halted from the command line") -> None:
    """Stop a run now: in-flight turns are cancelled, state is kept, `podium resume` continues it."""
    _steer(project, lambda s: s.halt(run_id, reason))


@app.command()
def answer(
    run_id: RunId,
    subtask: Annotated[str, typer.Argument(help="The subtask whose agent asked.", show_default=False)],
    text: Annotated[str, typer.Argument(help="Your answer (yes/no decides a waiting tool call).",
                                        show_default=False)],
    project: ProjectOption = None,
) -> None:
    """Answer an agent that asked for help (or approve/deny its waiting tool call with yes/no)."""
    _steer(project, lambda s: s.answer(run_id, subtask, text))


@app.command()
def review(
    run_id: RunId,
    accept: Annotated[bool, typer.Option("--accept", help="Accept the result: the run completes.")] = False,
    rework: Annotated[str | None, typer.Option("--rework", help="Send the result back with this feedback.")]
    = None,
    subtask: Annotated[list[str] | None, typer.Option(
        "--subtask", "-s", help="Re-open this subtask (and what depends on it); repeatable. "
        "None: only the synthesis is redone.")] = None,
    project: ProjectOption = None,
) -> None:
    """Show a result awaiting review with the leader's verdict, then --accept or --rework it."""
    if accept and rework is not None:
        raise PodiumError("choose one: --accept or --rework \"feedback\"")
    if subtask and rework is None:
        raise PodiumError("--subtask goes with --rework")
    path = controllable(project_path(None, project)) if (accept or rework is not None) else \
        project_path(None, project)
    if not path.exists():
        raise PodiumError(f"{path} does not exist")

    async def show() -> str:
        from podium.app.session import ProjectSession

        async with ProjectSession(path, readonly=not (accept or rework is not None), create=False,
                                  tools=False, memory=False) as session:
            return _verdict_lines(await session.queries.awaiting_review(run_id))

    summary = run_async(show())
    if not accept and rework is None:
        print(summary)
        return
    if accept:
        print(run_async(_accept(path, run_id)))
        return
    assert rework is not None
    _rework(path, run_id, rework, list(subtask or []))


def _verdict_lines(review: AwaitingReview) -> str:
    run_id = review.execution.id
    lines = [f"run {run_id} awaits your review", "", (review.execution.result or "(no result)").strip(), ""]
    if review.verdict is not None:
        verdict = review.verdict
        lines.append(f"leader's review (round {review.round}): {verdict.get('overall', '')}")
        for v in verdict.get("verdicts", []):
            mark = "✔" if v.get("ok") else "✘"
            lines.append(f"  {mark} {v['subtask_id']}" + (f": {v['reasons']}" if v.get("reasons") else ""))
        if verdict.get("reasons"):
            lines.append(f"  result: {verdict['reasons']}")
    lines.append(f"accept: podium review {run_id} --accept    send back: podium review {run_id} --rework "
                 "\"what to change\" [--subtask ID]")
    return "\n".join(lines)


async def _accept(path: Path, run_id: str) -> str:
    from podium.app.session import accept_review

    execution = await accept_review(path, run_id, by="cli", source="cli")
    return f"accepted: run {execution.id} {execution.status.value}"


def _rework(path: Path, run_id: str, feedback: str, subtasks: list[str]) -> None:
    """Re-open and re-run here, with live progress, like `podium resume` (with the settings the run
    was started with; the run then awaits review again)."""
    from podium.cli.run_cmds import _Session

    async def go() -> Any:
        async with _Session(path, None, False, create=False) as session:
            # Checked and recorded first: bad input prints one line and changes nothing.
            execution = await session.app.prepare_rework(run_id, feedback, subtasks, by="cli", source="cli")
            session.announce(execution.id, execution.objective, execution.team)
            return await session.drive(execution.id, yes=True)

    execution = run_async(go())
    from podium.domain import ExecutionStatus

    if execution.status.finished and execution.status is not ExecutionStatus.COMPLETED:
        sys.exit(1)
    if not execution.status.finished and execution.status is not ExecutionStatus.REVIEW:
        sys.exit(3)


@bench_app.command("control")
def bench_control(
    samples: Annotated[int, typer.Option(min=1, help="Guidance messages to time.")] = 10,
) -> None:
    """Latency from `podium guide` (a second process) to the running process recording it."""
    from podium.bench.control_bench import run

    run_async(run(samples))
