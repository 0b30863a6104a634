"""A run as the screens show it, folded from its events.

Pure (no Textual, no I/O) so the live screen, replay and tests share one
reducer: the run screen applies events as they arrive; replay folds the
first N events to show the run as it was at that moment. The TUI never
owns state: this is a view rebuilt from the store's event log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from podium import events as ev
from podium.domain import (
    Budget,
    Event,
    ExecutionStatus,
    KanbanCard,
    Plan,
    PlanStatus,
    Subtask,
    SubtaskStatus,
    Usage,
)

# The symbol per subtask status (UX.md); colours come from the theme via CSS classes.
STATUS_SYMBOL: dict[SubtaskStatus, str] = {
    SubtaskStatus.PENDING: "○",
    SubtaskStatus.RUNNING: "●",
    SubtaskStatus.WAITING_PEER: "◐",
    SubtaskStatus.NEEDS_HELP: "⚑",
    SubtaskStatus.REVIEW: "◆",
    SubtaskStatus.DONE: "✔",
    SubtaskStatus.FAILED: "✘",
    SubtaskStatus.BLOCKED: "⊘",
}

RUN_SYMBOL: dict[ExecutionStatus, str] = {
    ExecutionStatus.PLANNING: "◌",
    ExecutionStatus.AWAITING_APPROVAL: "⚑",
    ExecutionStatus.RUNNING: "●",
    ExecutionStatus.PAUSED: "‖",
    ExecutionStatus.HALTED: "■",
    ExecutionStatus.SYNTHESISING: "●",
    ExecutionStatus.REVIEW: "⚑",
    ExecutionStatus.COMPLETED: "✔",
    ExecutionStatus.PARTIAL: "◑",
    ExecutionStatus.FAILED: "✘",
}


@dataclass
class PlanVersion:
    version: int
    plan: Plan
    status: PlanStatus = PlanStatus.PROPOSED
    feedback: str | None = None
    fallback: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass
class Contribution:
    agent: str
    content: str


@dataclass
class RunState:
    execution_id: str
    objective: str = ""
    team: str = ""
    model: str | None = None
    agents: list[str] = field(default_factory=list)
    leader: str | None = None
    status: ExecutionStatus = ExecutionStatus.PLANNING
    status_reason: str | None = None
    budget: Budget = field(default_factory=Budget)
    usage: Usage = field(default_factory=Usage)
    steps: int = 0
    result: str | None = None
    created_at: float | None = None
    finished_at: float | None = None
    plans: list[PlanVersion] = field(default_factory=list)
    subtasks: dict[str, Subtask] = field(default_factory=dict)
    contributions: list[Contribution] = field(default_factory=list)
    help_requests: dict[str, str] = field(default_factory=dict)
    tool_approvals: dict[int, dict[str, Any]] = field(default_factory=dict)
    verdict: dict[str, Any] | None = None
    last_seq: int = 0
    last_event_at: float | None = None

    # ------------------------------------------------------------ derived

    @property
    def plan(self) -> PlanVersion | None:
        return self.plans[-1] if self.plans else None

    @property
    def rejected_plans(self) -> list[PlanVersion]:
        return [p for p in self.plans if p.status is PlanStatus.REJECTED]

    @property
    def awaiting_approval(self) -> bool:
        return self.status is ExecutionStatus.AWAITING_APPROVAL

    @property
    def awaiting_review(self) -> bool:
        return self.status is ExecutionStatus.REVIEW

    @property
    def running_count(self) -> int:
        return sum(
            s.status in (SubtaskStatus.RUNNING, SubtaskStatus.WAITING_PEER) for s in self.subtasks.values()
        )

    @property
    def waits_on_person(self) -> list[str]:
        """Everything that waits on the person, loudest first."""
        waits = []
        if self.awaiting_approval:
            waits.append("plan awaits approval (a / r)")
        for sid, question in self.help_requests.items():
            waits.append(f"{sid} asks for help (h): {question[:60]}")
        for request in self.tool_approvals.values():
            waits.append(f"{request.get('agent')} wants to run {request.get('tool')} (y to decide)")
        if self.awaiting_review:
            wait = "result awaits your review (v: accept or rework)"
            if self.verdict:
                round_ = f" (round {self.verdict['round']})" if (self.verdict.get("round") or 1) > 1 else ""
                wait += f" — leader's review{round_}: {self.verdict.get('overall', '')}"
            waits.append(wait)
        return waits

    def subtask_verdict(self, subtask_id: str) -> dict[str, Any] | None:
        """The latest review's verdict on one subtask (ok, reasons), if it was reviewed."""
        for v in (self.verdict or {}).get("verdicts", []):
            if isinstance(v, dict) and v.get("subtask_id") == subtask_id:
                return v
        return None

    def cards(self) -> list[KanbanCard]:
        return [KanbanCard.from_subtask(s, self.progress(s)) for s in self.subtasks.values()]

    @staticmethod
    def progress(subtask: Subtask) -> float:
        if subtask.status is SubtaskStatus.DONE:
            return 1.0
        if not subtask.estimated_tokens:
            return 0.0
        return min(0.95, subtask.usage.tokens / subtask.estimated_tokens)

    def elapsed(self, now: float | None = None) -> float:
        if self.created_at is None:
            return 0.0
        end = self.finished_at or (now if now is not None else time.time())
        return max(0.0, end - self.created_at)

    # ------------------------------------------------------------ folding

    def apply(self, event: Event) -> bool:
        """Fold one event in; returns True if the run's shape or numbers changed.

        Unknown or malformed payloads are skipped rather than raised: the
        screen must survive an event written by a newer or buggy writer.
        """
        if event.seq is not None:
            self.last_seq = max(self.last_seq, event.seq)
        self.last_event_at = event.created_at
        handler = _HANDLERS.get(event.type)
        if handler is None:
            return False
        try:
            handler(self, event.payload, event.created_at)
        except (ValidationError, ValueError, KeyError, TypeError):
            return False
        return True

    @classmethod
    def fold(cls, execution_id: str, events: list[Event]) -> RunState:
        state = cls(execution_id)
        for event in events:
            state.apply(event)
        return state

    def seed_from_row(self, row: Any) -> None:
        """Fill the headline from an `executions` row (older runs may lack events)."""
        self.objective = row["objective"]
        self.team = row["team"]
        self.model = row["model"]
        self.status = _status(row["status"], self.status)
        self.usage = Usage(
            prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"],
            cost_usd=row["cost_usd"], calls=row["calls"],
        )
        self.steps = row["steps"]
        self.result = row["result"]
        self.created_at = row["created_at"]
        self.finished_at = row["finished_at"]


