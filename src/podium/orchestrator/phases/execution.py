"""Execution: the approved plan's graph, one agent loop per subtask, as dependencies allow.

Every status change is written (with its event) before anything reacts to
it. In-flight work from an earlier session starts over; done work is kept.
"""

from __future__ import annotations

import logging

from podium.domain import Execution, ExecutionStatus, Subtask, SubtaskStatus, Team
from podium.llm.types import BudgetExceeded, LLMError, ModelConfigError
from podium.orchestrator import context as prompts
from podium.orchestrator.actions import ActionRegistry
from podium.orchestrator.agent import AgentLoop, Outcome
from podium.orchestrator.control import Halted, RunControl
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.durations import duration_costs, measured_durations, seconds_per_token
from podium.orchestrator.live_graph import LiveGraph
from podium.orchestrator.phases.live_changes import LiveChanges, say_stuck
from podium.orchestrator.plan_changes import agent_notes
from podium.orchestrator.recall_ahead import RecallAhead
from podium.orchestrator.replan import replan
from podium.orchestrator.runstate import RunGuard, RunState
from podium.orchestrator.scheduler import GraphResult, Parking, StopRun, run_graph
from podium.store.control import LEADER
from podium.store.fork import ForkRepository
from podium.store.plan_changes import PlanChangeRepository
from podium.store.run_workspaces import RunWorkspaceRepository
from podium.store.runs import lease_owner

log = logging.getLogger(__name__)

# A subtask in one of these when a session starts was cut off by a crash or a halt.
IN_FLIGHT = (SubtaskStatus.RUNNING, SubtaskStatus.WAITING_PEER, SubtaskStatus.NEEDS_HELP)


async def prepare(deps: AgentDeps, execution: Execution, team: Team, guard: RunGuard, control: RunControl,
                  subtasks: list[Subtask]) -> RunState:
    """The run's state for this session: interrupted subtasks back to pending, the run running,
    earlier answers from the human and rework feedback at hand."""
    run_id = execution.id
    held = [s for s in subtasks if s.status is SubtaskStatus.REVIEW]
    if held:  # a review cut off by a crash or halt: the work is done; a new review comes after
        await deps.runs.release_review(run_id, "review interrupted")
        for s in held:
            s.status = SubtaskStatus.DONE
    interrupted = [s for s in subtasks if s.status in IN_FLIGHT]
    await deps.runs.set_subtasks_status(run_id, [(s, SubtaskStatus.PENDING, "restarted")
                                                 for s in interrupted])
    for s in interrupted:
        s.status = SubtaskStatus.PENDING
    if execution.status is not ExecutionStatus.RUNNING:
        await deps.runs.set_status(run_id, ExecutionStatus.RUNNING)
    state = RunState(execution=execution, team=team, guard=guard, control=control,
                     window_messages=deps.settings.window_messages,
                     subtasks={s.id: s for s in subtasks},
                     outputs={s.id: s.output or "" for s in subtasks if s.status is SubtaskStatus.DONE},
                     parking=Parking(), help_answers=await deps.control_repo.answered_help(run_id),
                     measured_durations=await ForkRepository(deps.runs.store).parent_durations(run_id))
    await rework_context(deps, state)
    # Started on the user's own folder (the application layer attached it): the agents are told.
    attached = await RunWorkspaceRepository(deps.runs.store).get(run_id)
    state.workspace_note = prompts.workspace_note(attached) if attached is not None else None
    changes = await PlanChangeRepository(deps.runs.store).changes(run_id)
    state.plan_notes = {sid: notes for sid, notes in agent_notes(changes, subtasks).items()
                        if sid in state.subtasks and state.subtasks[sid].status is not SubtaskStatus.DONE}
    return state


async def rework_context(deps: AgentDeps, state: RunState) -> None:
    """After `rework`: what the human said goes to the re-opened subtasks and the synthesis."""
    latest = await deps.control_repo.latest_review(state.execution.id)
    if latest is None or latest.decision != "rework":
        return
    feedback = latest.feedback or ""
    named = set(latest.subtasks)
    # The leader's automatic review, or a person (`podium review --rework`, the TUI).
    who = "The leader's review" if latest.decided_by == LEADER else "The human"
    for sid, subtask in state.subtasks.items():
        if subtask.status is SubtaskStatus.DONE:
            continue
        if sid in named:
            previous = prompts.clip(subtask.output or "", deps.settings.handoff_chars)
            state.rework_notes[sid] = (f"{who} sent your previous result back for rework: {feedback}"
                                       + (f"\nYour previous result:\n{previous}" if previous else ""))
        elif named:
            after = "the leader's review" if latest.decided_by == LEADER else "the human's feedback"
            state.rework_notes[sid] = (f"This subtask runs again because work it builds on was reworked "
                                       f"after {after}: {feedback}")
    state.synthesis_feedback = (feedback, latest.result or "")


