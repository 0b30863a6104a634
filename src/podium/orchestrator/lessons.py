"""Lessons learned: at the end of a run the leader writes a few, for agents and the team.

One structured call against a tight schema (at most MAX_LESSONS items, each
at most LESSON_CHARS characters, the agent an enum of the team's names or
null for the whole team), so a small model under constrained decoding
stays on the rails. The lessons go to long-term memory, where later runs
recall them into relevant subtasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from podium.domain import Agent, Subtask, SubtaskStatus
from podium.orchestrator.context import clip

# The call's phase (what a scripted model's rule matches on): its own, so a script's rule for
# the synthesis' plain reply does not answer it. The message itself is stored in phase synthesis.
LESSONS_PHASE = "lessons"
MAX_LESSONS = 5
LESSON_CHARS = 240
# What of each subtask the leader sees: enough to judge, small enough for a local model's context.
OUTPUT_CHARS = 600
RESULT_CHARS = 1500
# Failed subtasks' errors, stored as lessons when the leader's call cannot be had.
FALLBACK_CHARS = 200


class LessonsDraftBase(BaseModel):
    model_config = ConfigDict(extra="ignore")


@lru_cache(maxsize=64)
def _schema_for(agents: tuple[str, ...]) -> type[LessonsDraftBase]:
    agent_type: Any = Literal[agents] | None  # type: ignore[valid-type]
    item = create_model(
        "Lesson", __base__=LessonsDraftBase,
        agent=(agent_type, Field(description="the agent it is for; null: the whole team")),
        text=(str, Field(max_length=LESSON_CHARS, description="one self-contained sentence")),
    )
    return create_model(
        "LessonsDraft", __base__=LessonsDraftBase,
        lessons=(list[item], Field(max_length=MAX_LESSONS)),  # type: ignore[valid-type]
    )


def lessons_schema(agent_names: Sequence[str]) -> type[LessonsDraftBase]:
    return _schema_for(tuple(agent_names))


def lessons_messages(leader: Agent, objective: str, subtasks: Sequence[Subtask], result: str | None,
                     notes: str | None = None) -> list[dict[str, Any]]:
    """The leader's prompt; `notes` is what else it should weigh (e.g. the review's verdict)."""
    parts = [f"Objective: {objective}"]
    for s in subtasks:
        if s.status is SubtaskStatus.DONE:
            outcome = clip(s.output or "", OUTPUT_CHARS)
        else:
            outcome = f"(did not finish: {s.status.value}{': ' + clip(s.error, 200) if s.error else ''})"
        parts.append(f"## {s.id} by {s.agent}: {clip(s.description, 160)}\n{outcome}")
    parts.append(f"## Final result\n{clip(result, RESULT_CHARS)}" if result else
                 "## Final result\n(none: no subtask finished)")
    if notes:
        parts.append(f"## Review\n{clip(notes, 800)}")
    parts.append(
        f"The run is over. Write at most {MAX_LESSONS} lessons learned that would help this team do "
        "similar work better next time: what worked, what went wrong, what to check or do first. "
        f"Each lesson is one self-contained sentence of at most {LESSON_CHARS} characters that makes "
        "sense without this run (name the topic, not subtask ids). Set agent to the agent the lesson "
        "is for, or null if it is for the whole team. Write no lesson rather than a vague one. "
        "Reply with the JSON object only.")
    system = leader.system_prompt() + " You lead the team and look back on its work to improve it."
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def lessons_of(draft: BaseModel) -> list[tuple[str | None, str]]:
    """(agent or None, text) pairs, blank and repeated ones dropped."""
    out: list[tuple[str | None, str]] = []
    seen: set[tuple[str | None, str]] = set()
    for lesson in draft.model_dump().get("lessons", []):
        text = " ".join(str(lesson.get("text") or "").split())
        key = (lesson.get("agent"), text)
        if text and key not in seen:
            seen.add(key)
            out.append(key)
    return out


def fallback_lessons(subtasks: Sequence[Subtask]) -> list[tuple[str | None, str]]:
    """Without the leader: each failed subtask's error, as a lesson for its agent."""
    return [(s.agent, f"A subtask like '{clip(s.description, 160)}' failed: {clip(s.error, FALLBACK_CHARS)}")
            for s in subtasks if s.status is SubtaskStatus.FAILED and s.error]


def lessons_text(lessons: Sequence[tuple[str | None, str]]) -> str:
    """The leader's lessons as a transcript message."""
    if not lessons:
        return "Lessons learned: none worth keeping from this run."
    return "Lessons learned:\n" + "\n".join(f"- ({agent or 'team'}) {text}" for agent, text in lessons)
