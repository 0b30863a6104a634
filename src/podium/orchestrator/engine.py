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
from dataclasses import dataclass
from typing import Any

from podium import events as ev
from podium.domain import (
    Budget,
    Execution,
    ExecutionStatus,
    InterventionKind,
    Message,
    Phase,
    Plan,
    PlanStatus,
    Role,
    RunSettings,
    Subtask,
    SubtaskStatus,
    Team,
)
from podium.errors import PodiumError
from podium.llm.types import BudgetExceeded, CallContext, CallResult, LLMError, ModelConfigError
from podium.orchestrator import context as prompts
from podium.orchestrator.actions import ActionRegistry
from podium.orchestrator.agent import AgentLoop, Outcome, delta_event
from podium.orchestrator.collaboration import default_actions
from podium.orchestrator.control import Halted, RunControl
from podium.orchestrator.leader_plan import leader_plan
from podium.orchestrator.lessons import (
    LESSONS_PHASE,
    fallback_lessons,
    lessons_messages,
    lessons_of,
    lessons_schema,
    lessons_text,
)
from podium.orchestrator.ports import GatewayPort, MemoryPort, ToolsPort
from podium.orchestrator.review import review_messages, review_schema, verdict_payload, verdict_text
from podium.orchestrator.runstate import RunGuard, RunState
from podium.orchestrator.scheduler import Parking, StopRun, run_graph
from podium.orchestrator.settings import EngineSettings
from podium.orchestrator.watcher import InterventionWatcher
from podium.store.control import ControlRepository
from podium.store.project import ProjectStore
from podium.store.queries import RunQueries
from podium.store.runs import RunBusyError, RunRepository, lease_owner
from podium.tools.approvals import expire_pending

log = logging.getLogger(__name__)
HEARTBEAT_S = 2.0


class RunStopped(PodiumError):
    """The run was halted (by a person, a budget or a configuration problem); it can be resumed."""

    exit_code = 3

    def __init__(self, run_id: str, reason: str) -> None:
        super().__init__(f"run {run_id} halted: {reason}; continue with `podium resume {run_id}`")
        self.run_id = run_id
        self.reason = reason


