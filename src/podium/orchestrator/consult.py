"""Peer consultation: an agent asks a named teammate a question mid-task.

The asker's subtask shows `waiting_peer` while the peer answers; the peer
runs with its own persona, its own recalled memory and the run's context
(objective, the asker's subtask, recent team activity). A peer may consult
once more (depth), each subtask has a few consultations (limit), and every
call counts against the run's budget through the run's guard. The exchange
is a `consultations` row with its events, and messages in both agents'
transcripts (the question and answer under the peer, the answer as the
asker's action result).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from podium import events as ev
from podium.domain import Message, Phase, Role, Usage
from podium.llm.types import BudgetExceeded, CallContext, CallResult, LLMError, ModelConfigError
from podium.orchestrator.context import clip, team_line
from podium.orchestrator.deps import AgentTurn
from podium.orchestrator.signals import from_tool_calls, parse_reply

CONSULT_TOOL = {
    "type": "object",
    "properties": {
        "peer": {"type": "string", "description": "the teammate's name"},
        "question": {"type": "string", "description": "one precise question"},
    },
    "required": ["peer", "question"],
}


async def consult(loop: AgentTurn, peer: str, question: str, *, asker: str, depth: int) -> str:
    """Ask `peer` on behalf of `asker` (at consultation depth `depth`, 1 = asked from a subtask).

    Returns the text the asker reads next turn: the answer, or an error/refusal it can act on.
    """
    run, settings = loop.run, loop.deps.settings
    team = run.team
    peers = [n for n in team.agent_names if n != asker]
    peer = peer.strip().lower()
    question = question.strip()
    if not question:
        return "Consultation not sent: say what you want to ask (the question is empty)."
    if peer == asker:
        return f"You cannot consult yourself. Available peers: {', '.join(peers)}."
    if peer not in team.agent_names:
        return f"There is no teammate called {peer!r}. Available peers: {', '.join(peers)}."
    if "consultations" not in loop.scratch:
        # Counted from the file when the subtask (re)starts: a subtask restarted after a crash,
        # halt or resume keeps what it already used, instead of a fresh allowance.
        loop.scratch["consultations"] = await loop.deps.control_repo.consultations_used(
            loop.run.execution.id, loop.subtask.id)
    used = loop.scratch["consultations"]
    if used >= settings.max_consultations_per_subtask:
        return (f"Consultation refused: this subtask has used its {settings.max_consultations_per_subtask} "
                "consultations. Continue with what you know.")
    if depth > settings.max_consultation_depth:
        return (f"Consultation refused: consultations nest at most {settings.max_consultation_depth} deep "
                f"and you are answering one already. Answer {asker!r}'s question from what you know.")
    loop.scratch["consultations"] = used + 1
    return await _run(loop, peer, question, asker=asker, depth=depth)


async def _run(loop: AgentTurn, peer: str, question: str, *, asker: str, depth: int) -> str:
    run, subtask = loop.run, loop.subtask
    repo = loop.deps.control_repo
    started = time.monotonic()
    question_message = Message(execution_id=run.execution.id, subtask_id=subtask.id, agent=peer,
                               role=Role.USER, phase=Phase.CONSULTATION,
                               content=f"Question from {asker}: {question}")
    cid = await repo.start_consultation(run.execution.id, subtask, asker=asker, peer=peer, question=question,
                                       depth=depth, wait=depth == 1, question_message=question_message)
    usage = Usage()
    answer: str | None = None
    error: str | None = None
    cancelled = False
    try:
        answer, usage = await _peer_turns(loop, peer, question, asker=asker, depth=depth)
    except (BudgetExceeded, ModelConfigError) as exc:
        error = str(exc)
        raise
    except LLMError as exc:
        error = f"the model call failed: {exc}"
    except (asyncio.CancelledError, Exception) as exc:
        cancelled = isinstance(exc, asyncio.CancelledError)
        error = "interrupted (the run was halted)" if cancelled else repr(exc)
        raise
    finally:
        # Shielded: a halt cancels this task, but the row must still say how it ended.
        await asyncio.shield(repo.finish_consultation(
            run.execution.id, subtask, cid, asker=asker, peer=peer, answer=answer, error=error, usage=usage,
            resume=depth == 1 and not cancelled, elapsed_s=time.monotonic() - started))
    if answer is None:
        return f"{peer} could not answer: {error}"
    return f"Answer from {peer} to your question ({clip(question, 120)}):\n{answer}"


async def _peer_turns(loop: AgentTurn, peer_name: str, question: str, *, asker: str, depth: int
                      ) -> tuple[str, Usage]:
    deps, run, subtask = loop.deps, loop.run, loop.subtask
    settings = deps.settings
    peer = run.team.agent(peer_name)
    model = run.model_for(peer)
    native = deps.gateway.supports_tools(model)
    can_nest = depth < settings.max_consultation_depth
    memories = await _recall(loop, peer_name, question)
    window = await deps.runs.recent_messages(run.execution.id, min(run.window_messages, 8))
    system = (f"{peer.system_prompt()}\nYour team: {team_line(run.team)}.\n"
              f"Your teammate {asker} asks for your expertise while working on a subtask. "
              "Answer the question concisely and concretely from your role's knowledge; do not do their "
              "whole task.")
    if can_nest and not native:
        system += ('\nIf you truly need another teammate, end with '
                   '```json {"action": "consult", "peer": "NAME", "question": "..."}```')
    parts = [f"Objective of the whole team: {run.execution.objective}",
             f"{asker}'s subtask ({subtask.id}): {subtask.description}"]
    if memories:
        parts.append("From your long-term memory:\n" + "\n".join(
            f"- ({getattr(m, 'kind', 'memory')}) {clip(str(m.text), 300)}" for m in memories))
    if window:
        parts.append("Recent team activity:\n" + "\n".join(
            f"[{m.agent}] {clip(' '.join(m.content.split()), settings.window_chars)}" for m in window))
    parts.append(f"Question from {asker}: {question}")
    history: list[dict[str, Any]] = [{"role": "system", "content": system},
                                     {"role": "user", "content": "\n\n".join(parts)}]
    tools = [{"type": "function", "function": {"name": "consult_peer", "description": "ask another teammate",
                                               "parameters": CONSULT_TOOL}}] if native and can_nest else None
    usage = Usage()
    last = ""
    for _turn in range(settings.consultation_turns):
        await run.control.wait_running()  # a pause holds the peer too; a halt stops it
        result = await deps.gateway.complete(
            history, context=CallContext(execution_id=run.execution.id, phase=Phase.CONSULTATION.value,
                                         agent=peer_name, subtask_id=subtask.id),
            guard=run.guard, model=model, tools=tools,
            on_delta=deps.publish(run.execution.id, peer_name, subtask.id, Phase.CONSULTATION),
            max_tokens=settings.consultation_max_tokens)
        usage = usage.add(result.usage)
        content = result.content or ""
        await repo_message(loop, peer_name, content or "(asked a teammate)", result)
        parsed = parse_reply(content)
        signals = [s for s in from_tool_calls(result.tool_calls, {"consult_peer", "consult"}) + parsed.signals
                   if s.action in ("consult", "consult_peer")]
        last = parsed.text or last
        if not signals:
            break
        # Past the depth limit, consult() answers with a refusal and the peer gets another turn.
        turn: dict[str, Any] = {"role": "assistant", "content": content}
        if result.tool_calls:
            turn["tool_calls"] = [{"id": c.id, "type": "function",
                                   "function": {"name": c.name, "arguments": c.raw_arguments or "{}"}}
                                  for c in result.tool_calls]
        history.append(turn)
        for signal in signals:
            nested = await consult(loop, str(signal.args.get("peer", "")),
                                   str(signal.args.get("question", "")), asker=peer_name, depth=depth + 1)
            if signal.call_id is not None:
                history.append({"role": "tool", "tool_call_id": signal.call_id, "content": nested})
            else:
                history.append({"role": "user", "content": nested})
        history.append({"role": "user", "content": f"Now answer {asker}'s question."})
    return (last.strip() or "(no answer)"), usage


async def repo_message(loop: AgentTurn, agent: str, content: str, result: CallResult) -> None:
    run = loop.run
    message = Message(execution_id=run.execution.id, subtask_id=loop.subtask.id, agent=agent,
                      role=Role.ASSISTANT, phase=Phase.CONSULTATION, content=content,
                      prompt_tokens=result.usage.prompt_tokens,
                      completion_tokens=result.usage.completion_tokens,
                      cost_usd=result.usage.cost_usd, latency_ms=result.latency_ms)
    await loop.deps.control_repo.add_message(message, run_usage=run.guard.usage, steps=run.guard.steps,
                                               elapsed=run.guard.elapsed())


async def _recall(loop: AgentTurn, peer: str, question: str) -> list[Any]:
    memory = loop.deps.memory
    if memory is None:
        return []
    run_id = loop.run.execution.id
    try:
        items = list(await memory.recall_for(agent=peer, text=question, execution_id=run_id,
                                             k=loop.deps.settings.memory_k))
    except Exception:  # memory is an aid; a consultation goes on without it
        return []
    await loop.deps.runs.emit(
        run_id, ev.MEMORY_RECALLED, subtask_id=loop.subtask.id, agent=peer, phase=Phase.CONSULTATION.value,
        items=[{"id": getattr(i, "id", None), "text": str(i.text), "kind": str(getattr(i, "kind", "")),
                "score": float(getattr(i, "score", 0.0))} for i in items])
    return items