async def run_subtasks(deps: AgentDeps, actions: ActionRegistry, state: RunState) -> GraphResult:
    """Every subtask not yet finished, in parallel as dependencies and concurrency allow, on a
    live graph that plan changes reach while it runs (state.live while it does).

    A failed subtask's dependents wait: a person retries, reassigns, skips or edits it. When
    nothing else can run, the graph ends (`when_stuck="finish"`: the run ends partial, listing
    what waits) or waits for a change (`"wait"`: someone is watching, e.g. the TUI). If the run
    stops (halt, budget, a model configuration error), the subtasks it interrupted go back to
    pending and the result says why in `stopped`.
    """
    run_id, control = state.execution.id, state.control
    subtasks = list(state.subtasks.values())
    hold = deps.settings.when_stuck == "wait"

    def having(*statuses: SubtaskStatus) -> list[str]:
        return [s.id for s in subtasks if s.status in statuses]

    # Critical path first, by the best duration estimates the run has (measured, or the plan's).
    measured = dict(state.measured_durations) | measured_durations(subtasks)
    state.seconds_per_token = seconds_per_token(subtasks, measured)  # subtasks added later too
    graph = LiveGraph({s.id: list(s.depends_on) for s in subtasks}, duration_costs(subtasks, measured),
                      done=having(SubtaskStatus.DONE), failed=having(SubtaskStatus.FAILED),
                      blocked=having(SubtaskStatus.BLOCKED),
                      removed=having(SubtaskStatus.SKIPPED, SubtaskStatus.CANCELLED), hold=hold)

    async def gate() -> None:
        state.writes.check()  # a subtask's start or end that failed to commit stops the run
        try:
            await control.wait_running()
        except Halted as exc:
            raise StopRun(str(exc)) from None
        async with state.plan_lock:  # a change being written finishes before anything starts
            pass

    replanning = deps.settings.on_failure == "replan"

    async def on_stuck(nodes: list[str]) -> None:
        # --on-failure replan: the leader replans the unfinished part (bounded); if that changed
        # the graph the scheduler goes on, else the failure waits for a person as without it.
        note = None
        if replanning:
            outcome = await replan(deps, state, nodes)
            if outcome.applied:
                return
            note = outcome.note
        if hold or note:  # headless, the note (a replan awaiting approval) shows in the progress
            await say_stuck(deps, state, nodes, note)

    state.live = LiveChanges(deps, state, graph, owner=lease_owner())
    if deps.memory is not None:
        state.recall = RecallAhead(deps.memory, objective=state.execution.objective, run_id=run_id,
                                   k=deps.settings.memory_k)
    try:
        result = await run_graph(
            {}, lambda sid: run_subtask(deps, actions, state, sid), concurrency=deps.settings.concurrency,
            before_start=gate, register_cancel=control.on_halt, parking=state.parking, live=graph,
            on_stuck=on_stuck if hold or replanning else None)
    except BaseException:
        await state.writes.settle(quiet=True)
        raise
    finally:
        state.live = None
        if state.recall is not None:
            await state.recall.close()
            state.recall = None
    await state.writes.settle()  # every start and end committed before anything reads them back
    if result.stopped is not None:
        await deps.runs.set_subtasks_status(run_id, [
            (state.subtasks[i], SubtaskStatus.PENDING, "interrupted") for i in sorted(result.interrupted)])
    return result


async def run_subtask(deps: AgentDeps, actions: ActionRegistry, state: RunState, sid: str) -> bool:
    """One subtask's agent loop, its outcome recorded; raises StopRun if the run must stop.

    Its start and end are queued on the store, not waited for (state.writes tracks them): the
    store runs them in order, so a dependent started at once is recorded after this one's end.
    """
    subtask = state.subtasks[sid]
    run_id = state.execution.id
    window, running = await deps.runs.start_subtask(run_id, subtask, state.window_messages)
    state.writes.add(running)
    subtask.status = SubtaskStatus.RUNNING
    if state.recall is not None:  # what waits on this one looks its memories up meanwhile
        state.recall.prefetch([s for s in state.subtasks.values()
                               if sid in s.depends_on and s.status is SubtaskStatus.PENDING])
    try:
        outcome = await AgentLoop(deps, actions, state, subtask, window=window).run_loop()
    except (BudgetExceeded, Halted) as exc:
        raise StopRun(str(exc)) from None
    except ModelConfigError as exc:
        raise StopRun(f"model configuration error: {exc}") from None
    except LLMError as exc:
        outcome = Outcome(False, error=f"model call failed: {exc}")
    except Exception as exc:  # isolate: one broken subtask must not take the run down
        log.exception("subtask %s crashed", sid)
        outcome = Outcome(False, error=f"internal error: {exc!r}")
    guard = state.guard
    status = SubtaskStatus.DONE if outcome.ok else SubtaskStatus.FAILED
    state.writes.add(deps.runs.finish_subtask(
        run_id, subtask, status, output=outcome.output if outcome.ok else None,
        error=None if outcome.ok else outcome.error, reply=outcome.reply, run_usage=guard.usage,
        steps=guard.steps, elapsed=guard.elapsed()))
    if outcome.ok:
        subtask.status, subtask.output = SubtaskStatus.DONE, outcome.output
        state.outputs[sid] = outcome.output
        # Best effort, off the subtask's slot: its dependents need not wait for an embedding.
        state.writes.add(remember(deps, run_id, subtask, outcome.output))
    else:
        subtask.status, subtask.error = SubtaskStatus.FAILED, outcome.error
    return outcome.ok


async def remember(deps: AgentDeps, run_id: str, subtask: Subtask, output: str) -> None:
    """A finished subtask's output goes to its agent's long-term memory (best effort)."""
    if deps.memory is None:
        return
    try:
        await deps.memory.remember_output(agent=subtask.agent, text=output, execution_id=run_id,
                                          subtask_id=subtask.id)
    except Exception:  # memory is an aid; the subtask is done regardless
        log.exception("remembering the output of %s failed", subtask.id)
