"""The engine: plan, approve, execute the graph, synthesise — durably and resumably.

State lives in the project file, never only here: every step is written
(with its event) before anything reacts to it, so a process killed at any
moment can be resumed from the tables by `resume(run_id)`. What the engine
keeps in memory (RunState, the control channel) is rebuilt from the file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from podium.domain import (
    Budget,
    Execution,
    ExecutionStatus,
    InterventionKind,
    Phase,
    PlanChange,
    PlanStatus,
    RunSettings,
    Subtask,
    SubtaskStatus,
    Team,
)
from podium.errors import PodiumError
from podium.llm.types import BudgetExceeded, ModelConfigError
from podium.orchestrator.actions import ActionRegistry
from podium.orchestrator.collaboration import default_actions
from podium.orchestrator.control import Halted, RunControl
from podium.orchestrator.deps import AgentDeps, bus_publisher
from podium.orchestrator.phases import execution as executing
from podium.orchestrator.phases.common import halt, halt_cancels
from podium.orchestrator.phases.lessons import conclude
from podium.orchestrator.phases.plan import PlanProposal, discuss, propose_plan
from podium.orchestrator.phases.review import review
from podium.orchestrator.phases.synthesis import summary, synthesise
from podium.orchestrator.plan_graph import with_dependents
from podium.orchestrator.ports import GatewayPort, MemoryPort, ToolsPort
from podium.orchestrator.review import verdict_text
from podium.orchestrator.runstate import RunGuard, RunState
from podium.orchestrator.settings import EngineSettings
from podium.orchestrator.watcher import InterventionWatcher
from podium.store.control import ControlRepository, PendingIntervention
from podium.store.project import ProjectStore
from podium.store.queries import RunQueries
from podium.store.runs import RunRepository, lease_owner
from podium.tools.approvals import expire_pending

__all__ = ["Engine", "PlanProposal", "RunStopped"]

log = logging.getLogger(__name__)
HEARTBEAT_S = 2.0


class RunStopped(PodiumError):
    """The run was halted (by a person, a budget or a configuration problem); it can be resumed."""

    exit_code = 3

    def __init__(self, run_id: str, reason: str) -> None:
        super().__init__(f"run {run_id} halted: {reason}; continue with `podium resume {run_id}`")
        self.run_id = run_id
        self.reason = reason


class Engine:
    def __init__(self, store: ProjectStore, gateway: GatewayPort, *, memory: MemoryPort | None = None,
                 tools: ToolsPort | None = None, settings: EngineSettings | None = None,
                 actions: ActionRegistry | None = None, run_settings: RunSettings | None = None) -> None:
        self.store = store
        # What a front end started this engine with (flags, config), recorded with each run it
        # creates so a resume goes on the same way; None: runs record nothing (tests, benches).
        self.run_settings = run_settings
        self.repo = RunRepository(store)
        self.gateway = gateway
        self.memory = memory
        self.tools = tools
        self.settings = settings or EngineSettings()
        self.actions = actions or default_actions()
        self.control_repo = ControlRepository(store)
        self._controls: dict[str, RunControl] = {}
        self._held: dict[str, int] = {}
        self._states: dict[str, RunState] = {}  # runs this engine executes (their live graph)
        self._watchers: dict[str, InterventionWatcher] = {}  # runs this engine holds (their lease)
        self.owner = lease_owner()

    # ------------------------------------------------------------ control channel

    def control(self, run_id: str) -> RunControl:
        """The run's control channel (pause/resume/halt/guide/answer), created on first use."""
        if run_id not in self._controls:
            self._controls[run_id] = RunControl(run_id, self._recorder(run_id))
        return self._controls[run_id]

    def _recorder(self, run_id: str) -> Any:
        async def record(kind: InterventionKind, text: str, subtask_id: str | None, source: str
                         ) -> int | bool:
            status = {InterventionKind.PAUSE: ExecutionStatus.PAUSED,
                      InterventionKind.RESUME: ExecutionStatus.RUNNING}.get(kind)
            current = (await self.repo.get_execution(run_id)).status
            if current.finished:
                raise PodiumError(f"run {run_id} is already {current.value}; nothing to control")
            if status is ExecutionStatus.RUNNING and current is not ExecutionStatus.PAUSED:
                status = None
            # Who drives the run is read where the row is written (one transaction), so a session
            # claiming the run meanwhile still gets it.
            iid, driver = await self.repo.steer(run_id, kind, text=text, subtask_id=subtask_id, source=source,
                                                me=self.owner, status=status)
            if driver == self.owner or (driver is None and kind in (InterventionKind.GUIDANCE,
                                                                     InterventionKind.ANSWER)):
                return iid
            # Another process drives the run (its watcher applies the row), or nobody does: then
            # a pause, resume or halt is in the file (a halt made the run `halted`), which the next
            # session starts from; the in-memory channel only carries a session's state.
            return False

        return record

    def delta_publisher(self, run_id: str, agent: str, subtask_id: str | None,
                        phase: Phase = Phase.EXECUTION) -> Callable[[str], None] | None:
        """A callback publishing streamed text as transient events, or None if nobody listens."""
        return bus_publisher(self.store.bus)(run_id, agent, subtask_id, phase)

    def deps(self) -> AgentDeps:
        """What this engine hands down to the phases and agents (built from its attributes now,
        so a collaborator set after construction, such as `tools`, is the one they get)."""
        return AgentDeps(gateway=self.gateway, runs=self.repo, control_repo=self.control_repo,
                         settings=self.settings, publish=bus_publisher(self.store.bus), memory=self.memory,
                         tools=self.tools)

    # ------------------------------------------------------------ creating and planning

    async def create_run(self, objective: str, team: Team, *, model: str | None = None,
                         budget: Budget | None = None) -> str:
        objective = objective.strip()
        if not objective:
            raise PodiumError("the objective is empty; say what the team should do")
        settings = self.settings_for(team, self.run_settings, model) if self.run_settings else None
        execution = Execution(objective=objective, team=team.name, budget=budget or Budget(),
                              model=settings.model if settings else model, settings=settings)
        await self.repo.create_execution(execution, team)
        return execution.id

    def settings_for(self, team: Team, base: RunSettings, model: str | None = None) -> RunSettings:
        """`base` with the models resolved as this engine's gateway resolves them: the one model
        for every agent (`model`, else base.model), the default, and each agent's."""
        explicit = model or base.model
        resolve = self.gateway.resolve
        return base.model_copy(update={
            "model": resolve(explicit) if explicit else None,
            "default_model": resolve(base.default_model),
            "agents": {a.name: resolve(explicit or a.model or team.model) for a in team.agents},
        })

    async def _load(self, run_id: str) -> tuple[Execution, Team, RunGuard]:
        execution = await self.repo.get_execution(run_id)
        team = await self.repo.get_team(execution.id)
        guard = RunGuard(execution.budget, execution.usage, execution.steps, execution.active_seconds)
        return execution, team, guard

    async def plan(self, run_id: str, feedback: str | None = None) -> PlanProposal:
        """Discussion (each specialist's perspective), then the leader's validated plan."""
        execution, team, guard = await self._load(run_id)
        if execution.status not in (ExecutionStatus.PLANNING, ExecutionStatus.HALTED):
            raise PodiumError(f"run {execution.id} is {execution.status.value}; it cannot be planned now")
        async with self.driving(execution.id):
            return await self._plan(execution, team, guard, feedback)

    async def _plan(self, execution: Execution, team: Team, guard: RunGuard, feedback: str | None
                    ) -> PlanProposal:
        if execution.status is ExecutionStatus.HALTED:
            await self.repo.set_status(execution.id, ExecutionStatus.PLANNING)
        control = self.control(execution.id)
        deps = self.deps()
        try:
            async with halt_cancels(control):
                if control.halted:  # halted since this session took the run (no call to cancel yet)
                    raise Halted(control.halt_reason)
                discussion = await discuss(deps, control, execution, team, guard)
                return await propose_plan(deps, execution, team, guard, discussion, feedback)
        except Halted as exc:
            await halt(deps, execution.id, guard, str(exc))
            raise RunStopped(execution.id, str(exc)) from None
        except BudgetExceeded as exc:
            await halt(deps, execution.id, guard, str(exc))
            raise RunStopped(execution.id, str(exc)) from None
        except ModelConfigError:
            await halt(deps, execution.id, guard, "model configuration error")
            raise

    async def approve(self, run_id: str, by: str = "user") -> None:
        execution = await self.repo.get_execution(run_id)
        latest = await self.repo.latest_plan(execution.id)
        if execution.status is not ExecutionStatus.AWAITING_APPROVAL or latest is None \
                or latest.status is not PlanStatus.PROPOSED:
            raise PodiumError(f"run {execution.id} has no plan awaiting approval ({execution.status.value})")
        await self.repo.approve_plan(execution.id, latest.version, latest.plan, by)

    async def reject(self, run_id: str, feedback: str) -> PlanProposal:
        """Reject the proposed plan (kept, with the feedback) and have the leader plan again."""
        feedback = feedback.strip()
        if not feedback:
            raise PodiumError("say what is wrong with the plan: the feedback is empty")
        execution = await self.repo.get_execution(run_id)
        latest = await self.repo.latest_plan(execution.id)
        if execution.status is not ExecutionStatus.AWAITING_APPROVAL or latest is None \
                or latest.status is not PlanStatus.PROPOSED:
            raise PodiumError(f"run {execution.id} has no plan awaiting approval ({execution.status.value})")
        await self.repo.reject_plan(execution.id, latest.version, feedback)
        return await self.plan(execution.id, feedback=feedback)

    # ------------------------------------------------------------ executing

    async def execute(self, run_id: str) -> Execution:
        """Run the approved plan's graph, then synthesise. Returns the run as it ended.

        On a halted run this is a resume: like `resume`, the run's lease is taken first, and
        the run is read (and refused) under it."""
        async with self.taking(run_id, "execute") as execution:
            run_id = execution.id
            subtasks = await self.repo.subtasks(run_id)
            if not subtasks:
                raise PodiumError(f"run {run_id} has no approved plan ({execution.status.value})")
            execution, team, guard = await self._load(run_id)
            return await self._execute(execution, team, guard, subtasks)

    async def _execute(self, execution: Execution, team: Team, guard: RunGuard, subtasks: list[Subtask]
                       ) -> Execution:
        run_id = execution.id
        # Not reset here: a halt that arrived since this session took the run (the lease) stands,
        # and stops it before its first subtask; the previous session's state was cleared when
        # it let the run go (`driving`).
        control = self.control(run_id)
        watcher = self._watchers.get(run_id)
        if watcher is not None:  # what was sent before now is applied before anything starts
            await watcher.poll()
        await self._restore_standing(run_id, control)
        deps = self.deps()
        state = await executing.prepare(deps, execution, team, guard, control, subtasks)
        self._states[run_id] = state
        result = await executing.run_subtasks(deps, self.actions, state)
        if result.stopped is not None:
            await halt(deps, run_id, guard, control.halt_reason if control.halted else result.stopped)
            return await self.repo.get_execution(run_id)
        return await self._finish(deps, state)

    async def _restore_standing(self, run_id: str, control: RunControl) -> None:
        """Guidance is standing instruction: a new session (after a crash or halt) keeps what the
        human already said, so restarted and later subtasks still get it (each row once).
        Answers given while nobody ran the run reach restarted agents as context instead."""
        covered = []
        standing = (InterventionKind.GUIDANCE, InterventionKind.ANSWER)
        for row in await RunQueries(self.store).interventions(run_id, kinds=standing):
            if row.kind is InterventionKind.GUIDANCE:
                control.apply(InterventionKind.GUIDANCE, row.text, row.subtask_id, row.source,
                              intervention_id=row.id)
            if row.consumed_at is None and row.id is not None:
                covered.append(row.id)
        await self.control_repo.mark_consumed(covered)

    async def _finish(self, deps: AgentDeps, state: RunState) -> Execution:
        """After the graph: the synthesis, then the review or the result straight away."""
        run_id, team, guard = state.execution.id, state.team, state.guard
        ordered = list(state.subtasks.values())
        counts = summary(ordered)
        if not any(s.status is SubtaskStatus.DONE for s in ordered):
            await conclude(deps, state.execution, team, guard, ordered, None)
            await self.repo.set_result(run_id, None, ExecutionStatus.FAILED, f"no subtask finished; {counts}")
            return await self.repo.get_execution(run_id)
        while True:
            synthesis = await synthesise(deps, state)
            if synthesis is None:  # halted, recorded
                return await self.repo.get_execution(run_id)
            if self.settings.review == "off":
                await conclude(deps, state.execution, team, guard, ordered, synthesis.text)
                await self.repo.set_result(run_id, synthesis.text, synthesis.status, counts)
                return await self.repo.get_execution(run_id)
            # review="auto" concludes inside the review, after the verdict; review="human" in
            # `accept`: a result sent back for rework is replaced by the reworked one, so storing
            # it now would keep (and later recall) a result nobody accepted, and another after it.
            if not await review(deps, state, synthesis.text, synthesis.status, counts):
                return await self.repo.get_execution(run_id)
            # The leader's verdict sent work back (bounded by review_rounds): redo it, then
            # synthesise and review again.
            await executing.rework_context(deps, state)
            result = await executing.run_subtasks(deps, self.actions, state)
            if result.stopped is not None:
                control = state.control
                await halt(deps, run_id, guard, control.halt_reason if control.halted else result.stopped)
                return await self.repo.get_execution(run_id)
            ordered = list(state.subtasks.values())  # a live change may have added subtasks meanwhile
            counts = summary(ordered)

    # ------------------------------------------------------------ the human's review

    async def accept(self, run_id: str, *, by: str = "user", source: str = "tui") -> Execution:
        """Accept a result awaiting review: the run ends completed (or partial)."""
        execution = await self.repo.get_execution(run_id)
        self._check_review(execution)
        subtasks = await self.repo.subtasks(execution.id)
        # Finished work awaiting this review sits in the Review column: it is done work.
        missing = [s for s in subtasks if s.status not in (SubtaskStatus.DONE, SubtaskStatus.REVIEW)]
        status = ExecutionStatus.PARTIAL if missing else ExecutionStatus.COMPLETED
        # Memory and lessons before the decision: the run's final status stays its last event
        # (followers stop there). The lessons call is best effort, so it never blocks the accept.
        execution, team, guard = await self._load(execution.id)
        latest = await self.control_repo.latest_review(execution.id)
        await conclude(self.deps(), execution, team, guard, subtasks, execution.result,
                       notes=verdict_text(latest.verdict) if latest and latest.verdict else None)
        await self.control_repo.decide_review(execution.id, decision="accept", feedback=None, subtasks=[],
                                              reopen=[], by=by, source=source, status=status,
                                              reason=f"accepted by {by}")
        return await self.repo.get_execution(execution.id)

    async def rework(self, run_id: str, feedback: str, subtasks: list[str] | None = None, *, by: str = "user",
                     source: str = "tui", run: bool = True) -> Execution:
        """Send a result back: re-open the named subtasks (and what depends on them) with the
        feedback in their context, or with none named only the synthesis; then (with `run`)
        re-run just those and synthesise and review again."""
        feedback = feedback.strip()
        if not feedback:
            raise PodiumError("say what should change: the feedback is empty")
        execution = await self.repo.get_execution(run_id)
        self._check_review(execution)
        all_subtasks = await self.repo.subtasks(execution.id)
        by_id = {s.id: s for s in all_subtasks}
        named = list(dict.fromkeys(subtasks or []))
        unknown = [i for i in named if i not in by_id]
        if unknown:
            raise PodiumError(f"run {execution.id} has no subtask {unknown[0]!r} "
                              f"(its subtasks: {', '.join(by_id)})")
        graph = {s.id: s.depends_on for s in all_subtasks}
        reopen = with_dependents(named, [s.id for s in all_subtasks], graph)
        what = ", ".join(reopen) if reopen else "the synthesis"
        await self.control_repo.decide_review(
            execution.id, decision="rework", feedback=feedback, subtasks=named,
            reopen=[by_id[i] for i in reopen], by=by, source=source, status=ExecutionStatus.RUNNING,
            reason=f"sent back for rework by {by}: {what}")
        if not run:
            return await self.repo.get_execution(execution.id)
        return await self.execute(execution.id)

    def _check_review(self, execution: Execution) -> None:
        if execution.status is not ExecutionStatus.REVIEW:
            raise PodiumError(f"run {execution.id} is {execution.status.value}; only a result awaiting "
                              "review can be accepted or sent back")

    # ------------------------------------------------------------ the living plan

    async def change_plan(self, run_id: str, change: PlanChange, *, by: str = "user", source: str = "tui"
                          ) -> str:
        """Change a run's live graph: the running graph if this engine executes it, else through
        the file (posted to the process that drives it, or written directly). One line back."""
        state = self._states.get(run_id)
        if state is not None and state.live is not None:
            applied = await state.live.apply(change, by=by, source=source)
            return f"{applied.summary} (plan v{applied.version})"
        from podium.orchestrator.plan_steering import PlanSteering

        return (await PlanSteering(self.store, source=source).change(run_id, change, by=by)).message

    async def _posted_change(self, run_id: str, item: PendingIntervention) -> None:
        """A change another process posted: applied to the running graph, the outcome on the row."""
        state = self._states.get(run_id)
        try:
            if state is None or state.live is None:
                raise PodiumError(f"run {run_id} is not running its graph now; try again when it does")
            # A person at a terminal, else the leader or an agent that asked for it.
            by = "user" if item.source in ("cli", "tui") else item.source
            applied = await state.live.apply(PlanChange.model_validate_json(item.text), by=by,
                                             source=item.source)
            ok, reason = True, f"{applied.summary} (plan v{applied.version})"
        except (PodiumError, ValueError) as exc:
            ok, reason = False, str(exc).splitlines()[0]
        await self.control_repo.consume(run_id, item, by=self.owner, applied=ok, reason=reason)

    # ------------------------------------------------------------ resuming

    async def resume(self, run_id: str, *, budget: Budget | None = None) -> Execution:
        """Continue an interrupted, paused or halted run from what the file holds.

        Planning that never produced a plan is redone; a plan awaiting approval
        is left for the caller to approve; an approved plan is executed (done
        subtasks are kept, in-flight ones restart); a run whose subtasks all
        finished only re-runs the synthesis.
        """
        async with self.taking(run_id, "resume") as execution:
            if budget is not None:
                await self.repo.set_budget(execution.id, budget)
            if await self.repo.subtasks(execution.id):
                return await self.execute(execution.id)
            latest = await self.repo.latest_plan(execution.id)
            if latest is not None and latest.status is PlanStatus.PROPOSED:
                if execution.status is not ExecutionStatus.AWAITING_APPROVAL:
                    await self.repo.set_status(execution.id, ExecutionStatus.AWAITING_APPROVAL)
            else:
                if execution.status is not ExecutionStatus.PLANNING:
                    await self.repo.set_status(execution.id, ExecutionStatus.PLANNING, "resumed")
                await self.plan(execution.id)
            return await self.repo.get_execution(execution.id)

    @asynccontextmanager
    async def taking(self, run_id: str, verb: str = "resume") -> AsyncIterator[Execution]:
        """Take a run to resume or execute it: its lease first, then the run as read under it.

        Every halt written from the moment this is asked for reaches the session: one written
        before the lease is taken (nobody held the run, so it was only recorded: the run was
        halted already) is applied when it is taken; one written after is left for this
        process's watcher, which the execution polls before its first subtask. A finished run
        or one awaiting review is refused (before and after the claim)."""
        execution = await self.repo.get_execution(run_id)
        _check_open(execution, verb)
        asked = await self.control_repo.last_id(execution.id)
        async with self.driving(execution.id, since=asked):
            execution = await self.repo.get_execution(execution.id)
            _check_open(execution, verb)
            yield execution

    # ------------------------------------------------------------ the lease

    @asynccontextmanager
    async def driving(self, run_id: str, *, since: int | None = None) -> AsyncIterator[None]:
        """Hold the run's lease while planning or executing it.

        A second process (`podium resume` in another terminal) then sees a live
        owner and does not start the same work twice; a killed process's lease
        dies with it. `since`: the run's last intervention id when the caller was
        asked to take the run (a resume); halts written after it, before the claim,
        are for this session too (already held: the holder's session has them).
        """
        owner = self.owner
        depth = self._held.get(run_id, 0)
        watcher = None
        if depth == 0:
            claimed = await self.repo.claim(run_id, owner)
            if since is not None:
                for item in await self.control_repo.halts_between(run_id, since, claimed):
                    self.control(run_id).apply(item.kind, item.text, item.subtask_id, item.source,
                                               intervention_id=item.id)
            # Control rows a previous process never took up must not act on this session; rows
            # written since the claim are for this session.
            await self.control_repo.sweep_stale(run_id, by=owner, upto=claimed)
            # Tool approvals a killed process left pending: nobody waits on them any more (this
            # process holds the lease now). Here, not in the tools port: a process without
            # tools (a rework from `podium review`) takes runs over too.
            await expire_pending(self.store, run_id)
            watcher = InterventionWatcher(self.control_repo, run_id, self.control(run_id), owner=owner,
                                          interval=self.settings.watch_interval_s)
            watcher.on_plan_change = lambda item: self._posted_change(run_id, item)
            watcher.start()
            self._watchers[run_id] = watcher
        self._held[run_id] = depth + 1
        beat = asyncio.create_task(self._heartbeat(run_id, owner)) if depth == 0 else None
        try:
            yield
        finally:
            self._held[run_id] -= 1
            if beat is not None:
                beat.cancel()
                with suppress(asyncio.CancelledError):
                    await beat
                if watcher is not None:
                    await watcher.stop()
                    self._watchers.pop(run_id, None)
                # A halt or pause was for this session (it acted on it, or ended anyway): the
                # next one starts from the file (a halted run is continued by a resume).
                self.control(run_id).reset()
                del self._held[run_id]
                self._states.pop(run_id, None)
                await self.repo.release(run_id, owner)

    async def _heartbeat(self, run_id: str, owner: str) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.repo.heartbeat(run_id, owner)
            except Exception:  # a missed beat only makes the lease look older
                log.warning("heartbeat for %s failed", run_id, exc_info=True)



def _check_open(execution: Execution, verb: str) -> None:
    """A finished run, or one whose result awaits the human's review, is not resumed or executed."""
    if execution.status.finished:
        raise PodiumError(f"run {execution.id} is already {execution.status.value}; nothing to {verb}")
    if execution.status is ExecutionStatus.REVIEW:
        raise PodiumError(_awaits_review(execution.id))


def _awaits_review(run_id: str) -> str:
    return (f"run {run_id} awaits your review: `podium review {run_id} --accept`, or "
            f"`--rework \"what to change\" [--subtask ID]`")