def run_status(value: Any) -> ExecutionStatus | None:
    """The status, or None for a value this build does not know (a newer writer)."""
    try:
        return ExecutionStatus(value)
    except ValueError:
        return None


def _status(value: Any, default: ExecutionStatus) -> ExecutionStatus:
    try:
        return ExecutionStatus(value)
    except ValueError:
        return default


def _on_created(s: RunState, p: dict[str, Any], at: float) -> None:
    s.objective = p.get("objective", s.objective)
    s.team = p.get("team", s.team)
    s.model = p.get("model", s.model)
    if isinstance(p.get("budget"), dict):
        s.budget = Budget.model_validate(p["budget"])
    s.agents = list(p.get("agents") or s.agents)
    s.leader = p.get("leader", s.leader)
    s.created_at = s.created_at or at


def _on_status(s: RunState, p: dict[str, Any], at: float) -> None:
    s.status = ExecutionStatus(p["status"])
    s.status_reason = p.get("reason")
    if isinstance(p.get("budget"), dict):
        s.budget = Budget.model_validate(p["budget"])
    if s.status.finished:
        s.finished_at = at
    else:
        s.finished_at = None


def _on_usage(s: RunState, p: dict[str, Any], at: float) -> None:
    s.usage = Usage(
        prompt_tokens=int(p.get("prompt_tokens", s.usage.prompt_tokens)),
        completion_tokens=int(p.get("completion_tokens", s.usage.completion_tokens)),
        cost_usd=float(p.get("cost_usd", s.usage.cost_usd)),
        calls=int(p.get("calls", s.usage.calls)),
    )
    s.steps = int(p.get("steps", s.steps))


def _on_result(s: RunState, p: dict[str, Any], at: float) -> None:
    s.result = p.get("result")


def _on_contribution(s: RunState, p: dict[str, Any], at: float) -> None:
    s.contributions.append(Contribution(agent=p["agent"], content=p.get("content", "")))


