"""A run as the front ends show it, folded from its typed events: the one shared reducer.

Pure (no Textual, no I/O) so the live TUI screen, the replay, the headless live view and
`--json` output fold events the same way: the run screen applies events as they arrive;
replay folds the first N events to show the run as it was at that moment; `podium run`
folds the bus's events into the panel it prints. No front end owns state: this is a view
rebuilt from the store's event log. Payloads arrive parsed (`podium.events`); a payload
this build could not parse (an UnparsedPayload) is skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from podium import events as ev
from podium.domain import (
    Budget,
    Event,
    EventPayload,
    ExecutionStatus,
    KanbanCard,
    Plan,
    PlanStatus,
    Subtask,
    SubtaskStatus,
    Usage,
    card_progress,
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
    SubtaskStatus.SKIPPED: "↷",
    SubtaskStatus.CANCELLED: "✕",
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
    author: str = "leader"


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
    tool_approvals: dict[int, ev.ToolApprovalRequested] = field(default_factory=dict)
    review: ev.ReviewVerdict | None = None  # the leader's latest verdict
    # Per subtask, what its last status change said (its error, else the reason given).
    notes: dict[str, str] = field(default_factory=dict)
    # The leader's end-of-run lessons as stored (agent or None: the team, text), or why none.
    lessons: list[tuple[str | None, str]] = field(default_factory=list)
    lessons_skipped: str | None = None
    # Changes to the approved plan's live graph, in order (who changed what, which version it made).
    changes: list[ev.PlanChanged] = field(default_factory=list)
    # Proposals (an agent's new subtask, the leader's replan) waiting for a person, by number.
    proposals: dict[int, ev.ProposalMade] = field(default_factory=dict)
    # Per subtask, the sources it read (by id, latest record) and the claims it checked.
    sources: dict[str, dict[str, ev.SourceRecorded]] = field(default_factory=dict)
    claims: dict[str, list[ev.CheckedClaim]] = field(default_factory=dict)
    last_seq: int = 0
    last_event_at: float | None = None

    # ------------------------------------------------------------ derived

    @property
    def plan(self) -> PlanVersion | None:
        return self.plans[-1] if self.plans else None

    @property
    def verdict(self) -> dict[str, Any] | None:
        """The latest verdict as plain data: round, ok, overall, reasons, verdicts."""
        return None if self.review is None else self.review.model_dump(mode="json", exclude={"type"})

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
            waits.append(f"{request.agent} wants to run {request.tool} (y to decide)")
        for proposal in self.proposals.values():
            what = "replan" if proposal.kind == "replan" else "new subtask"
            waits.append(f"{proposal.by} proposes a {what} #{proposal.number} (P to decide): "
                         f"{proposal.summary[:60]}")
        if self.awaiting_review:
            wait = "result awaits your review (v: accept or rework)"
            if self.review is not None:
                round_ = f" (round {self.review.round})" if self.review.round > 1 else ""
                wait += f" — leader's review{round_}: {self.review.overall}"
            waits.append(wait)
        return waits

    def subtask_verdict(self, subtask_id: str) -> dict[str, Any] | None:
        """The latest review's verdict on one subtask (ok, reasons), if it was reviewed."""
        for v in self.review.verdicts if self.review is not None else []:
            if v.subtask_id == subtask_id:
                return v.model_dump(mode="json")
        return None

    def sources_of(self, subtask_id: str) -> list[ev.SourceRecorded]:
        """The sources a subtask read, by id (S1, S2, ...)."""
        found = self.sources.get(subtask_id, {})
        return sorted(found.values(), key=lambda s: int(s.id.removeprefix("S") or 0))

    def cards(self) -> list[KanbanCard]:
        return [KanbanCard.from_subtask(s, self.progress(s)) for s in self.subtasks.values()]

    @staticmethod
    def progress(subtask: Subtask) -> float:
        return card_progress(subtask)

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
        handler = _HANDLERS.get(type(event.payload))
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


