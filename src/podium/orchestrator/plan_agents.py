"""Which team member a leader meant: for an agent name that is not one of the team's.

A spelling of a member's name ("Fact Checker", "lead analyst", a typo) is that member; otherwise
the member whose role and skills share the most words with what was written, then with the
subtask's description; otherwise the leader.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Literal

from podium.domain import Team

Match = Literal["name", "role", "task", "leader"]

_STOP = frozenset({"about", "after", "also", "from", "have", "into", "more", "that", "their", "them",
                   "then", "they", "this", "what", "when", "which", "with", "your", "will", "each",
                   "other", "plans"})


@dataclass(frozen=True)
class Roster:
    """What mending needs to know of a team: member names, the leader, words about each member."""

    names: tuple[str, ...]
    leader: str
    profiles: tuple[frozenset[str], ...]  # per member: stems of its name, role and skills

    @classmethod
    def of(cls, team: Team) -> Roster:
        profiles = tuple(frozenset(_stems(" ".join([a.name, a.role, *a.skills]))) for a in team.agents)
        return cls(tuple(team.agent_names), team.leader, profiles)


def match_agent(given: Any, description: str, roster: Roster) -> tuple[str, Match]:
    """The team member meant by `given`, and how it was found: "name" (a spelling of a member's
    name), "role" (words of its role), "task" (the subtask's description fits it), "leader"."""
    text = _clean(given).lower()
    norm = re.sub(r"[\s_]+", "-", text).strip("-")
    if norm in roster.names:
        return norm, "name"
    inside = [n for n in roster.names if re.search(rf"(^|[^a-z]){re.escape(n)}([^a-z]|$)", norm)]
    if inside:
        return max(inside, key=len), "name"
    close = difflib.get_close_matches(norm, roster.names, n=1, cutoff=0.75) if norm else []
    if close:
        return close[0], "name"
    by_role = _best_fit(_stems(text), roster)
    if by_role is not None:
        return by_role, "role"
    by_task = _best_fit(_stems(description), roster)
    if by_task is not None:
        return by_task, "task"
    return roster.leader, "leader"


def _best_fit(stems: set[str], roster: Roster) -> str | None:
    if not stems:
        return None
    scores = [len(stems & profile) for profile in roster.profiles]
    top = max(scores)
    if top == 0:
        return None
    return roster.names[scores.index(top)]  # ties: the earlier member in team order


def _stems(text: str) -> set[str]:
    words = re.findall(r"[a-z]{4,}", text.lower())
    return {w[:4] for w in words if w not in _STOP}


def _clean(value: Any) -> str:
    return str(value).strip() if isinstance(value, str | int | float) and not isinstance(value, bool) else ""
