"""Forking a run: a new run from any run's finished work, re-running only what must run again.

`podium fork`, the terminal app's fork key and anything else call `fork_run`: it checks the
request, decides how the fork goes (the parent's recorded settings, with what was given in place:
another model, team, endpoint, budget...), and has the store make the fork in one transaction.
The fork then waits for plan approval like any new run and is driven (approved, executed,
reviewed) by the usual drive: the subtasks asked to run again (`--from`), what was unfinished and
everything downstream run; everything else was copied with its output, transcript and usage, and
calls no model. An archive is imported into the project first (`import_archive_run`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from podium.app.run_settings import ResumeOptions, merged_budget, resumed_settings
from podium.domain import Execution, ExecutionStatus, RunSettings, RunSummary, new_id
from podium.errors import PodiumError
from podium.store.fork import ForkRecord, ForkRepository, ForkRequest, Reused

if TYPE_CHECKING:
    from podium.app.session import ProjectSession

__all__ = ["ForkOptions", "ForkOutcome", "ForkRecord", "Reused", "as_tree", "fork_note", "fork_run",
           "import_archive_run", "lineage", "lineage_of_all", "parse_edits", "read_edits"]

EDIT_LIMIT = 1_000_000  # characters of a replacement output (a file, or the app's editor)


@dataclass
class ForkOptions:
    """How to fork: the subtasks to run again (with what depends on them), outputs to replace
    before forking (subtask id -> text; their dependents run again), a new objective or team, and
    the run settings and budget from now on (`run.model`: every agent's model)."""

    rerun_from: list[str] = field(default_factory=list)
    edits: dict[str, str] = field(default_factory=dict)
    objective: str | None = None
    team: str | None = None
    run: ResumeOptions = field(default_factory=ResumeOptions)


@dataclass(frozen=True)
class ForkOutcome:
    execution: Execution
    record: ForkRecord
    settings: RunSettings


def parse_edits(items: list[str] | None) -> dict[str, Path]:
    """`--edit t2=notes.md` values: subtask id -> file. A bad one is one line (PodiumError)."""
    out: dict[str, Path] = {}
    for item in items or []:
        sid, sep, path = item.partition("=")
        if not sep or not sid.strip() or not path.strip():
            raise PodiumError(f"--edit takes SUBTASK=FILE (e.g. t2=notes.md), not {item!r}")
        if sid.strip() in out:
            raise PodiumError(f"--edit names {sid.strip()} twice")
        out[sid.strip()] = Path(path.strip()).expanduser()
    return out


def read_edits(files: dict[str, Path]) -> dict[str, str]:
    """The replacement texts (UTF-8 files); a file that cannot be read is one line."""
    texts: dict[str, str] = {}
    for sid, path in files.items():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise PodiumError(f"cannot read {path} for {sid}: {why}") from None
        texts[sid] = text
    return texts


async def import_archive_run(session: ProjectSession, archive: Path, run_id: str) -> str:
    """Copy a run from an archive into the session's project (once: the same id is the same run);
    returns its id."""
    if Path(archive).resolve() == session.project.resolve():
        return run_id
    return await ForkRepository(session.store).import_run(archive, run_id)


async def fork_run(session: ProjectSession, run_id: str, options: ForkOptions, *,
                   drive_here: bool = False) -> ForkOutcome:
    """Make the fork of `run_id` (by id or unique prefix) in the session's project: it then awaits
    approval of the parent's plan. `drive_here`: this session's engine goes on with the fork's
    settings (a command that drives it next, as `podium resume` does); the terminal app leaves it
    False and gets an engine per run. PodiumError (one line, nothing written) if it cannot be."""
    repo = session.runs
    parent = await repo.get_execution(run_id)
    for sid, text in options.edits.items():
        if not text.strip():
            raise PodiumError(f"the replacement output for {sid} is empty")
        if len(text) > EDIT_LIMIT:
            raise PodiumError(f"the replacement output for {sid} is longer than {EDIT_LIMIT:,} characters")
    objective = (options.objective if options.objective is not None else parent.objective).strip()
    if not objective:
        raise PodiumError("the objective is empty; say what the team should do")
    parent_team = await repo.get_team(parent.id)
    team = session.get_team(options.team) if options.team else parent_team
    run = options.run
    settings, endpoint, changed = resumed_settings(
        parent, session.project, model=run.model, api_base=run.api_base, concurrency=run.concurrency,
        max_tokens=run.max_tokens, review=run.review, review_rounds=run.review_rounds, living=run.living,
        # A fork's plan is approved as given now (--yes), never because the parent's was.
        yes=bool(run.approve_plans), allow_tools=run.allow_tools)
    engine = await session.ensure_engine()
    if drive_here:
        settings = session.reconfigure(settings, endpoint, team)
    else:
        settings = engine.settings_for(team, settings)
    if {"model", "api_base"} & set(changed):  # a model that cannot work is said before the fork
        gateway = session.gateway(settings.model or settings.default_model, endpoint)
        prepare = getattr(gateway, "prepare", None)
        if prepare is not None:
            for name in dict.fromkeys(settings.agents.values()):
                await asyncio.to_thread(prepare, name)
    differs = {"objective": objective != parent.objective, "model": "model" in changed,
               "team": team.name != parent_team.name, "api_base": "api_base" in changed}
    changes = [name for name, yes in differs.items() if yes]
    budget = merged_budget(parent.budget, tokens=run.budget_tokens, usd=run.budget_usd,
                           steps=run.budget_steps, seconds=run.budget_seconds)
    request = ForkRequest(parent_id=parent.id, fork_id=new_id(), objective=objective, team=team,
                          model=settings.model, budget_json=budget.model_dump_json(),
                          settings_json=settings.model_dump_json(),
                          rerun_from=list(dict.fromkeys(options.rerun_from)),
                          edits=dict(options.edits), changes=changes)
    record = await ForkRepository(session.store).fork(request)
    try:
        # A fork of a run on the user's folder works on its own worktree or copy of it.
        await session.fork_workspaces.attach(record.run_id)
    except PodiumError as exc:
        why = f"its workspace could not be made: {exc}"
        await repo.set_status(record.run_id, ExecutionStatus.FAILED, reason=why)
        raise
    return ForkOutcome(execution=await repo.get_execution(record.run_id), record=record, settings=settings)


async def lineage(session: ProjectSession, run_id: str) -> ForkRecord | None:
    """The run's fork record: its parent, fork points, edits and reused subtasks (None: not a fork)."""
    return await ForkRepository(session.store).lineage(await session.runs.resolve_id(run_id))


async def lineage_of_all(session: ProjectSession) -> dict[str, tuple[str, list[str]]]:
    """Every fork in the project: run id -> (parent id, the subtasks it re-ran from or edited)."""
    return await ForkRepository(session.store).parents()


def as_tree(runs: list[RunSummary], forks: dict[str, tuple[str, list[str]]]) -> list[tuple[int, RunSummary]]:
    """Runs (newest first) with their forks under them: (depth, run) in display order. A fork whose
    parent is not listed (older than the list, or in another file) is a root of its own."""
    listed = {r.id for r in runs}
    children: dict[str, list[RunSummary]] = {}
    roots: list[RunSummary] = []
    for r in runs:
        parent = forks.get(r.id, (None, []))[0]
        if parent is not None and parent in listed and parent != r.id:
            children.setdefault(parent, []).append(r)
        else:
            roots.append(r)
    out: list[tuple[int, RunSummary]] = []
    seen: set[str] = set()

    def visit(run: RunSummary, depth: int) -> None:
        if run.id in seen:
            return
        seen.add(run.id)
        out.append((depth, run))
        for child in sorted(children.get(run.id, []), key=lambda c: c.created_at):
            visit(child, depth + 1)

    for root in roots:
        visit(root, 0)
    return out


def fork_note(forks: dict[str, tuple[str, list[str]]], run_id: str) -> str | None:
    """"↳ fork of PARENT from t3" for a fork, None for any other run."""
    if run_id not in forks:
        return None
    parent, points = forks[run_id]
    return f"↳ fork of {parent}" + (f" from {', '.join(points)}" if points else "")