def _on_created(s: RunState, p: ev.RunCreated, at: float) -> None:
    s.objective = p.objective
    s.team = p.team
    s.model = p.model
    if "budget" in p.model_fields_set:
        s.budget = p.budget
    s.agents = list(p.agents or s.agents)
    s.leader = p.leader if "leader" in p.model_fields_set else s.leader
    s.created_at = s.created_at or at


def _on_status(s: RunState, p: ev.RunStatusChanged, at: float) -> None:
    s.status = p.status
    s.status_reason = p.reason
    if p.budget is not None:
        s.budget = p.budget
    if s.status.finished:
        s.finished_at = at
    else:
        s.finished_at = None


def _on_usage(s: RunState, p: ev.RunUsageRecorded, at: float) -> None:
    given = p.model_fields_set  # a field an older writer left out keeps its value
    u = s.usage
    s.usage = Usage(
        prompt_tokens=p.prompt_tokens if "prompt_tokens" in given else u.prompt_tokens,
        completion_tokens=p.completion_tokens if "completion_tokens" in given else u.completion_tokens,
        cost_usd=p.cost_usd if "cost_usd" in given else u.cost_usd,
        calls=p.calls if "calls" in given else u.calls,
    )
    s.steps = p.steps if "steps" in given else s.steps


def _on_result(s: RunState, p: ev.RunResult, at: float) -> None:
    s.result = p.result


def _on_contribution(s: RunState, p: ev.DiscussionContribution, at: float) -> None:
    s.contributions.append(Contribution(agent=p.agent, content=p.content))


def _on_plan_proposed(s: RunState, p: ev.PlanProposed, at: float) -> None:
    plan = p.plan
    if p.supersedes is not None:  # a person's edit replaces the version it was made from
        old = _find_plan(s, p.supersedes)
        if old is not None:
            old.status = PlanStatus.SUPERSEDED
    s.plans.append(PlanVersion(p.version, plan, fallback=p.fallback, errors=list(p.errors or []),
                               author=p.author))
    s.subtasks = {t.id: t.model_copy() for t in plan.subtasks}
    s.notes.clear()
    s.help_requests.clear()


def _find_plan(s: RunState, version: int | None) -> PlanVersion | None:
    for plan in reversed(s.plans):
        if version is None or plan.version == version:
            return plan
    return None


def _on_plan_approved(s: RunState, p: ev.PlanApproved, at: float) -> None:
    plan = _find_plan(s, p.version)
    if plan:
        plan.status = PlanStatus.APPROVED


def _on_plan_rejected(s: RunState, p: ev.PlanRejected, at: float) -> None:
    plan = _find_plan(s, p.version)
    if plan:
        plan.status = PlanStatus.REJECTED
        plan.feedback = p.feedback


def _on_plan_changed(s: RunState, p: ev.PlanChanged, at: float) -> None:
    # The new definition (add, edit, reassign); statuses arrive as their own events.
    if p.subtask is not None:
        task = s.subtasks.get(p.subtask_id)
        if task is None:
            s.subtasks[p.subtask_id] = p.subtask.model_copy()
        else:
            for name in ("agent", "description", "depends_on", "acceptance_criteria", "estimated_tokens"):
                setattr(task, name, getattr(p.subtask, name))
    s.changes.append(p)
    plan = Plan(subtasks=[t.model_copy() for t in s.subtasks.values()])
    s.plans.append(PlanVersion(p.version, plan, status=PlanStatus.APPROVED, author=p.by))


def _on_subtask_status(s: RunState, p: ev.SubtaskStatusChanged, at: float) -> None:
    sid = p.subtask_id
    task = s.subtasks.get(sid)
    if task is None:
        task = Subtask(id=sid, agent=p.agent, description=sid)
        s.subtasks[sid] = task
    task.status = p.status
    if p.output is not None:
        task.output = p.output
    if p.error is not None:
        task.error = p.error
    s.notes[sid] = p.error or p.reason or ""
    if task.status is SubtaskStatus.RUNNING and task.started_at is None:
        task.started_at = at
    if task.status in (SubtaskStatus.DONE, SubtaskStatus.FAILED, SubtaskStatus.BLOCKED,
                       SubtaskStatus.SKIPPED, SubtaskStatus.CANCELLED):
        task.finished_at = at
    if task.status is not SubtaskStatus.NEEDS_HELP:
        s.help_requests.pop(sid, None)


