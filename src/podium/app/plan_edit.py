"""Editing a proposed plan before approval: the use cases `podium plan edit` and the TUI share.

A person may change a plan the leader proposed (a subtask's text, agent, dependencies or
acceptance criteria; add or delete subtasks) while the run awaits approval. The edited plan is
checked exactly as a leader's plan is (`orchestrator.planning.validate_plan`: agents of the team,
known dependencies, no cycles, unique ids) and saved as the next plan version, still proposed,
with its author; nothing is saved until it is valid.

The command line edits the plan as TOML (`plan_toml` / `parse_plan_toml`); Python 3.11 reads
TOML with tomllib, and the few shapes a plan has (strings, lists of strings, integers) are
written here rather than with another dependency.
"""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from podium.domain import ExecutionStatus, Plan, PlanStatus, Subtask, Team
from podium.errors import PodiumError

if TYPE_CHECKING:
    from podium.app.session import ProjectSession

# What a person may set on a subtask (status, output and usage belong to the run).
EDITABLE = ("id", "agent", "description", "depends_on", "acceptance_criteria", "estimated_tokens", "tools")


class PlanEditError(PodiumError):
    """An edited plan that cannot be saved: every problem, one line each."""

    exit_code = 2

    def __init__(self, errors: list[str]) -> None:
        super().__init__("the edited plan is not valid: " + "; ".join(errors))
        self.errors = errors


class PlanDraft(BaseModel):
    """The plan awaiting approval that is being edited: the run, its team and the version."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    objective: str
    version: int
    plan: Plan
    team: Team


# ---------------------------------------------------------------- checking


def check_plan(plan: Plan, team: Team) -> list[str]:
    """A person's plan, checked as a leader's is (no mending: the person sees each problem)."""
    from podium.orchestrator.planning import validate_plan

    return validate_plan(plan, team)


def edited_subtask(fields: dict[str, Any], position: int) -> tuple[Subtask | None, list[str]]:
    """One subtask from what a person wrote, or the problems with it (named by position and id)."""
    name = f"subtask {position}" + (f" ({fields['id']})" if isinstance(fields.get("id"), str) else "")
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        return None, [f"{name}: unknown field {', '.join(unknown)} (fields: {', '.join(EDITABLE)})"]
    try:
        return Subtask.model_validate({k: v for k, v in fields.items() if k in EDITABLE}), []
    except ValidationError as exc:
        return None, [f"{name}: {'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}"
                      for e in exc.errors()]


def edited_subtasks(rows: list[dict[str, Any]]) -> list[Subtask]:
    """Subtasks from what a person wrote, in order; PlanEditError with every row's problems if any."""
    errors: list[str] = []
    built: list[Subtask] = []
    for i, fields in enumerate(rows, 1):
        subtask, problems = edited_subtask(fields, i)
        errors += problems
        if subtask is not None:
            built.append(subtask)
    if errors:
        raise PlanEditError(errors)
    return built


def build_plan(subtasks: list[dict[str, Any]], rationale: str, team: Team) -> Plan:
    """A plan from edited subtasks (dicts of EDITABLE fields), checked; PlanEditError if not valid."""
    plan = Plan(subtasks=edited_subtasks(subtasks), rationale=rationale)
    errors = check_plan(plan, team)
    if errors:
        raise PlanEditError(errors)
    return plan


def same_plan(a: Plan, b: Plan) -> bool:
    """Whether two plans say the same (the leader's mends are not part of what a person edits)."""
    def key(p: Plan) -> Any:
        return (p.rationale, [s.model_dump(include=set(EDITABLE)) for s in p.subtasks])

    return bool(key(a) == key(b))


# ---------------------------------------------------------------- TOML


def plan_toml(draft: PlanDraft) -> str:
    """The plan as TOML for a person to edit, with comments saying what may be changed."""
    team = draft.team
    agents = ", ".join(a.name + (" (leader)" if a.name == team.leader else "") for a in team.agents)
    lines = [
        f"# Plan v{draft.version} of run {draft.run_id}, awaiting approval.",
        f"# Objective: {_one_line(draft.objective)}",
        "#",
        "# Change a subtask's description, agent, dependencies or acceptance criteria; add a",
        "# [[subtasks]] table or delete one. Saved as the next plan version, still awaiting approval.",
        f"# Agents of the {team.name} team: {agents}",
        "# Ids: short lowercase letters/digits (t1, t2 ...); depends_on names ids of this plan.",
        "",
        f"rationale = {_string(draft.plan.rationale)}",
    ]
    for s in draft.plan.subtasks:
        lines += [
            "",
            "[[subtasks]]",
            f"id = {_string(s.id)}",
            f"agent = {_string(s.agent)}",
            f"description = {_string(s.description)}",
            f"depends_on = {_strings(s.depends_on)}",
            f"acceptance_criteria = {_strings(s.acceptance_criteria)}",
            f"estimated_tokens = {s.estimated_tokens}",
            f"tools = {_strings(s.tools)}",
        ]
    return "\n".join(lines) + "\n"


