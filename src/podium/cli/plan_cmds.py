"""`podium plan ...`: the plan of a run, before approval.

`podium plan edit RUN_ID` opens $EDITOR (else $VISUAL, else vi) on the plan awaiting approval
as TOML. What is saved is checked like a leader's plan; when it is not valid the problems are
shown and, at a terminal, the editor opens again on what was written; without a terminal the
command exits 2 with the problems. Nothing is saved until the plan is valid; a valid edit is
the next plan version (still awaiting approval) by its author.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from podium.cli.app import ProjectOption, app, project_path, run_async
from podium.errors import PodiumError

if TYPE_CHECKING:
    from podium.app.plan_edit import PlanDraft
    from podium.domain import Plan

plan_app = typer.Typer(help="A run's plan before approval: edit it.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")

RunId = Annotated[str, typer.Argument(help="Run id (or a unique prefix of it).", show_default=False)]


def editor_command() -> list[str]:
    """$EDITOR, else $VISUAL, else vi, split as a shell would (an editor may carry flags)."""
    for name in ("EDITOR", "VISUAL"):
        value = os.environ.get(name, "").strip()
        if value:
            return shlex.split(value)
    return ["vi"]


@plan_app.command("edit")
def edit(
    run_id: RunId,
    author: Annotated[str, typer.Option("--author", help="Who is editing (kept with the new version).")]
    = "user",
    project: ProjectOption = None,
) -> None:
    """Edit the plan awaiting approval in $EDITOR (as TOML); saved as a new version once valid."""
    from podium.app.plan_edit import PlanEditError, parse_plan_toml, plan_toml
    from podium.cli.control_cmds import controllable

    author = author.strip()
    if not author:
        raise PodiumError("--author is empty; say who is editing")
    path = controllable(project_path(None, project))
    draft = run_async(_draft(path, run_id))
    original = plan_toml(draft)
    with tempfile.TemporaryDirectory(prefix="podium-plan-") as folder:
        file = Path(folder) / f"plan-{draft.run_id}-v{draft.version}.toml"
        file.write_text(original, encoding="utf-8")
        while True:
            _open_editor(file)
            text = file.read_text(encoding="utf-8")
            if _without_problems(text) == original:
                print(f"no changes: plan v{draft.version} of run {draft.run_id} still awaits approval; "
                      "nothing was saved")
                return
            try:
                plan = parse_plan_toml(text, draft.team)
            except PlanEditError as exc:
                print(f"podium: the edited plan is not valid ({len(exc.errors)} problems):", file=sys.stderr)
                for error in exc.errors:
                    print(f"  - {error}", file=sys.stderr)
                if not sys.stdin.isatty():
                    print("podium: nothing was saved", file=sys.stderr)
                    sys.exit(2)
                if not _ask_again():
                    print("nothing was saved")
                    sys.exit(2)
                file.write_text(_with_problems(_without_problems(text), exc.errors), encoding="utf-8")
                continue
            break
    version = run_async(_save(path, draft, plan, author))
    if version is None:
        print(f"no changes: plan v{draft.version} of run {draft.run_id} still awaits approval; "
              "nothing was saved")
        return
    print(f"saved plan v{version} of run {draft.run_id} (edited by {author}, {len(plan.subtasks)} subtasks); "
          f"it awaits approval: `podium resume {draft.run_id}` asks, or approve it in the terminal app")


async def _draft(path: Path, run_id: str) -> PlanDraft:
    from podium.app.plan_edit import editable_plan
    from podium.app.session import ProjectSession

    async with ProjectSession(path, create=False) as session:
        return await editable_plan(session, run_id)


async def _save(path: Path, draft: PlanDraft, plan: Plan, author: str) -> int | None:
    from podium.app.plan_edit import save_plan
    from podium.app.session import ProjectSession

    async with ProjectSession(path, create=False) as session:
        return await save_plan(session, draft, plan, author=author)


def _open_editor(file: Path) -> None:
    command = [*editor_command(), str(file)]
    try:
        done = subprocess.run(command, check=False)
    except FileNotFoundError:
        raise PodiumError(f"cannot start the editor {command[0]!r} (set $EDITOR); nothing was saved"
                          ) from None
    if done.returncode != 0:
        raise PodiumError(f"the editor exited with status {done.returncode}; nothing was saved")


_PROBLEMS = "# PROBLEMS (fix them; these lines are dropped when saved):"


def _with_problems(text: str, errors: list[str]) -> str:
    """What the person wrote, headed by the problems found in it (for the editor's next round)."""
    return "\n".join([_PROBLEMS, *[f"#   - {e}" for e in errors], *[""], text])


def _without_problems(text: str) -> str:
    if not text.startswith(_PROBLEMS):
        return text
    lines = text.split("\n")
    rest = 1
    while rest < len(lines) and lines[rest].startswith("#   - "):
        rest += 1
    if rest < len(lines) and lines[rest] == "":
        rest += 1
    return "\n".join(lines[rest:])


def _ask_again() -> bool:
    sys.stdout.write("Re-open the editor to fix them? [Y/n] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("", "y", "yes")