@dataclass(frozen=True)
class PlanProposal:
    version: int
    plan: Plan
    fallback: bool
    errors: list[str]


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
            owner = await self.repo.live_owner(run_id)
            if owner is not None and owner != self.owner:
                # Another process drives the run (a headless `podium run`): its watcher applies it.
                await self.repo.add_intervention(run_id, kind, text=text, subtask_id=subtask_id,
                                                 source=source)
                return False
            if status is ExecutionStatus.RUNNING and current is not ExecutionStatus.PAUSED:
                status = None
            return await self.repo.add_intervention(run_id, kind, text=text, subtask_id=subtask_id,
                                                    source=source, consumed=True, status=status)

        return record

    def delta_publisher(self, run_id: str, agent: str, subtask_id: str | None,
                        phase: Phase = Phase.EXECUTION) -> Callable[[str], None] | None:
        """A callback publishing streamed text as transient events, or None if nobody listens."""
        bus = self.store.bus
        if not bus.subscriber_count:
            return None

        def publish(text: str) -> None:
            if text:
                bus.publish([delta_event(run_id, agent, subtask_id, phase, text)])

        return publish

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
        control.reset()
        try:
            async with _halt_cancels(control):
                discussion = await self._discuss(execution, team, guard)
                return await self._leader_plan(execution, team, guard, discussion, feedback)
        except Halted as exc:
            await self._halt(execution.id, guard, str(exc))
            raise RunStopped(execution.id, str(exc)) from None
        except BudgetExceeded as exc:
            await self._halt(execution.id, guard, str(exc))
            raise RunStopped(execution.id, str(exc)) from None
        except ModelConfigError:
            await self._halt(execution.id, guard, "model configuration error")
            raise

    async def _discuss(self, execution: Execution, team: Team, guard: RunGuard) -> list[Message]:
        done = await self.repo.messages(execution.id, phase=Phase.DISCUSSION)
        if not self.settings.discussion:
            return done
        spoken = {m.agent for m in done}
        for agent in team.specialists:
            if agent.name in spoken:  # resumed after a crash mid-discussion
                continue
            await self.control(execution.id).wait_running()
            messages = prompts.perspective_messages(agent, team, execution.objective, done)
            try:
                result = await self.gateway.complete(
                    messages, context=CallContext(execution_id=execution.id, phase=Phase.DISCUSSION.value,
                                                  agent=agent.name),
                    guard=guard, model=self._model(execution, team, agent.name),
                    on_delta=self.delta_publisher(execution.id, agent.name, None, Phase.DISCUSSION),
                    max_tokens=self.settings.perspective_max_tokens,
                )
            except LLMError as exc:
                # A missing perspective is a pity, not a reason to stop planning.
                log.warning("perspective of %s failed: %s", agent.name, exc)
                continue
            message = await self._store_reply(execution.id, agent.name, Phase.DISCUSSION, result, guard,
                                              extra=(ev.DISCUSSION_CONTRIBUTION, {"agent": agent.name,
                                                                                  "content": result.content}))
            done.append(message)
        return done

    async def _leader_plan(self, execution: Execution, team: Team, guard: RunGuard,
                           discussion: list[Message], feedback: str | None) -> PlanProposal:
        leader = team.agent(team.leader)
        rejected = [(p.plan, p.feedback or "") for p in await self.repo.plans(execution.id)
                    if p.status is PlanStatus.REJECTED]
        messages = prompts.plan_messages(leader, team, execution.objective, discussion,
                                         max_subtasks=self.settings.max_plan_subtasks,
                                         rejected=rejected, feedback=feedback)

        async def on_reply(result: CallResult, candidate: Plan, errors: list[str]) -> None:
            await self._store_reply(execution.id, leader.name, Phase.PLANNING, result, guard,
                                    content=_plan_text(candidate, errors))

        async def on_failure() -> None:
            await self.repo.record_usage(execution.id, guard.usage, guard.steps, guard.elapsed())

        outcome = await leader_plan(
            self.gateway, team, execution.objective, messages=messages,
            context=CallContext(execution_id=execution.id, phase=Phase.PLANNING.value, agent=leader.name),
            guard=guard, model=self._model(execution, team, leader.name),
            max_subtasks=self.settings.max_plan_subtasks, max_tokens=self.settings.plan_max_tokens,
            on_reply=on_reply, on_failure=on_failure)
        version = await self.repo.add_plan(execution.id, outcome.plan, fallback=outcome.fallback,
                                           errors=outcome.errors, feedback=feedback)
        return PlanProposal(version, outcome.plan, outcome.fallback, outcome.errors)

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
        """Run the approved plan's graph, then synthesise. Returns the run as it ended."""
        execution, team, guard = await self._load(run_id)
        run_id = execution.id
        if execution.status.finished:
            raise PodiumError(f"run {run_id} is already {execution.status.value}")
        if execution.status is ExecutionStatus.REVIEW:
            raise PodiumError(_awaits_review(run_id))
        subtasks = await self.repo.subtasks(run_id)
        if not subtasks:
            raise PodiumError(f"run {run_id} has no approved plan ({execution.status.value})")
        async with self.driving(run_id):
            return await self._execute(execution, team, guard, subtasks)

    async def _execute(self, execution: Execution, team: Team, guard: RunGuard, subtasks: list[Subtask]
                       ) -> Execution:
        run_id = execution.id
        control = self.control(run_id)
        control.reset()
        # Guidance is standing instruction: a new session (after a crash or halt) keeps what the
        # human already said, so restarted and later subtasks still get it (each row once).
        # Answers given while nobody ran the run reach restarted agents as context instead.
        covered = []
        standing = (InterventionKind.GUIDANCE, InterventionKind.ANSWER)
        for row in await RunQueries(self.store).interventions(run_id, kinds=standing):
            if row.kind is InterventionKind.GUIDANCE:
                control.apply(InterventionKind.GUIDANCE, row.text, row.subtask_id, row.source,
                              intervention_id=row.id)
            if row.consumed_at is None and row.id is not None:
                covered.append(row.id)
        await self.control_repo.mark_consumed(covered)
        # In-flight work from a crashed or halted session starts over; done work is kept.
        interrupted = [s for s in subtasks if s.status in
                       (SubtaskStatus.RUNNING, SubtaskStatus.WAITING_PEER, SubtaskStatus.NEEDS_HELP)]
        await self.repo.set_subtasks_status(run_id, [(s, SubtaskStatus.PENDING, "restarted")
                                                     for s in interrupted])
        for s in interrupted:
            s.status = SubtaskStatus.PENDING
        if execution.status is not ExecutionStatus.RUNNING:
            await self.repo.set_status(run_id, ExecutionStatus.RUNNING)
        state = RunState(execution=execution, team=team, guard=guard, control=control,
                         window_messages=self.settings.window_messages,
                         subtasks={s.id: s for s in subtasks},
                         outputs={s.id: s.output or "" for s in subtasks if s.status is SubtaskStatus.DONE},
                         parking=Parking(), help_answers=await self.control_repo.answered_help(run_id))
        await self._rework_context(state)

        async def on_blocked(ids: list[str], because: str) -> None:
            await self.repo.set_subtasks_status(run_id, [
                (state.subtasks[i], SubtaskStatus.BLOCKED, f"depends on {because}, which did not finish")
                for i in ids])
            for i in ids:
                state.subtasks[i].status = SubtaskStatus.BLOCKED

        async def gate() -> None:
            try:
                await control.wait_running()
            except Halted as exc:
                raise StopRun(str(exc)) from None

        result = await run_graph(
            {s.id: list(s.depends_on) for s in subtasks},
            lambda sid: self._run_subtask(state, sid),
            concurrency=self.settings.concurrency,
            done=[s.id for s in subtasks if s.status is SubtaskStatus.DONE],
            failed=[s.id for s in subtasks if s.status is SubtaskStatus.FAILED],
            blocked=[s.id for s in subtasks if s.status is SubtaskStatus.BLOCKED],
            on_blocked=on_blocked, before_start=gate,
            cost={s.id: float(max(1, s.estimated_tokens)) for s in subtasks},
            register_cancel=control.on_halt, parking=state.parking,
        )
        if result.stopped is not None:
            reason = control.halt_reason if control.halted else result.stopped
            await self.repo.set_subtasks_status(run_id, [
                (state.subtasks[i], SubtaskStatus.PENDING, "interrupted")
                for i in sorted(result.interrupted)])
            await self._halt(run_id, guard, reason)
            return await self.repo.get_execution(run_id)
        return await self._synthesise(state)

    async def _run_subtask(self, state: RunState, sid: str) -> bool:
        subtask = state.subtasks[sid]
        run_id = state.execution.id
        await self.repo.set_subtask_status(run_id, subtask, SubtaskStatus.RUNNING)
        subtask.status = SubtaskStatus.RUNNING
        try:
            outcome = await AgentLoop(self, state, subtask).run_loop()
        except (BudgetExceeded, Halted) as exc:
            raise StopRun(str(exc)) from None
        except ModelConfigError as exc:
            raise StopRun(f"model configuration error: {exc}") from None
        except LLMError as exc:
            outcome = Outcome(False, error=f"model call failed: {exc}")
        except Exception as exc:  # isolate: one broken subtask must not take the run down
            log.exception("subtask %s crashed", sid)
            outcome = Outcome(False, error=f"internal error: {exc!r}")
        if outcome.ok:
            await self.repo.set_subtask_status(run_id, subtask, SubtaskStatus.DONE, output=outcome.output)
            subtask.status, subtask.output = SubtaskStatus.DONE, outcome.output
            state.outputs[sid] = outcome.output
            await self._remember(state, subtask, outcome.output)
        else:
            await self.repo.set_subtask_status(run_id, subtask, SubtaskStatus.FAILED, error=outcome.error)
            subtask.status, subtask.error = SubtaskStatus.FAILED, outcome.error
        return outcome.ok

    async def _remember(self, state: RunState, subtask: Subtask, output: str) -> None:
        if self.memory is None:
            return
        try:
            await self.memory.remember_output(agent=subtask.agent, text=output,
                                              execution_id=state.execution.id, subtask_id=subtask.id)
        except Exception:  # memory is an aid; the subtask is done regardless
            log.exception("remembering the output of %s failed", subtask.id)

    async def _synthesise(self, state: RunState) -> Execution:
        run_id, team, guard = state.execution.id, state.team, state.guard
        ordered = list(state.subtasks.values())
        results = [(s, state.outputs[s.id]) for s in ordered if s.status is SubtaskStatus.DONE]
        missing = [s for s in ordered if s.status is not SubtaskStatus.DONE]
        summary = _summary(ordered)
        if not results:
            await self._conclude(state.execution, team, guard, ordered, None)
            await self.repo.set_result(run_id, None, ExecutionStatus.FAILED,
                                       f"no subtask finished; {summary}")
            return await self.repo.get_execution(run_id)
        leader = team.agent(team.leader)
        messages = prompts.synthesis_messages(leader, state.execution.objective, results, missing,
                                              self.settings.handoff_chars)
        if state.synthesis_feedback is not None:
            feedback, previous = state.synthesis_feedback
            messages[-1]["content"] += (
                f"\n\nThe human sent your previous result back with this feedback: {feedback}\n"
                f"Your previous result:\n{prompts.clip(previous, self.settings.handoff_chars)}\n"
                "Write the improved result.")
        try:
            async with _halt_cancels(state.control):
                await self._wait_if_paused(state, ExecutionStatus.SYNTHESISING)
                reply = await self.gateway.complete(
                    messages, context=CallContext(execution_id=run_id, phase=Phase.SYNTHESIS.value,
                                                  agent=leader.name),
                    guard=guard, model=state.model_for(leader),
                    on_delta=self.delta_publisher(run_id, leader.name, None, Phase.SYNTHESIS),
                    max_tokens=self.settings.synthesis_max_tokens,
                )
        except (BudgetExceeded, LLMError, Halted) as exc:
            # Resumable: every subtask output is kept; resume only re-runs the synthesis.
            why = str(exc) if isinstance(exc, Halted) else f"synthesis stopped: {exc}"
            await self._halt(run_id, guard, why)
            return await self.repo.get_execution(run_id)
        await self._store_reply(run_id, leader.name, Phase.SYNTHESIS, reply, guard)
        if self.settings.review != "off":
            # A pause taken during the synthesis holds the review (another model call) too.
            try:
                async with _halt_cancels(state.control):
                    await self._wait_if_paused(state, ExecutionStatus.SYNTHESISING)
            except Halted as exc:
                await self._halt(run_id, guard, str(exc))
                return await self.repo.get_execution(run_id)
        text = reply.content.strip() or "\n\n".join(out for _, out in results)
        status = ExecutionStatus.PARTIAL if missing else ExecutionStatus.COMPLETED
        if self.settings.review == "off":
            await self._conclude(state.execution, team, guard, ordered, text)
            await self.repo.set_result(run_id, text, status, summary)
        else:
            # review="auto" concludes inside _review, after the verdict; review="human" in `accept`:
            # a result sent back for rework is replaced by the reworked one, so storing it now
            # would keep (and later recall) a result nobody accepted, and another after the rework.
            await self._review(state, text, status, summary)
        return await self.repo.get_execution(run_id)

    async def _wait_if_paused(self, state: RunState, status: ExecutionStatus) -> None:
        """Before a step no agent's turn boundary guards (synthesis, review): hold while paused,
        then show `status`. A pause taken while the last turns were in flight has no agent left
        to stop it, so it holds here; the run shows paused meanwhile. Raises Halted on a halt."""
        run_id, control = state.execution.id, state.control
        while True:
            if control.paused:
                # Another process's pause leaves a synthesising run's status alone: say it here.
                await self._show_status(run_id, ExecutionStatus.PAUSED, "paused")
            await control.wait_running()
            await self._show_status(run_id, status)
            if not control.paused:  # no pause landed while that was written
                return

    async def _show_status(self, run_id: str, status: ExecutionStatus, reason: str | None = None) -> None:
        if (await self.repo.get_execution(run_id)).status is not status:
            await self.repo.set_status(run_id, status, reason)

    async def _review(self, state: RunState, result: str, status: ExecutionStatus, summary: str) -> None:
        """The leader checks every subtask and the result against their criteria; the verdict is
        recorded, then the result waits for the human (review="human") or is accepted ("auto")."""
        run_id, team, guard = state.execution.id, state.team, state.guard
        leader = team.agent(team.leader)
        ordered = list(state.subtasks.values())
        message = None
        try:
            draft, reply = await self.gateway.structured(
                review_messages(leader, state.execution.objective, ordered, result,
                                self.settings.handoff_chars),
                review_schema(ordered), context=CallContext(execution_id=run_id, phase=Phase.REVIEW.value,
                                                            agent=leader.name),
                guard=guard, model=state.model_for(leader), max_tokens=self.settings.review_max_tokens)
            verdict = verdict_payload(draft, ordered)
            message = Message(execution_id=run_id, agent=leader.name, role=Role.ASSISTANT, phase=Phase.REVIEW,
                              content=verdict_text(verdict), prompt_tokens=reply.usage.prompt_tokens,
                              completion_tokens=reply.usage.completion_tokens, cost_usd=reply.usage.cost_usd,
                              latency_ms=reply.latency_ms)
        except (BudgetExceeded, LLMError) as exc:
            # The person decides either way; they see why there is no verdict.
            verdict = verdict_payload(None, ordered, error=str(exc))
        auto = self.settings.review == "auto"
        outcome: dict[str, Any] = {
            "result": result, "verdict": verdict, "status": status if auto else ExecutionStatus.REVIEW,
            "summary": summary if auto else f"awaiting your review: {verdict['overall']}",
            "decided_by": "auto" if auto else None}
        # A pause taken while the review call ran holds: the verdict is recorded now, the result
        # and the status (and, with review="auto", the lessons call) wait for the resume.
        concluded = False
        if auto and not state.control.paused:  # the result is final now; lessons may learn from the verdict
            await self._conclude(state.execution, team, guard, ordered, result, notes=verdict_text(verdict))
            concluded = True
        number, settled = await self.control_repo.add_review(
            run_id, message=message, run_usage=guard.usage, steps=guard.steps, elapsed=guard.elapsed(),
            hold=state.control.paused or (auto and not concluded), **outcome)
        while not settled:
            try:
                await self._hold_while_paused(state)
            except Halted as exc:
                # The verdict stays recorded; a resume synthesises and reviews again.
                await self._halt(run_id, guard, str(exc))
                return
            if auto and not concluded:
                await self._conclude(state.execution, team, guard, ordered, result,
                                     notes=verdict_text(verdict))
                concluded = True
            settled = await self.control_repo.settle_review(run_id, number, **outcome)
            if not settled and not state.control.paused:
                # The file shows a pause this process has not applied yet (its control lands next).
                await asyncio.sleep(0.05)

    async def _hold_while_paused(self, state: RunState) -> None:
        """Wait out a pause (the run shows paused meanwhile); raise Halted on a halt."""
        run_id, control = state.execution.id, state.control
        while control.paused:
            # Another process's pause leaves the status alone: say it here.
            await self._show_status(run_id, ExecutionStatus.PAUSED, "paused")
            await control.wait_running()
        if control.halted:
            raise Halted(control.halt_reason)

    async def _rework_context(self, state: RunState) -> None:
        """After `rework`: what the human said goes to the re-opened subtasks and the synthesis."""
        latest = await self.control_repo.latest_review(state.execution.id)
        if latest is None or latest.decision != "rework":
            return
        feedback = latest.feedback or ""
        named = set(latest.subtasks)
        for sid, subtask in state.subtasks.items():
            if subtask.status is SubtaskStatus.DONE:
                continue
            if sid in named:
                previous = prompts.clip(subtask.output or "", self.settings.handoff_chars)
                state.rework_notes[sid] = (f"The human sent your previous result back for rework: {feedback}"
                                           + (f"\nYour previous result:\n{previous}" if previous else ""))
            elif named:
                state.rework_notes[sid] = (f"This subtask runs again because work it builds on was reworked "
                                           f"after the human's feedback: {feedback}")
        state.synthesis_feedback = (feedback, latest.result or "")

    # ------------------------------------------------------------ the human's review

    async def accept(self, run_id: str, *, by: str = "user", source: str = "tui") -> Execution:
        """Accept a result awaiting review: the run ends completed (or partial)."""
        execution = await self.repo.get_execution(run_id)
        self._check_review(execution)
        subtasks = await self.repo.subtasks(execution.id)
        missing = [s for s in subtasks if s.status is not SubtaskStatus.DONE]
        status = ExecutionStatus.PARTIAL if missing else ExecutionStatus.COMPLETED
        # Memory and lessons before the decision: the run's final status stays its last event
        # (followers stop there). The lessons call is best effort, so it never blocks the accept.
        execution, team, guard = await self._load(execution.id)
        latest = await self.control_repo.latest_review(execution.id)
        await self._conclude(execution, team, guard, subtasks, execution.result,
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
        reopen = _with_dependents(named, all_subtasks)
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

    async def _conclude(self, execution: Execution, team: Team, guard: RunGuard, subtasks: list[Subtask],
                        result: str | None, *, notes: str | None = None) -> None:
        """The run is ending: its final result (project-wide) and the leader's lessons (per agent
        and project) go to long-term memory, and the lessons to the transcript as a leader message
        in phase synthesis (also after a review: it is the leader's closing word on the run, and
        `podium show` lists synthesis messages).

        Called just before the run's final status is written (that stays its last event).
        Best effort: the run ends whatever happens here. The lessons are one leader call
        against a tight schema, counted against the budget like every call; if it fails or the
        budget is spent, an event says why and the failed subtasks' errors are kept instead.
        """
        if self.memory is None:
            return
        run_id = execution.id
        if result and result.strip():
            try:
                await self.memory.remember_result(text=result, execution_id=run_id)
            except Exception:  # memory is an aid; the run has its result regardless
                log.exception("remembering the result of %s failed", run_id)
        lessons: list[tuple[str | None, str]] = []
        reason: str | None = None
        if not self.settings.lessons:
            reason = "lessons are turned off"
        else:
            leader = team.agent(team.leader)
            try:
                draft, reply = await self.gateway.structured(
                    lessons_messages(leader, execution.objective, subtasks, result, notes),
                    lessons_schema(team.agent_names),
                    context=CallContext(execution_id=run_id, phase=LESSONS_PHASE, agent=leader.name),
                    guard=guard, model=self._model(execution, team, leader.name),
                    max_tokens=self.settings.lessons_max_tokens)
                lessons = lessons_of(draft)
                await self._store_reply(run_id, leader.name, Phase.SYNTHESIS, reply, guard,
                                        content=lessons_text(lessons))
            except BudgetExceeded as exc:
                reason = f"budget exhausted: {exc}"
            except LLMError as exc:
                reason = f"the leader's lessons call failed: {exc}"
            except PodiumError as exc:  # e.g. no model configured where the run is accepted
                reason = f"the leader's lessons call could not be made: {exc}"
            except Exception as exc:  # the run has ended; nothing here may take it down
                log.exception("lessons for %s failed", run_id)
                reason = f"internal error: {exc!r}"
            if reason is not None:
                # Calls that failed still cost tokens: the run's totals say so.
                await self.repo.record_usage(run_id, guard.usage, guard.steps, guard.elapsed())
        if reason is not None:
            lessons = fallback_lessons(subtasks)
            payload = {"reason": reason, "fallback": len(lessons)}
            await self.store.write(lambda tx: tx.emit(ev.MEMORY_LESSONS_SKIPPED, run_id, **payload))
        if lessons:
            try:
                await self.memory.remember_lessons(lessons=lessons, execution_id=run_id)
            except Exception:
                log.exception("storing the lessons of %s failed", run_id)

    # ------------------------------------------------------------ resuming

    async def resume(self, run_id: str, *, budget: Budget | None = None) -> Execution:
        """Continue an interrupted, paused or halted run from what the file holds.

        Planning that never produced a plan is redone; a plan awaiting approval
        is left for the caller to approve; an approved plan is executed (done
        subtasks are kept, in-flight ones restart); a run whose subtasks all
        finished only re-runs the synthesis.
        """
        execution = await self.repo.get_execution(run_id)
        if execution.status.finished:
            raise PodiumError(f"run {execution.id} is already {execution.status.value}; nothing to resume")
        if execution.status is ExecutionStatus.REVIEW:
            raise PodiumError(_awaits_review(execution.id))
        owner = await self.repo.live_owner(execution.id)
        if owner is not None and owner != self.owner:
            raise RunBusyError(execution.id, owner)
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

    # ------------------------------------------------------------ the lease

    @asynccontextmanager
    async def driving(self, run_id: str) -> AsyncIterator[None]:
        """Hold the run's lease while planning or executing it.

        A second process (`podium resume` in another terminal) then sees a live
        owner and does not start the same work twice; a killed process's lease
        dies with it.
        """
        owner = self.owner
        depth = self._held.get(run_id, 0)
        watcher = None
        if depth == 0:
            await self.repo.claim(run_id, owner)
            # Control rows a previous process never took up must not act on this session.
            await self.control_repo.sweep_stale(run_id, by=owner)
            # Tool approvals a killed process left pending: nobody waits on them any more (this
            # process holds the lease now). Here, not in the tools port: a process without
            # tools (a rework from `podium review`) takes runs over too.
            await expire_pending(self.store, run_id)
            watcher = InterventionWatcher(self.control_repo, run_id, self.control(run_id), owner=owner,
                                          interval=self.settings.watch_interval_s)
            watcher.start()
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
                del self._held[run_id]
                await self.repo.release(run_id, owner)

    async def _heartbeat(self, run_id: str, owner: str) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.repo.heartbeat(run_id, owner)
            except Exception:  # a missed beat only makes the lease look older
                log.warning("heartbeat for %s failed", run_id, exc_info=True)

    # ------------------------------------------------------------ helpers

    def _model(self, execution: Execution, team: Team, agent: str) -> str | None:
        return execution.model_for(team.agent(agent), team)

    async def _store_reply(self, run_id: str, agent: str, phase: Phase, result: CallResult, guard: RunGuard,
                           *, content: str | None = None, extra: tuple[str, dict[str, Any]] | None = None
                           ) -> Message:
        message = Message(
            execution_id=run_id, agent=agent, role=Role.ASSISTANT, phase=phase,
            content=result.content if content is None else content,
            prompt_tokens=result.usage.prompt_tokens, completion_tokens=result.usage.completion_tokens,
            cost_usd=result.usage.cost_usd, latency_ms=result.latency_ms,
        )
        message.id = await self.repo.add_message(message, run_usage=guard.usage, steps=guard.steps,
                                                 elapsed=guard.elapsed(), extra_event=extra)
        return message

    async def _halt(self, run_id: str, guard: RunGuard, reason: str) -> None:
        await self.repo.record_usage(run_id, guard.usage, guard.steps, guard.elapsed())
        await self.repo.set_status(run_id, ExecutionStatus.HALTED, reason)


@asynccontextmanager
async def _halt_cancels(control: RunControl) -> AsyncIterator[None]:
    """A halt cancels the model call in flight here (planning, synthesis) and raises Halted."""
    task = asyncio.current_task()
    assert task is not None
    unregister = control.on_halt(task.cancel)
    try:
        yield
    except asyncio.CancelledError:
        if not control.halted:
            raise
        task.uncancel()
        raise Halted(control.halt_reason) from None
    finally:
        unregister()


def _with_dependents(named: list[str], subtasks: list[Subtask]) -> list[str]:
    """The named subtasks and everything downstream of them, in plan order."""
    out = set(named)
    changed = True
    while changed:
        changed = False
        for s in subtasks:
            if s.id not in out and out.intersection(s.depends_on):
                out.add(s.id)
                changed = True
    return [s.id for s in subtasks if s.id in out]


def _awaits_review(run_id: str) -> str:
    return (f"run {run_id} awaits your review: `podium review {run_id} --accept`, or "
            f"`--rework \"what to change\" [--subtask ID]`")


def _plan_text(plan: Plan, errors: list[str]) -> str:
    from podium.orchestrator.planning import describe_plan

    text = f"Plan:\n{describe_plan(plan)}"
    if plan.rationale:
        text += f"\nRationale: {plan.rationale}"
    if plan.mends:
        text += "\nMended: " + "; ".join(plan.mends)
    if errors:
        text += "\nProblems: " + "; ".join(errors)
    return text


def _summary(subtasks: list[Subtask]) -> str:
    counts: dict[str, int] = {}
    for s in subtasks:
        counts[s.status.value] = counts.get(s.status.value, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items())
