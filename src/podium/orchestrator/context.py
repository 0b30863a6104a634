"""Prompts: what each agent is told, in each phase.

Kept apart from the loop so the wording can be tuned (and tested) without
touching control flow. Everything is plain text: the local model is small,
so prompts stay short and concrete.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from podium.domain import Agent, Message, Plan, RunWorkspace, Subtask, Team
from podium.orchestrator.planning import describe_plan
from podium.orchestrator.signals import parse_reply


def clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def _one_line(text: str) -> str:
    """A window entry: the prose of a message on one line, signal blocks removed."""
    return " ".join((parse_reply(text).text or text).split())


def team_line(team: Team) -> str:
    return "; ".join(f"{a.name} ({a.role})" for a in team.agents)


def perspective_messages(agent: Agent, team: Team, objective: str, earlier: Sequence[Message]
                         ) -> list[dict[str, Any]]:
    heard = "".join(f"\n{m.agent}: {clip(m.content, 300)}" for m in earlier)
    user = (
        f"Objective: {objective}\n"
        + (f"\nWhat your teammates said so far:{heard}\n" if heard else "")
        + "\nIn two or three sentences, give your perspective as "
        f"{agent.role}: what matters most and what you would contribute. No plan, no lists."
    )
    return [{"role": "system", "content": agent.system_prompt()}, {"role": "user", "content": user}]


def plan_messages(leader: Agent, team: Team, objective: str, discussion: Sequence[Message], *,
                  max_subtasks: int, rejected: Sequence[tuple[Plan, str]] = (),
                  feedback: str | None = None) -> list[dict[str, Any]]:
    parts = [f"Objective: {objective}", f"Team: {team_line(team)}"]
    if discussion:
        heard = "\n".join(f"- {m.agent}: {clip(m.content, 400)}" for m in discussion)
        parts.append("Perspectives:\n" + heard)
    for plan, why in rejected:
        parts.append(f"A previous plan was REJECTED by the human:\n{describe_plan(plan)}\n"
                     f"Their feedback: {why}")
    if feedback and not rejected:
        parts.append(f"Feedback from the human: {feedback}")
    parts.append(
        f"Write the plan: 1 to {max_subtasks} subtasks. Each has a short id (t1, t2, ...), the agent "
        "who does it (a team member's name), a one-sentence description, depends_on (ids of subtasks "
        "whose output it needs; independent subtasks run in parallel), up to 3 acceptance criteria, "
        "estimated_tokens, and tools (usually empty). Reply with the JSON object only."
    )
    system = leader.system_prompt() + " You lead the team and write its plan."
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


CITE_SOURCES = (
    "web_search and fetch_url record what you read as sources with ids like [S3]. Cite each fact you "
    "take from a source by its id in square brackets right after it, e.g. \"Output fell 4% in 2023 [S2].\" "
    "Keep the ids that results you build on cite. Cite only ids a tool gave you; never invent one, and "
    "write no references list (it is added from the recorded sources)."
)
CHECK_CLAIMS = (
    "Check cited claims with check_claims (a passage as text, or each claim with its source id and a "
    "quote): it compares them with the text the team actually read. Report each claim as supported, "
    "unsupported or not found; a citation to a source that was never recorded is a fabrication to flag."
)


def workspace_note(ws: RunWorkspace) -> str:
    """What agents of a run on the user's own folder (`--workspace`) are told about it: whose code
    it is, that a person reviews the diff, and to build on what is there."""
    name = Path(ws.source).name or ws.source
    if ws.kind == "git":
        where = (f"a git worktree of the user's repository {name} (branch {ws.branch}, from commit "
                 f"{ws.base_commit[:8]})")
    else:
        where = f"a copy of the user's folder {name}"
    return (f"Your workspace is {where}: their existing code is in it. Your changes are shown to the "
            "person as a diff and reach their own checkout only if they apply it. Work with the code "
            "that is there: read the relevant files before you write, and change only what the subtask "
            "needs.")


def subtask_system(agent: Agent, team: Team, action_lines: Sequence[str], native_tools: bool,
                   tool_names: Sequence[str] = (), workspace: str | None = None) -> str:
    """`workspace`: what the run's workspace is when it is the user's own folder (workspace_note)."""
    lines = [
        agent.system_prompt(),
        f"Your team: {team_line(team)}.",
        "Do your subtask yourself and write its full result in your reply.",
    ]
    if workspace:
        lines.append(workspace)
    if native_tools:
        lines.append("Use the tools offered when they help. When you are finished, reply with the result "
                     "and no tool call.")
    if {"web_search", "fetch_url", "check_claims"} & set(tool_names):
        lines.append(CITE_SOURCES)
    if "check_claims" in tool_names:
        lines.append(CHECK_CLAIMS)
    if action_lines:
        lines.append("Signals (a fenced JSON block at the end of your reply):")
        lines.extend(action_lines)
    return "\n".join(lines)


def subtask_brief(objective: str, subtask: Subtask, *, handoffs: Sequence[tuple[Subtask, str]],
                  window: Sequence[Message], memories: Sequence[Any], handoff_chars: int,
                  window_chars: int, notes: Sequence[str] = ()) -> str:
    parts = [f"Objective of the whole team: {objective}",
             f"Your subtask ({subtask.id}): {subtask.description}"]
    if subtask.acceptance_criteria:
        parts.append("Acceptance criteria:\n" + "\n".join(f"- {c}" for c in subtask.acceptance_criteria))
    if subtask.tools:
        parts.append(f"Suggested tools: {', '.join(subtask.tools)}")
    if handoffs:
        parts.append("Results you build on:\n" + "\n\n".join(
            f"## {dep.id} by {dep.agent}: {clip(dep.description, 120)}\n{clip(output, handoff_chars)}"
            for dep, output in handoffs
        ))
    if memories:
        parts.append("From long-term memory:\n" + "\n".join(
            f"- ({getattr(m, 'kind', 'memory')}) {clip(str(m.text), 300)}" for m in memories
        ))
    if window:
        parts.append("Recent team activity:\n" + "\n".join(
            f"[{m.agent}{' · ' + m.subtask_id if m.subtask_id else ''}] "
            f"{clip(_one_line(m.content), window_chars)}"
            for m in window
        ))
    parts.extend(notes)  # rework feedback, earlier answers from the human
    parts.append("Now do your subtask.")
    return "\n\n".join(parts)


def synthesis_messages(leader: Agent, objective: str, results: Sequence[tuple[Subtask, str]],
                       missing: Sequence[Subtask], handoff_chars: int, *, sources: bool = False
                       ) -> list[dict[str, Any]]:
    body = "\n\n".join(
        f"## {s.id} by {s.agent}: {clip(s.description, 160)}\n{clip(out, handoff_chars)}"
        for s, out in results
    )
    gaps = ""
    if missing:
        gaps = "\n\nThese subtasks did not finish; say what is missing because of them:\n" + "\n".join(
            f"- {s.id} ({s.agent}): {clip(s.description, 160)} [{s.status.value}]" for s in missing
        )
    user = (
        f"Objective: {objective}\n\nYour team's results:\n\n{body}{gaps}\n\n"
        "Write the final result for the person who set the objective: one coherent answer that uses "
        "the results above. Do not describe the process."
        + (" Keep the source ids ([S1], ...) the results cite next to the facts they support; write no "
           "references list: it is added from the sources the team recorded." if sources else "")
    )
    system = leader.system_prompt() + " You lead the team and write its final result."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
