"""Deterministic plan mending: fix what needs no second opinion before asking the model again.

`mend_plan` works on the JSON value the leader returned, before schema validation, so a plan
with a duplicate id, a dependency on an unknown or later subtask, a cycle, an unknown agent or
an overlong field is mended instead of costing a repair round (or being thrown away for the
fallback plan). Every change is one short sentence in the returned list, shown to the user.
A value that is already valid comes back unchanged with no mends; a value that cannot be
mended (not a plan at all, no subtask with a description) comes back unchanged, so the
schema's own errors reach the model in its repair round.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from podium.orchestrator.plan_agents import Roster, match_agent
from podium.orchestrator.plan_graph import closing_edge, dependency_order, find_cycle

# Limits shared with the plan schema (planning.py imports them from here).
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,23}$"
ID_MAX = 24
DESCRIPTION_MAX = 300
RATIONALE_MAX = 400
CRITERION_MAX = 160
CRITERIA_MAX = 3
TOOL_MAX = 40
TOOL_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$"
TOOLS_MAX = 4
DEPENDS_MAX = 8
TOKENS_MAX = 50_000

_LIST_KEYS = ("subtasks", "tasks", "steps", "plan")
_TEXT_KEYS = ("description", "task", "title", "name", "summary")


def mend_plan(data: Any, roster: Roster, max_subtasks: int) -> tuple[Any, list[str]]:
    """(mended data, what was changed); unchanged data and [] when there is nothing to mend."""
    notes: list[str] = []
    plan = _unwrap(data, notes)
    if plan is None:
        return data, []
    raw_steps = [s for s in plan["subtasks"] if isinstance(s, dict)]
    if len(raw_steps) < len(plan["subtasks"]):
        dropped = len(plan["subtasks"]) - len(raw_steps)
        notes.append(f"dropped {dropped} subtask entries that were not objects")
    if len(raw_steps) > max_subtasks:
        notes.append(f"kept the first {max_subtasks} of {len(raw_steps)} subtasks")
        raw_steps = raw_steps[:max_subtasks]
    steps = _steps(raw_steps, roster, notes)
    if not steps:
        return data, []
    _break_cycles(steps, notes)
    steps = _topological(steps, notes)
    out = {k: v for k, v in plan.items() if k != "subtasks"}
    if "rationale" in out:
        out["rationale"] = _text(out["rationale"], RATIONALE_MAX, "the rationale", notes)
    out["subtasks"] = [s.as_dict() for s in steps]
    return out, notes


# ------------------------------------------------------------------ shape


def _unwrap(data: Any, notes: list[str]) -> dict[str, Any] | None:
    if isinstance(data, list):
        notes.append("read a bare list of subtasks as the plan")
        return {"subtasks": data}
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("subtasks"), list):
        return data
    for key in _LIST_KEYS[1:]:
        value = data.get(key)
        if isinstance(value, dict) and isinstance(value.get("subtasks"), list):
            notes.append(f"took the plan from inside {key!r}")
            return {**value, **{k: v for k, v in data.items() if k not in (key, "subtasks")}}
        if isinstance(value, list) and value:
            notes.append(f"read {key!r} as the subtasks")
            return {**{k: v for k, v in data.items() if k != key}, "subtasks": value}
    return None


@dataclass
class _Step:
    raw: dict[str, Any]
    id: str
    agent: str
    description: str
    depends_on: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {**self.raw, "id": self.id, "agent": self.agent, "description": self.description,
                "depends_on": self.depends_on}


def _steps(raw_steps: list[dict[str, Any]], roster: Roster, notes: list[str]) -> list[_Step]:
    kept: list[tuple[dict[str, Any], str, str | None]] = []  # (raw, description, slug of the given id)
    seen: dict[tuple[str, str], int] = {}  # (agent, description) -> index in kept
    aliases: dict[str, int] = {}  # the id of a dropped repeat -> index in kept of what it repeats
    for n, raw in enumerate(raw_steps, start=1):
        label = _label(raw.get("id"), n)
        description = _description(raw, label, notes)
        if description is None:
            continue
        slug = _slug(raw.get("id"))
        key = (_clean(raw.get("agent")).lower(), " ".join(description.lower().split()))
        if key in seen:  # a small model looping: the same subtask again, maybe under a new id
            k = seen[key]
            notes.append(f"dropped subtask {n}: it repeats {_label(kept[k][0].get('id'), k + 1)}")
            if slug:
                aliases.setdefault(slug, k)
            continue
        seen[key] = len(kept)
        kept.append((raw, description, slug))
    # ids: valid, unique; the first subtask to use an id keeps it, later ones get a free tN
    taken = {slug for _, _, slug in kept if slug}
    first: dict[str, str] = {}
    ids: list[str] = []
    for n, (raw, _, slug) in enumerate(kept, start=1):
        given = raw.get("id")
        if slug and slug not in first:
            new = slug
            if str(given) != slug:
                notes.append(f"subtask id {_show(given)} written as {slug}")
        else:
            new = _free_id(taken, n)
            why = f"duplicate id {slug}" if slug else f"no usable id ({_show(given)})"
            notes.append(f"subtask {n}: {why}, renamed {new}")
        taken.add(new)
        if slug and slug not in first:
            first[slug] = new
        ids.append(new)
    for slug, k in aliases.items():
        first.setdefault(slug, ids[k])
    steps: list[_Step] = []
    for (raw, description, _), sid in zip(kept, ids, strict=True):
        agent = _agent(raw.get("agent"), description, sid, roster, notes)
        steps.append(_Step(_fields(raw, sid, notes), sid, agent, description, []))
    for step, (raw, _, _) in zip(steps, kept, strict=True):
        step.depends_on = _depends(raw.get("depends_on"), step.id, first, set(ids), notes)
    return steps


def _label(given: Any, n: int) -> str:
    slug = _slug(given)
    return slug or f"subtask {n}"


def _free_id(taken: set[str], n: int) -> str:
    k = n
    while f"t{k}" in taken:
        k += 1
    return f"t{k}"


def _slug(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.sub(r"(?<=[a-z])\s+(?=\d)", "", str(value).strip().lower())  # "T 1" -> t1
    text = re.sub(r"[^a-z0-9_-]+", "-", text).strip("-_")[:ID_MAX].strip("-_")
    return text or None


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 30 else text[:27] + "..."


# ------------------------------------------------------------------ fields


def _description(raw: dict[str, Any], label: str, notes: list[str]) -> str | None:
    value = raw.get("description")
    if _clean(value):
        return _text(value, DESCRIPTION_MAX, f"{label}'s description", notes)
    for key in _TEXT_KEYS[1:]:
        if _clean(raw.get(key)):
            notes.append(f"{label}: no description, used its {key}")
            return _text(raw[key], DESCRIPTION_MAX, f"{label}'s description", notes)
    notes.append(f"dropped {label}: it has no description")
    return None


def _clean(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return ""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", str(value)).strip()


def _text(value: Any, limit: int, what: str, notes: list[str]) -> str:
    text = _clean(value)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    notes.append(f"trimmed {what} to {limit} characters")
    return cut.rstrip() + "…"


def _fields(raw: dict[str, Any], sid: str, notes: list[str]) -> dict[str, Any]:
    """The optional fields, in bounds: lists of short strings, a token estimate."""
    out = {k: v for k, v in raw.items() if k in ("acceptance_criteria", "tools", "estimated_tokens")}
    if "acceptance_criteria" in out:
        out["acceptance_criteria"] = _short_list(out["acceptance_criteria"], CRITERION_MAX, CRITERIA_MAX,
                                                 f"{sid}'s acceptance criteria", notes)
    if "tools" in out:
        given = out["tools"] if isinstance(out["tools"], list) else [out["tools"]]
        names = [t.strip() for t in given if isinstance(t, str) and re.fullmatch(TOOL_PATTERN, t.strip())]
        bad = sum(1 for t in given if t not in (None, "")) - len(names)
        if bad:
            notes.append(f"{sid}: dropped {bad} tool hints that are not tool names")
        out["tools"] = _short_list(list(dict.fromkeys(names)), TOOL_MAX, TOOLS_MAX, f"{sid}'s tools", notes)
    if "estimated_tokens" in out:
        value = out["estimated_tokens"]
        number = _int(value)
        if number is None:
            notes.append(f"{sid}: ignored the token estimate {_show(value)}")
            del out["estimated_tokens"]
        else:
            clamped = min(max(number, 0), TOKENS_MAX)
            if clamped != value:
                notes.append(f"{sid}: token estimate {_show(value)} read as {clamped}")
            out["estimated_tokens"] = clamped
    return out


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e12:
        return round(value)
    if isinstance(value, str):
        digits = re.sub(r"[,_\s]", "", value)
        if re.fullmatch(r"-?\d{1,12}", digits):
            return int(digits)
    return None


def _short_list(value: Any, item_max: int, count_max: int, what: str, notes: list[str]) -> list[str]:
    items = value if isinstance(value, list) else [value] if value not in (None, "") else []
    texts = [t for t in (_clean(v) for v in items) if t]
    if len(texts) > count_max:
        notes.append(f"kept the first {count_max} of {len(texts)} {what}")
        texts = texts[:count_max]
    return [_text(t, item_max, what, notes) for t in texts]


# ------------------------------------------------------------------ agents


def _agent(given: Any, description: str, sid: str, roster: Roster, notes: list[str]) -> str:
    if isinstance(given, str) and given in roster.names:
        return given
    name, how = match_agent(given, description, roster)
    shown = _show(given) if given not in (None, "") else "none"
    notes.append(f"{sid}: agent {shown} {'read as' if how == 'name' else 'unknown, assigned to'} {name}")
    return name


# ------------------------------------------------------------------ dependencies


def _depends(value: Any, sid: str, first: dict[str, str], ids: set[str], notes: list[str]) -> list[str]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else re.split(r"[,;\s]+", value) if isinstance(value, str) \
        else [value]
    out: list[str] = []
    for item in items:
        slug = _slug(item)
        target = first.get(slug, slug if slug in ids else None) if slug else None
        if target is None:
            if _clean(item):
                notes.append(f"{sid}: dropped the dependency on unknown {_show(item)}")
            continue
        if target == sid:
            notes.append(f"{sid}: dropped its dependency on itself")
            continue
        if target not in out:
            out.append(target)
    if len(out) > DEPENDS_MAX:
        notes.append(f"{sid}: kept the first {DEPENDS_MAX} of {len(out)} dependencies")
        out = out[:DEPENDS_MAX]
    return out


def _break_cycles(steps: Sequence[_Step], notes: list[str]) -> None:
    """Drop, per cycle, the edge that closes it in plan order: a dependency on a later subtask."""
    position = {s.id: i for i, s in enumerate(steps)}
    by_id = {s.id: s for s in steps}
    while cycle := find_cycle({s.id: list(s.depends_on) for s in steps}):
        dependent, dependency = closing_edge(cycle, position)
        by_id[dependent].depends_on.remove(dependency)
        notes.append(f"{dependent}: dropped its dependency on {dependency} to break the cycle "
                     f"{' -> '.join(cycle)}")


def _topological(steps: list[_Step], notes: list[str]) -> list[_Step]:
    """Steps ordered so each comes after its dependencies, keeping the given order where it can."""
    position = {s.id: i for i, s in enumerate(steps)}
    moved = [s.id for s in steps if any(position[d] > position[s.id] for d in s.depends_on)]
    if not moved:
        return steps
    by_id = {s.id: s for s in steps}
    order = dependency_order([s.id for s in steps], {s.id: s.depends_on for s in steps})
    one = len(moved) == 1
    notes.append(f"reordered the subtasks so {', '.join(moved)} {'comes' if one else 'come'} after "
                 f"what {'it depends' if one else 'they depend'} on")
    return [by_id[i] for i in order]
