"""One subtask's agent loop: model turn, actions, repeat until done, blocked or the step cap.

Between turns the loop passes the control channel's checkpoint (pause,
halt, guidance). Every reply is stored as a message with its event before
anything reacts to it; streamed text is published as transient deltas.
The loop never trusts the model to signal: a reply without any signal is
taken as the output, and the last permitted turn is told to finish.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from podium import events as ev
from podium.domain import Agent, Message, Phase, Role, Subtask
from podium.llm.types import CallContext, CallResult
from podium.orchestrator.actions import ActionContext, ActionRegistry, ActionResult
from podium.orchestrator.context import subtask_brief, subtask_system
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.ports import ToolContext
from podium.orchestrator.runstate import RunState
from podium.orchestrator.signals import from_tool_calls, parse_reply


@dataclass
class Outcome:
    ok: bool
    output: str = ""
    error: str = ""
    # The reply that ended the loop, not yet stored: the caller stores it with the subtask's
    # end in one transaction (see RunRepository.finish_subtask).
    reply: Message | None = None


class AgentLoop:
    """One subtask's agent: `deps` are its services, `actions` what it may signal."""

    def __init__(self, deps: AgentDeps, actions: ActionRegistry, run: RunState, subtask: Subtask, *,
                 window: list[Message] | None = None) -> None:
        """`window`: the conversation window already read for the first turn (read with the
        subtask's start, see RunRepository.start_subtask); later turns read it afresh."""
        self.deps = deps
        self._first_window = window
        self.actions = actions
        self.run = run
        self.subtask = subtask
        self.agent: Agent = run.team.agent(subtask.agent)
        self.history: list[dict[str, Any]] = []
        self.scratch: dict[str, Any] = {}
        self._guidance_cursor = 0
        self._tool_cost = 0.0  # what this turn's tool calls spent on paid models, not yet stored

    # ------------------------------------------------------------ helpers used by actions

    @property
    def run_id(self) -> str:
        return self.run.execution.id

    def context(self, phase: Phase = Phase.EXECUTION) -> CallContext:
        return CallContext(execution_id=self.run_id, phase=phase.value, agent=self.agent.name,
                           subtask_id=self.subtask.id)

    def message(self, role: Role, content: str, *, phase: Phase = Phase.EXECUTION, agent: str | None = None,
                result: CallResult | None = None) -> Message:
        return Message(
            execution_id=self.run_id, subtask_id=self.subtask.id, agent=agent or self.agent.name,
            role=role, content=content, phase=phase,
            prompt_tokens=result.usage.prompt_tokens if result else 0,
            completion_tokens=result.usage.completion_tokens if result else 0,
            cost_usd=result.usage.cost_usd if result else 0.0,
            latency_ms=result.latency_ms if result else 0.0,
        )

    async def add_message(self, role: Role, content: str, *, phase: Phase = Phase.EXECUTION,
                          agent: str | None = None, result: CallResult | None = None,
                          extra_event: tuple[str, dict[str, Any]] | None = None) -> int:
        return await self.store_message(self.message(role, content, phase=phase, agent=agent, result=result),
                                        counted=result is not None, extra_event=extra_event)

    async def store_message(self, message: Message, *, counted: bool,
                            extra_event: tuple[str, dict[str, Any]] | None = None) -> int:
        """Store a message with its event; `counted` (a model reply): with the run's usage too."""
        guard = self.run.guard
        return await self.deps.runs.add_message(
            message, run_usage=guard.usage if counted else None, steps=guard.steps, elapsed=guard.elapsed(),
            extra_event=extra_event)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        """Run a tool through the tools port; errors come back as text for the agent."""
        tools = self.deps.tools
        if tools is None or not name:
            return f"Tool {name!r} is not available: this team has no tools configured."
        # With the run's budget: a tool that calls a paid model (an image) is checked and counted there.
        ctx = ToolContext(execution_id=self.run_id, subtask_id=self.subtask.id, agent=self.agent.name,
                          guard=self.run.guard)
        try:
            result = await tools.call(name, arguments, ctx=ctx)
        except Exception as exc:  # a tool must never take the loop down
            return f"Tool {name!r} failed: {exc}"
        # Already in the guard's usage; stored with this turn's tool results (the subtask's cost too).
        self._tool_cost += float(getattr(result, "cost_usd", 0.0) or 0.0)
        return str(getattr(result, "text", result))

    # ------------------------------------------------------------ the loop

    async def run_loop(self) -> Outcome:
        deps = self.deps
        settings, tools = deps.settings, deps.tools
        model = self.run.model_for(self.agent)
        native = deps.gateway.supports_tools(model)
        registry = self.actions
        tool_specs: list[dict[str, Any]] = []
        if native:
            tool_specs = registry.tool_specs()
            if tools is not None:
                tool_specs += list(tools.specs_for(self.agent, self.subtask))
        exclude = set() if tools is not None else {"tool"}
        offered = [spec["function"]["name"] for spec in tools.specs_for(self.agent, self.subtask)] \
            if tools is not None else []
        system = subtask_system(self.agent, self.run.team,
                                [] if native else registry.prompt_lines(exclude), native, offered,
                                workspace=self.run.workspace_note)
        if not native and tools is not None and hasattr(tools, "prompt_for"):
            # Models without tool calling learn the tools' names and arguments from the prompt.
            system += "\n\n" + tools.prompt_for(self.agent, self.subtask)
        memories = await self._recall()
        self._guidance_cursor = 0
        cap = settings.max_steps_per_subtask
        last_text = ""
        for step in range(1, cap + 1):
            guidance, self._guidance_cursor = await self.run.control.checkpoint(
                self._guidance_cursor, self.subtask.id)
            for g in guidance:
                note = f"Guidance from the human ({g.source}): {g.text}"
                await self.add_message(Role.HUMAN, note, agent="human")
                self.history.append({"role": "user", "content": note})
            brief = await self._brief(memories)
            messages = [{"role": "system", "content": system}, {"role": "user", "content": brief},
                        *self.history]
            if step == cap and cap > 1:
                messages.append({"role": "user", "content": "This is your last turn: write your final "
                                 "result for the subtask now."})
            result = await deps.gateway.complete(
                messages, context=self.context(), guard=self.run.guard, model=model,
                tools=tool_specs or None,
                on_delta=deps.publish(self.run_id, self.agent.name, self.subtask.id),
                max_tokens=settings.turn_max_tokens, estimated_tokens=_estimate(messages),
            )
            content = result.content or ""
            parsed = parse_reply(content)
            signals = from_tool_calls(result.tool_calls, registry.names) + parsed.signals
            reply = self.message(Role.ASSISTANT, content or _describe_calls(result), result=result)
            if not signals:
                # No signal at all: the reply is the output (weak models rarely signal). It is
                # stored with the subtask's end, in one transaction.
                finished = self._finish(parsed.text or content)
                finished.reply = reply
                return finished
            await self.store_message(reply, counted=True)
            last_text = parsed.text or last_text
            self.history.append(_assistant_turn(content, result))
            feedback: list[str] = []
            for signal in signals:
                outcome = await registry.dispatch(signal, ActionContext(
                    loop=self, agent=self.agent, subtask=self.subtask, reply_text=parsed.text,
                    scratch=self.scratch))
                if outcome.kind in ("done", "blocked") and self._tool_cost:
                    await self._store_tool_results("\n\n".join(f for f in feedback if f))  # paid for
                if outcome.kind == "done":
                    return self._finish(outcome.text or last_text)
                if outcome.kind == "blocked":
                    return Outcome(False, error=f"{self.agent.name} is blocked: {outcome.text}")
                feedback.append(outcome.text)
                self._answer_call(signal.call_id, outcome)
            note = "\n\n".join(f for f in feedback if f)
            if note or self._tool_cost:
                await self._store_tool_results(note)
            if any(s.call_id is None for s in signals):
                # Fenced signals have no tool-call id: the feedback goes back as a user turn.
                self.history.append({"role": "user", "content": note or "(no result)"})
        if last_text:
            return self._finish(last_text)
        return Outcome(False, error=f"step cap ({cap}) reached without a result")

    async def _store_tool_results(self, note: str) -> None:
        """A turn's tool results, with what its tools spent on paid models (an image): stored with
        the run's usage so the run's and the subtask's cost include it at once."""
        spent, self._tool_cost = self._tool_cost, 0.0
        message = self.message(Role.TOOL, note or "(no result)")
        message.cost_usd = spent
        await self.store_message(message, counted=spent > 0)

    def _finish(self, text: str) -> Outcome:
        text = text.strip()
        if not text:
            return Outcome(False, error=f"{self.agent.name} produced an empty result")
        return Outcome(True, output=text)

    def _answer_call(self, call_id: str | None, outcome: ActionResult) -> None:
        if call_id is not None:
            self.history.append({"role": "tool", "tool_call_id": call_id, "content": outcome.text})

    async def _brief(self, memories: list[Any]) -> str:
        settings = self.deps.settings
        handoffs = [(self.run.subtasks[d], self.run.outputs.get(d, "")) for d in self.subtask.depends_on
                    if d in self.run.subtasks]
        window, self._first_window = self._first_window, None
        if window is None:
            window = await self.deps.runs.recent_messages(
                self.run_id, self.run.window_messages, exclude_subtask=self.subtask.id)
        notes = []
        if self.subtask.id in self.run.rework_notes:
            notes.append(self.run.rework_notes[self.subtask.id])
        notes.extend(self.run.plan_notes.get(self.subtask.id, []))
        for question, answer in self.run.help_answers.get(self.subtask.id, []):
            notes.append(f"Earlier you asked the human: {question}\nTheir answer: {answer}")
        return subtask_brief(self.run.execution.objective, self.subtask, handoffs=handoffs, window=window,
                             memories=memories, handoff_chars=settings.handoff_chars,
                             window_chars=settings.window_chars, notes=notes)

    async def _recall(self) -> list[Any]:
        ahead = self.run.recall  # set while the graph runs with memory on (see RecallAhead)
        if ahead is None:
            return []
        try:
            items = await ahead.get(self.subtask)  # looked up while what it depends on ran
        except Exception as exc:  # memory is an aid; its failure must not fail the subtask
            self.run.writes.add(self.deps.runs.emit_behind(
                self.run_id, ev.MEMORY_RECALLED, subtask_id=self.subtask.id, agent=self.agent.name,
                items=[], error=str(exc)))
            return []
        # Queued, not waited for: the event follows the subtask's start, before its first reply.
        self.run.writes.add(self.deps.runs.emit_behind(
            self.run_id, ev.MEMORY_RECALLED, subtask_id=self.subtask.id, agent=self.agent.name,
            items=[{"id": getattr(i, "id", None), "text": str(i.text), "kind": str(getattr(i, "kind", "")),
                    "score": float(getattr(i, "score", 0.0))} for i in items],
        ))
        return items


def _estimate(messages: list[dict[str, Any]]) -> int:
    # ~4 characters per token: a cheap guess, good enough to refuse a call before the budget is gone.
    return sum(len(str(m.get("content") or "")) for m in messages) // 4


def _describe_calls(result: CallResult) -> str:
    return "\n".join(f"[tool call] {c.name}({json.dumps(c.arguments)})" for c in result.tool_calls)


def _assistant_turn(content: str, result: CallResult) -> dict[str, Any]:
    turn: dict[str, Any] = {"role": "assistant", "content": content}
    if result.tool_calls:
        turn["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.raw_arguments or json.dumps(c.arguments)}}
            for c in result.tool_calls
        ]
    return turn