def _on_message(s: RunState, p: ev.MessageAdded, at: float) -> None:
    # Per-subtask token counts feed the graph's detail panel, the board's bars and `podium run`.
    task = s.subtasks.get(p.subtask_id or "")
    if task is None:
        return
    task.usage = task.usage.add(Usage(prompt_tokens=p.prompt_tokens, completion_tokens=p.completion_tokens,
                                      cost_usd=p.cost_usd))


def _on_help(s: RunState, p: ev.HelpRequested, at: float) -> None:
    s.help_requests[p.subtask_id] = p.question


def _on_intervention(s: RunState, p: ev.InterventionRecorded, at: float) -> None:
    if p.kind == "answer" and p.subtask_id:
        s.help_requests.pop(p.subtask_id, None)


def _on_tool_approval(s: RunState, p: ev.ToolApprovalRequested, at: float) -> None:
    s.tool_approvals[p.id] = p


def _on_tool_decided(s: RunState, p: ev.ToolApprovalDecided, at: float) -> None:
    s.tool_approvals.pop(p.id, None)


def _on_verdict(s: RunState, p: ev.ReviewVerdict, at: float) -> None:
    s.review = p


def _on_memory_stored(s: RunState, p: ev.MemoryStored, at: float) -> None:
    if p.kind == "lesson":
        s.lessons.append((p.agent, p.text))


def _on_lessons_skipped(s: RunState, p: ev.MemoryLessonsSkipped, at: float) -> None:
    s.lessons_skipped = p.reason


def _on_proposal(s: RunState, p: ev.ProposalMade, at: float) -> None:
    if p.status == "pending":  # accepted at once: its plan.changed events say what it did
        s.proposals[p.number] = p


def _on_proposal_decided(s: RunState, p: ev.ProposalDecided, at: float) -> None:
    s.proposals.pop(p.number, None)


def _on_source(s: RunState, p: ev.SourceRecorded, at: float) -> None:
    s.sources.setdefault(p.subtask_id or "", {})[p.id] = p


def _on_claims(s: RunState, p: ev.ClaimsChecked, at: float) -> None:
    s.claims.setdefault(p.subtask_id or "", []).extend(p.checks)


# Keyed by payload model: an UnparsedPayload (or a type with nothing to fold) has no handler.
_HANDLERS: dict[type[EventPayload], Callable[[RunState, Any, float], None]] = {
    ev.RunCreated: _on_created,
    ev.RunStatusChanged: _on_status,
    ev.RunUsageRecorded: _on_usage,
    ev.RunResult: _on_result,
    ev.DiscussionContribution: _on_contribution,
    ev.PlanProposed: _on_plan_proposed,
    ev.PlanApproved: _on_plan_approved,
    ev.PlanRejected: _on_plan_rejected,
    ev.PlanChanged: _on_plan_changed,
    ev.SubtaskStatusChanged: _on_subtask_status,
    ev.MessageAdded: _on_message,
    ev.HelpRequested: _on_help,
    ev.InterventionRecorded: _on_intervention,
    ev.ReviewVerdict: _on_verdict,
    ev.ToolApprovalRequested: _on_tool_approval,
    ev.ToolApprovalDecided: _on_tool_decided,
    ev.MemoryStored: _on_memory_stored,
    ev.MemoryLessonsSkipped: _on_lessons_skipped,
    ev.ProposalMade: _on_proposal,
    ev.ProposalDecided: _on_proposal_decided,
    ev.SourceRecorded: _on_source,
    ev.ClaimsChecked: _on_claims,
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
