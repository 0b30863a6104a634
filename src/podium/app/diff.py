"""What changed between two runs (typically a run and its fork): `podium diff`.

The plans are compared as they stand (a run's live graph once approved, else its latest plan):
subtasks added, removed, and changed field by field (description, agent, dependencies, criteria);
then each common subtask's output as a unified diff, the results, and usage side by side.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from podium.domain import Execution, Subtask, Usage
from podium.store.fork import ForkRepository

if TYPE_CHECKING:
    from podium.app.session import ProjectSession

_FIELDS = ("description", "agent", "depends_on", "acceptance_criteria")


class RunSide(BaseModel):
    id: str
    objective: str
    status: str
    team: str
    model: str | None
    usage: Usage
    steps: int
    parent: str | None = None  # a fork: the run it came from


class SubtaskDiff(BaseModel):
    id: str
    status: tuple[str | None, str | None]
    changed: dict[str, tuple[Any, Any]] = Field(default_factory=dict)  # plan fields that differ
    output_same: bool
    output_diff: str = ""  # unified diff (empty when the outputs are the same)
    usage: tuple[Usage | None, Usage | None]
    reused_from: dict[str, Any] | None = None  # B's subtask copied from a run (a fork)


class RunDiff(BaseModel):
    a: RunSide
    b: RunSide
    objective_changed: bool
    added: list[str]  # in B's plan only
    removed: list[str]  # in A's plan only
    subtasks: list[SubtaskDiff]  # every subtask in either plan, A's order then B's new ones
    result_same: bool
    result_diff: str = ""

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def unified(a: str, b: str, name_a: str, name_b: str) -> str:
    """A unified diff of two texts (line by line), empty when they are the same."""
    if a == b:
        return ""
    lines = difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True), name_a, name_b)
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


async def _plan_of(session: ProjectSession, run_id: str) -> list[Subtask]:
    subtasks = await session.runs.subtasks(run_id)
    if subtasks:
        return subtasks
    latest = await session.runs.latest_plan(run_id)
    return list(latest.plan.subtasks) if latest is not None else []


async def _side(session: ProjectSession, execution: Execution) -> RunSide:
    record = await ForkRepository(session.store).lineage(execution.id)
    return RunSide(id=execution.id, objective=execution.objective, status=execution.status.value,
                   team=execution.team, model=execution.model, usage=execution.usage, steps=execution.steps,
                   parent=record.parent_id if record else None)


async def diff_runs(session: ProjectSession, run_a: str, run_b: str) -> RunDiff:
    """Compare two runs of the session's project (ids or unique prefixes)."""
    a = await session.runs.get_execution(run_a)
    b = await session.runs.get_execution(run_b)
    plan_a, plan_b = await _plan_of(session, a.id), await _plan_of(session, b.id)
    by_a, by_b = {s.id: s for s in plan_a}, {s.id: s for s in plan_b}
    record = await ForkRepository(session.store).lineage(b.id)
    order = [s.id for s in plan_a] + [s.id for s in plan_b if s.id not in by_a]
    rows: list[SubtaskDiff] = []
    for sid in order:
        sa, sb = by_a.get(sid), by_b.get(sid)
        changed: dict[str, tuple[Any, Any]] = {}
        if sa is not None and sb is not None:
            for name in _FIELDS:
                va, vb = getattr(sa, name), getattr(sb, name)
                if va != vb:
                    changed[name] = (va, vb)
        out_a, out_b = (sa.output or "") if sa else "", (sb.output or "") if sb else ""
        reuse = record.reused.get(sid) if record is not None else None
        rows.append(SubtaskDiff(
            id=sid, status=(sa.status.value if sa else None, sb.status.value if sb else None),
            changed=changed, output_same=out_a == out_b,
            output_diff=unified(out_a, out_b, f"{a.id}/{sid}", f"{b.id}/{sid}"),
            usage=(sa.usage if sa else None, sb.usage if sb else None),
            reused_from=None if reuse is None or reuse.applied is False else
            {"run": reuse.run, "subtask": reuse.subtask, "edited": reuse.edited}))
    result_a, result_b = a.result or "", b.result or ""
    return RunDiff(
        a=await _side(session, a), b=await _side(session, b), objective_changed=a.objective != b.objective,
        added=[s.id for s in plan_b if s.id not in by_a], removed=[s.id for s in plan_a if s.id not in by_b],
        subtasks=rows, result_same=result_a == result_b,
        result_diff=unified(result_a, result_b, f"{a.id}/result", f"{b.id}/result"))


def to_markdown(diff: RunDiff) -> str:
    """The diff for people: plan changes, output diffs, result diff, usage side by side."""
    a, b = diff.a, diff.b
    out = [f"# {a.id} → {b.id}", ""]
    if b.parent == a.id:
        out.append(f"{b.id} is a fork of {a.id}.")
        out.append("")
    if diff.objective_changed:
        out += ["## Objective", "", f"- A: {a.objective}", f"+ B: {b.objective}", ""]
    out += ["## Plan", ""]
    plan_lines = [f"- added {sid}" for sid in diff.added] + [f"- removed {sid}" for sid in diff.removed]
    for s in diff.subtasks:
        for name, (va, vb) in s.changed.items():
            plan_lines.append(f"- {s.id} {name}: {_short(va)} → {_short(vb)}")
    out += plan_lines or ["The plans are the same."]
    out += ["", "## Subtasks", "", "| subtask | A | B | output | tokens A | tokens B | cost A | cost B |",
            "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for s in diff.subtasks:
        ua, ub = s.usage
        same = "same" if s.output_same else "changed"
        if s.reused_from is not None:
            same += f" (reused{', edited' if s.reused_from['edited'] else ''})"
        out.append(f"| {s.id} | {s.status[0] or '—'} | {s.status[1] or '—'} | {same} | {_tokens(ua)} | "
                   f"{_tokens(ub)} | {_cost(ua)} | {_cost(ub)} |")
    for s in diff.subtasks:
        if s.output_diff:
            out += ["", f"### {s.id} output", "", "```diff", s.output_diff.rstrip("\n"), "```"]
    out += ["", "## Result", ""]
    if diff.result_same:
        out.append("The results are the same.")
    else:
        out += ["```diff", diff.result_diff.rstrip("\n"), "```"]
    out += ["", "## Usage", "", "| | A | B |", "| --- | ---: | ---: |",
            f"| tokens | {a.usage.tokens:,} | {b.usage.tokens:,} |",
            f"| cost | ${a.usage.cost_usd:.4f} | ${b.usage.cost_usd:.4f} |",
            f"| model calls | {a.usage.calls} | {b.usage.calls} |", ""]
    return "\n".join(out)


def _short(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    text = text or "(none)"
    return text if len(text) <= 80 else text[:77] + "…"


def _tokens(u: Usage | None) -> str:
    return "—" if u is None else f"{u.tokens:,}"


def _cost(u: Usage | None) -> str:
    return "—" if u is None else f"${u.cost_usd:.4f}"
