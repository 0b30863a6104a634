"""The living plan's use cases: change a run's graph while it runs (or while nobody runs it).

One entry for every front end: `podium task ...` and the TUI's plan pane and
board build a `PlanChange` and call `change_plan`; where it goes (the graph
this process runs, the process that drives the run, or the file) is the
session's and the engine's business. Bad input raises PodiumError (one line)
before anything is written.
"""

from __future__ import annotations

from pathlib import Path

from podium.app.session import ProjectSession
from podium.domain import PlanAction, PlanChange

__all__ = ["PlanAction", "PlanChange", "change_plan", "change_plan_in"]


async def change_plan(session: ProjectSession, run_id: str, change: PlanChange, *, by: str = "user",
                      source: str = "tui") -> str:
    """Apply one change; returns the line to show (what it did, the plan version it made)."""
    return await session.change_plan(run_id, change, by=by, source=source)


async def change_plan_in(project: Path, run_id: str, change: PlanChange, *, by: str = "user",
                         source: str = "cli") -> str:
    """`change_plan` on a project file from a command (no engine is built: the change goes to
    the process driving the run, or straight to the file)."""
    async with ProjectSession(project, create=False) as session:
        return await session.change_plan(run_id, change, by=by, source=source)
