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
from podium.domain import PlanAction, PlanChange, Proposal, ProposalStatus
from podium.errors import PodiumError

__all__ = ["PlanAction", "PlanChange", "Proposal", "ProposalStatus", "change_plan", "change_plan_in",
           "decide_proposal", "decide_proposal_in", "pending_proposals", "proposals", "proposals_in"]


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


# ---------------------------------------------------------------- proposals


async def proposals(session: ProjectSession, run_id: str) -> list[Proposal]:
    """A run's proposals (agents' new subtasks, the leader's replans), oldest first."""
    from podium.store.proposals import ProposalRepository

    return await ProposalRepository(session.store).list(await session.runs.resolve_id(run_id))


async def pending_proposals(session: ProjectSession, run_id: str) -> list[Proposal]:
    return [p for p in await proposals(session, run_id) if p.status is ProposalStatus.PENDING]


async def decide_proposal(session: ProjectSession, run_id: str, number: int, *, accept: bool,
                          reason: str | None = None, by: str = "user", source: str = "tui") -> str:
    """Accept (its changes join the live graph, by their author, accepted by `by`) or decline a
    pending proposal; works on a run this session drives, one another process drives, or one
    nobody drives. Returns the line to show; PodiumError (one line, nothing written) if it
    cannot be decided."""
    from podium.store.proposals import ProposalRepository

    run_id = await session.runs.resolve_id(run_id)
    repo = ProposalRepository(session.store)
    proposal = await repo.get(run_id, number)
    if proposal.status is not ProposalStatus.PENDING:
        raise PodiumError(f"proposal {number} was already {proposal.status.value}"
                          + (f" by {proposal.decided_by}" if proposal.decided_by else ""))
    if accept:
        done = await session.change_plan(run_id, PlanChange(action=PlanAction.ACCEPT, proposal=number),
                                         by=by, source=source)
        return f"accepted proposal {number}: {done}"
    why = (reason or "").strip() or f"declined by {by}"
    await repo.decline(run_id, number, by=by, reason=why)
    return f"declined proposal {number} ({why})"


async def proposals_in(project: Path, run_id: str) -> list[Proposal]:
    async with ProjectSession(project, create=False) as session:
        return await proposals(session, run_id)


async def decide_proposal_in(project: Path, run_id: str, number: int, *, accept: bool,
                             reason: str | None = None, by: str = "user", source: str = "cli") -> str:
    async with ProjectSession(project, create=False) as session:
        return await decide_proposal(session, run_id, number, accept=accept, reason=reason, by=by,
                                     source=source)