def parse_plan_toml(text: str, team: Team) -> Plan:
    """The plan a person wrote as TOML, checked like a leader's; PlanEditError lists the problems."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanEditError([f"not valid TOML: {exc}"]) from None
    unknown = sorted(set(data) - {"rationale", "subtasks"})
    if unknown:
        raise PlanEditError([f"unknown top-level key {', '.join(unknown)} (keys: rationale, [[subtasks]])"])
    rationale = data.get("rationale", "")
    subtasks = data.get("subtasks", [])
    if not isinstance(rationale, str):
        raise PlanEditError(["rationale must be a string"])
    if not isinstance(subtasks, list) or not all(isinstance(s, dict) for s in subtasks):
        raise PlanEditError(["subtasks must be [[subtasks]] tables"])
    return build_plan(subtasks, rationale, team)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def _string(text: str) -> str:
    """A TOML string: basic, or multi-line basic when the text has line breaks (kept readable)."""
    def escape(ch: str, keep_newline: bool) -> str:
        if ch == "\\":
            return "\\\\"
        if ch == '"':
            return '\\"'
        if ch == "\n" and keep_newline:
            return ch
        if ch == "\t":
            return ch if keep_newline else "\\t"
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            return f"\\u{ord(ch):04x}"
        return ch

    if "\n" in text:
        # A newline right after the opening quotes is trimmed by TOML, so the text starts on its own line.
        return '"""\n' + "".join(escape(c, True) for c in text) + '"""'
    return '"' + "".join(escape(c, False) for c in text) + '"'


def _strings(items: list[str]) -> str:
    return "[" + ", ".join(_string(i) for i in items) + "]"


# ---------------------------------------------------------------- use cases


async def editable_plan(session: ProjectSession, run_id: str) -> PlanDraft:
    """The run's plan awaiting approval, to edit; PodiumError when the run does not await approval."""
    runs = session.runs
    execution = await runs.get_execution(run_id)
    latest = await runs.latest_plan(execution.id)
    if execution.status is not ExecutionStatus.AWAITING_APPROVAL or latest is None \
            or latest.status is not PlanStatus.PROPOSED:
        raise PodiumError(f"run {execution.id} is {execution.status.value}: only a plan awaiting approval "
                          "can be edited")
    return PlanDraft(run_id=execution.id, objective=execution.objective, version=latest.version,
                     plan=latest.plan, team=await runs.get_team(execution.id))


async def save_plan(session: ProjectSession, draft: PlanDraft, plan: Plan, *, author: str = "user"
                    ) -> int | None:
    """Save an edited plan as the next version (still proposed) by `author`; returns the version,
    or None when it says the same as the version edited (nothing saved). Checked again here (a
    caller may have built the plan itself): PlanEditError, and nothing is saved, if not valid."""
    errors = check_plan(plan, draft.team)
    if errors:
        raise PlanEditError(errors)
    if same_plan(plan, draft.plan):
        return None
    fresh = [Subtask.model_validate(s.model_dump(include=set(EDITABLE))) for s in plan.subtasks]
    clean = Plan(subtasks=fresh, rationale=plan.rationale)
    return await session.runs.add_edited_plan(draft.run_id, clean, edits=draft.version, author=author)


# ---------------------------------------------------------------- one change at a time (the TUI)


def changed_plan(plan: Plan, action: str, subtask_id: str | None, fields: dict[str, Any]) -> Plan:
    """The plan with one change a person made from the keyboard: "add" a subtask (a new id), "edit"
    one (description, agent, after: its dependencies, criteria: its acceptance criteria; fields
    left out stay) or "delete" one. Not checked here: `save_plan` checks it like a leader's plan
    (so deleting a subtask others depend on is refused with the dependency named)."""
    def apply(into: dict[str, Any]) -> dict[str, Any]:
        for name, key in (("description", "description"), ("agent", "agent"), ("after", "depends_on"),
                          ("criteria", "acceptance_criteria")):
            if name in fields:
                into[key] = fields[name]
        return into

    rows = [s.model_dump(include=set(EDITABLE)) for s in plan.subtasks]
    ids = [r["id"] for r in rows]
    if action == "add":
        n = len(rows) + 1
        while f"t{n}" in ids:
            n += 1
        rows.append(apply({"id": f"t{n}", "agent": "", "description": "", "depends_on": [],
                           "acceptance_criteria": []}))
    elif subtask_id not in ids:
        raise PlanEditError([f"the plan has no subtask {subtask_id!r} (its subtasks: {', '.join(ids)})"])
    elif action == "edit":
        rows = [apply(r) if r["id"] == subtask_id else r for r in rows]
    elif action == "delete":
        rows = [r for r in rows if r["id"] != subtask_id]
    else:
        raise PlanEditError([f"no plan edit {action!r} (add, edit or delete)"])
    return Plan(subtasks=edited_subtasks(rows), rationale=plan.rationale)


async def edit_proposed_plan(session: ProjectSession, run_id: str, action: str, subtask_id: str | None,
                             fields: dict[str, Any], *, author: str = "user") -> str:
    """One change to the plan awaiting approval, saved as the next version if the plan stays
    valid (PlanEditError lists why not; nothing is saved). Returns what happened, in one line."""
    draft = await editable_plan(session, run_id)
    plan = changed_plan(draft.plan, action, subtask_id, fields)
    version = await save_plan(session, draft, plan, author=author)
    if version is None:
        return f"no change: plan v{draft.version} still awaits approval"
    return f"plan v{version} ({len(plan.subtasks)} subtasks, edited by {author}) awaits approval"