def _on_plan_proposed(s: RunState, p: dict[str, Any], at: float) -> None:
    plan = Plan.model_validate(p["plan"])
    version = int(p.get("version", len(s.plans) + 1))
    errors = p.get("errors") or []
    s.plans.append(PlanVersion(version, plan, fallback=bool(p.get("fallback")), errors=list(errors)))
    s.subtasks = {t.id: t.model_copy() for t in plan.subtasks}
    s.help_requests.clear()


def _find_plan(s: RunState, p: dict[str, Any]) -> PlanVersion | None:
    version = p.get("version")
    for plan in reversed(s.plans):
        if version is None or plan.version == int(version):
            return plan
    return None


def _on_plan_approved(s: RunState, p: dict[str, Any], at: float) -> None:
    plan = _find_plan(s, p)
    if plan:
        plan.status = PlanStatus.APPROVED


def _on_plan_rejected(s: RunState, p: dict[str, Any], at: float) -> None:
    plan = _find_plan(s, p)
    if plan:
        plan.status = PlanStatus.REJECTED
        plan.feedback = p.get("feedback")


def _on_subtask_status(s: RunState, p: dict[str, Any], at: float) -> None:
    sid = p["subtask_id"]
    task = s.subtasks.get(sid)
    if task is None:
        task = Subtask(id=sid, agent=p.get("agent", "?"), description=p.get("description") or sid)
        s.subtasks[sid] = task
    task.status = SubtaskStatus(p["status"])
    if "output" in p and p["output"] is not None:
        task.output = p["output"]
    if p.get("error") is not None:
        task.error = p["error"]
    if task.status is SubtaskStatus.RUNNING and task.started_at is None:
        task.started_at = at
    if task.status in (SubtaskStatus.DONE, SubtaskStatus.FAILED, SubtaskStatus.BLOCKED):
        task.finished_at = at
    if task.status is not SubtaskStatus.NEEDS_HELP:
        s.help_requests.pop(sid, None)


def _on_message(s: RunState, p: dict[str, Any], at: float) -> None:
    # Per-subtask token counts feed the graph's detail panel and the board's bars.
    task = s.subtasks.get(p.get("subtask_id") or "")
    if task is None:
        return
    prompt = int(p.get("prompt_tokens") or 0)
    completion = int(p.get("completion_tokens") or 0)
    cost = float(p.get("cost_usd", 0.0) or 0.0)
    task.usage = task.usage.add(Usage(prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost))


def _on_help(s: RunState, p: dict[str, Any], at: float) -> None:
    s.help_requests[p["subtask_id"]] = p.get("question", "")


def _on_intervention(s: RunState, p: dict[str, Any], at: float) -> None:
    if p.get("kind") == "answer" and p.get("subtask_id"):
        s.help_requests.pop(p["subtask_id"], None)


def _on_tool_approval(s: RunState, p: dict[str, Any], at: float) -> None:
    s.tool_approvals[int(p["id"])] = dict(p)


def _on_tool_decided(s: RunState, p: dict[str, Any], at: float) -> None:
    s.tool_approvals.pop(int(p["id"]), None)


def _on_verdict(s: RunState, p: dict[str, Any], at: float) -> None:
    s.verdict = dict(p)


_HANDLERS = {
    ev.RUN_CREATED: _on_created,
    ev.RUN_STATUS: _on_status,
    ev.RUN_USAGE: _on_usage,
    ev.RUN_RESULT: _on_result,
    ev.DISCUSSION_CONTRIBUTION: _on_contribution,
    ev.PLAN_PROPOSED: _on_plan_proposed,
    ev.PLAN_APPROVED: _on_plan_approved,
    ev.PLAN_REJECTED: _on_plan_rejected,
    ev.SUBTASK_STATUS: _on_subtask_status,
    ev.MESSAGE_ADDED: _on_message,
    ev.HELP_REQUESTED: _on_help,
    ev.INTERVENTION: _on_intervention,
    ev.REVIEW_VERDICT: _on_verdict,
    ev.TOOL_APPROVAL_REQUESTED: _on_tool_approval,
    ev.TOOL_APPROVAL_DECIDED: _on_tool_decided,
}


def human_tokens(n: float) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}".removesuffix(".0") + "M"
    if n >= 1000:
        return f"{n / 1000:.1f}".removesuffix(".0") + "k"
    return f"{int(n)}"


def human_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 86_400:
        days, rest = divmod(seconds, 86_400)
        return f"{days}d {rest // 3600}h"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
