"""Domain models shared by every layer. Pydantic v2; no I/O here."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)


def now() -> float:
    return time.time()


def new_id(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:8]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ----------------------------------------------------------------- agents/teams


class Agent(Model):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_-]*$")
    role: str = Field(min_length=1)
    persona: str = ""
    model: str | None = None
    tools: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)

    def system_prompt(self) -> str:
        skills = f" Skills: {', '.join(self.skills)}." if self.skills else ""
        return f"You are the {self.name}, {self.role}. {self.persona}{skills}".strip()


class Team(Model):
    name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_-]*$")
    description: str = ""
    leader: str
    agents: list[Agent] = Field(min_length=1)
    model: str | None = None

    @field_validator("agents")
    @classmethod
    def _unique_names(cls, agents: list[Agent]) -> list[Agent]:
        names = [a.name for a in agents]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate agent names: {', '.join(dupes)}")
        return agents

    def model_post_init(self, __context: Any) -> None:
        if self.leader not in self.agent_names:
            raise ValueError(f"leader {self.leader!r} is not one of the team's agents")

    @property
    def agent_names(self) -> list[str]:
        return [a.name for a in self.agents]

    @property
    def specialists(self) -> list[Agent]:
        return [a for a in self.agents if a.name != self.leader]

    def agent(self, name: str) -> Agent:
        for a in self.agents:
            if a.name == name:
                return a
        raise KeyError(name)


# ------------------------------------------------------------------ settings


class Budget(Model):
    tokens: int | None = Field(default=None, ge=1)
    usd: float | None = Field(default=None, ge=0)
    steps: int | None = Field(default=None, ge=1)
    wall_seconds: float | None = Field(default=None, gt=0)


class Usage(Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            calls=self.calls + other.calls,
        )


class ProjectSettings(Model):
    """Per-project defaults stored in the project file (never secrets)."""

    name: str = "project"
    default_team: str = "research"
    default_model: str | None = None
    concurrency: int = Field(default=4, ge=1, le=64)
    window_messages: int = Field(default=20, ge=0)
    budget: Budget = Field(default_factory=Budget)


ReviewMode = Literal["off", "auto", "human"]


ProposalPolicy = Literal["leader", "human", "auto"]
FailurePolicy = Literal["ask", "replan"]


class RunSettings(Model):
    """How a run was started (and last resumed): what `podium resume` and the app reuse.

    Model strings, an endpoint, numbers and tool names only: never a key or any other secret
    (an endpoint with credentials in it is not kept, see `api_base_withheld`).
    """

    model: str | None = None  # the one model every agent uses (--model / $PODIUM_MODEL), canonical
    default_model: str = "local"  # agents with no model of their own (podium.toml, else local)
    agents: dict[str, str] = Field(default_factory=dict)  # the model each agent uses, as resolved
    api_base: str | None = None
    api_base_withheld: bool = False  # the endpoint carried credentials, so it was not recorded
    concurrency: int = Field(default=4, ge=1, le=64)
    max_tokens: int | None = Field(default=None, ge=16)
    review: ReviewMode = "auto"
    # review="auto": how many times a failing verdict sends the work back before the run ends partial.
    review_rounds: int = Field(default=2, ge=0, le=10)
    approve_plans: bool = False  # --yes: plans are approved without asking
    allow_tools: list[str] = Field(default_factory=list)  # --allow-tools: approved up front
    # The living plan: who decides an agent's `propose_subtask` (the leader, a person, or accepted
    # at once), and how many an agent may make per run.
    proposals: ProposalPolicy = "leader"
    max_proposals: int = Field(default=5, ge=0, le=100)
    # A failed subtask (or a run where nothing can run): waits for a person ("ask"), or the
    # leader replans the unfinished part ("replan"), at most `max_replans` times, then "ask".
    on_failure: FailurePolicy = "ask"
    max_replans: int = Field(default=2, ge=0, le=20)

    @field_validator("api_base")
    @classmethod
    def _no_credentials(cls, url: str | None) -> str | None:
        if url is not None and url_has_secret(url):
            raise ValueError("an endpoint with credentials in it is never recorded")
        return url

    def model_for(self, agent: str) -> str | None:
        return self.model or self.agents.get(agent)

    def override(self, **flags: Any) -> tuple[RunSettings, list[str]]:
        """These settings with the given values (None: not given) in place; and which changed."""
        given = {k: v for k, v in flags.items() if v is not None}
        unknown = sorted(set(given) - set(type(self).model_fields))
        if unknown:
            raise ValueError(f"not a run setting: {', '.join(unknown)}")
        changed = [k for k, v in given.items() if getattr(self, k) != v]
        return self.model_copy(update=given) if changed else self, changed


_SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "auth", "sig")


def url_has_secret(url: str) -> bool:
    """Whether an endpoint URL carries credentials: a user:password, or a key-like query parameter."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if "@" in parts.netloc:  # user:password@ (or a token as the user name)
        return True
    names = [pair.split("=", 1)[0].lower() for pair in parts.query.split("&") if pair]
    return any(word in name for name in names for word in _SECRET_WORDS)


# ----------------------------------------------------------------- execution


class ExecutionStatus(StrEnum):
    PLANNING = "planning"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    PAUSED = "paused"
    HALTED = "halted"
    SYNTHESISING = "synthesising"
    REVIEW = "review"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in {ExecutionStatus.COMPLETED, ExecutionStatus.PARTIAL, ExecutionStatus.FAILED}


class Execution(Model):
    id: str = Field(default_factory=lambda: new_id())
    objective: str = Field(min_length=1)
    team: str
    model: str | None = None
    status: ExecutionStatus = ExecutionStatus.PLANNING
    budget: Budget = Field(default_factory=Budget)
    usage: Usage = Field(default_factory=Usage)
    steps: int = 0
    active_seconds: float = 0.0  # time spent planning/executing, across sessions (wall-time budget)
    result: str | None = None
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)
    finished_at: float | None = None
    settings: RunSettings | None = None  # None: started by a Podium that did not record them

    def model_for(self, agent: Agent, team: Team) -> str | None:
        """The run's own model (a flag or env) wins, then the agent's as recorded when the run
        started, then the agent's and the team's; None: the gateway's default."""
        if self.model:
            return self.model
        recorded = self.settings.model_for(agent.name) if self.settings else None
        return recorded or agent.model or team.model


class SubtaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING_PEER = "waiting_peer"
    NEEDS_HELP = "needs_help"
    REVIEW = "review"
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"
    SKIPPED = "skipped"  # a person chose not to do it; its dependents went on without it (or were blocked)
    CANCELLED = "cancelled"  # stopped (even mid-run) by a person; no dependency may be added on it


class Subtask(Model):
    id: str = Field(min_length=1, max_length=24)
    agent: str
    description: str = Field(min_length=1)
    depends_on: list[str] = Field(default_factory=list)
    acceptance_criteria: list[str] = Field(default_factory=list)
    estimated_tokens: int = Field(default=1000, ge=0)
    tools: list[str] = Field(default_factory=list)
    status: SubtaskStatus = SubtaskStatus.PENDING
    output: str | None = None
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)
    started_at: float | None = None
    finished_at: float | None = None


class Plan(Model):
    subtasks: list[Subtask]
    rationale: str = ""
    # What was mended deterministically in the leader's reply before it validated (one sentence each).
    mends: list[str] = Field(default_factory=list)


def with_dependents(named: Iterable[str], order: list[str], graph: dict[str, list[str]]) -> list[str]:
    """The named nodes and everything downstream of them (graph: node -> dependencies), in `order`.
    Pure, so the store (what a fork runs again) and the orchestrator (what a review reopens) share it."""
    out = set(named)
    changed = True
    while changed:
        changed = False
        for node in order:
            if node not in out and out.intersection(graph.get(node, [])):
                out.add(node)
                changed = True
    return [n for n in order if n in out]


class PlanAction(StrEnum):
    """What a change to a run's live graph does (`podium task ...`, the TUI, the leader, an agent)."""

    ADD = "add"
    EDIT = "edit"
    RETRY = "retry"
    SKIP = "skip"
    CANCEL = "cancel"
    OUTPUT = "output"  # replace a finished subtask's output; what depends on it runs again
    ACCEPT = "accept"  # accept a pending proposal (`proposal`): the changes it asks for are made


class PlanChange(Model):
    """One change to a run's live graph, as asked (validated against the graph when applied).

    add: description, agent, after, criteria (subtask_id: None picks the next free id);
    edit: any of description, agent, after, criteria; retry: note, agent;
    skip/cancel: dependents (proceed: they run without it, told so; block: they are blocked);
    output: output (the replacement text).
    """

    action: PlanAction
    subtask_id: str | None = Field(default=None, max_length=24)
    description: str | None = Field(default=None, max_length=4000)
    agent: str | None = None
    after: list[str] | None = None
    criteria: list[str] | None = None
    note: str | None = Field(default=None, max_length=4000)
    dependents: Literal["proceed", "block"] | None = None
    output: str | None = None
    proposal: int | None = Field(default=None, ge=1)  # accept: the proposal's number


class ProposalKind(StrEnum):
    SUBTASK = "subtask"  # an agent's `propose_subtask`
    REPLAN = "replan"  # the leader's new plan for the unfinished part


class ProposalStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Proposal(Model):
    """A proposed change to a running plan and what became of it (the proposals table)."""

    number: int
    kind: ProposalKind
    proposed_by: str  # an agent's name, or the leader's
    from_subtask: str | None = None
    changes: list[PlanChange] = Field(default_factory=list)
    reason: str = ""
    status: ProposalStatus = ProposalStatus.PENDING
    decided_by: str | None = None
    decision: str | None = None  # why it was accepted or declined
    version: int | None = None  # the plan version its acceptance made
    created_at: float = 0.0


class PlanStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # a person edited it before approval: the next version replaces it


# ------------------------------------------------------------------ messages


class Phase(StrEnum):
    DISCUSSION = "discussion"
    PLANNING = "planning"
    EXECUTION = "execution"
    CONSULTATION = "consultation"
    SYNTHESIS = "synthesis"
    REVIEW = "review"
    PROPOSAL = "proposal"  # the leader decides an agent's proposed subtask
    REPLAN = "replan"  # the leader replans the unfinished part of a running plan


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    HUMAN = "human"


class Message(Model):
    id: int | None = None
    execution_id: str
    subtask_id: str | None = None
    agent: str
    role: Role
    content: str
    phase: Phase
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    created_at: float = Field(default_factory=now)


class EventPayload(BaseModel):
    """What an event says: the base of the one model per event type in `podium.events`.

    Each subclass declares `type: Literal["..."] = "..."` and is registered under it, so a
    stored payload is parsed by the model of its type. Lenient when read (fields a newer
    writer added are kept as extras); `podium.events.validate_payload` is the strict check
    every write goes through. Frozen: an event, once said, does not change.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    models: ClassVar[dict[str, type[EventPayload]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields.get("type")
        if field is not None and isinstance(field.default, str):
            EventPayload.models[field.default] = cls

    def as_dict(self) -> dict[str, Any]:
        """The payload as JSON-ready values, as it was given (defaults it did not set left out)."""
        return self.model_dump(mode="json", exclude_unset=True, exclude={"type"})


class UnparsedPayload(EventPayload):
    """A payload of a type this build does not know, or one its model refuses (a newer or
    buggy writer): kept whole, so it can be shown and copied, and skipped by the fold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    raw: dict[str, Any] = Field(default_factory=dict)
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.raw)


def read_payload(type: str, raw: Any) -> EventPayload:
    """A stored payload parsed by its type's model; never raises (see UnparsedPayload).

    The models register when `podium.events` is imported (the store imports it).
    """
    if not isinstance(raw, dict):
        return UnparsedPayload(type=type, raw={"value": raw}, problem="not a JSON object")
    model = EventPayload.models.get(type)
    if model is None:
        return UnparsedPayload(type=type, raw=raw, problem="unknown event type")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        return UnparsedPayload(type=type, raw=raw, problem=str(exc))


class Event(Model):
    """One entry of the event log; `payload` is its type's model (see `podium.events`).

    Built from a plain dict payload (a stored row, a test), the payload is parsed with
    `read_payload`, once.
    """

    seq: int | None = None
    execution_id: str | None = None
    type: str = Field(min_length=1)
    payload: SerializeAsAny[EventPayload]
    created_at: float = Field(default_factory=now)

    @model_validator(mode="before")
    @classmethod
    def _typed_payload(cls, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data.get("payload"), EventPayload):
            raw = data.get("payload")
            data = {**data, "payload": read_payload(str(data.get("type")), {} if raw is None else raw)}
        return data


class Consultation(Model):
    id: int | None = None
    execution_id: str
    subtask_id: str | None
    asker: str
    peer: str
    question: str
    answer: str | None = None
    error: str | None = None
    depth: int = 1
    usage: Usage = Field(default_factory=Usage)
    started_at: float = Field(default_factory=now)
    finished_at: float | None = None


class InterventionKind(StrEnum):
    GUIDANCE = "guidance"
    PAUSE = "pause"
    RESUME = "resume"
    HALT = "halt"
    ANSWER = "answer"
    ACCEPT = "accept"
    REWORK = "rework"
    PLAN_CHANGE = "plan_change"  # text: a PlanChange as JSON, for the process driving the run
    APPROVE = "approve"
    REJECT = "reject"


class Intervention(Model):
    id: int | None = None
    execution_id: str
    kind: InterventionKind
    subtask_id: str | None = None
    text: str = ""
    source: str = "cli"
    created_at: float = Field(default_factory=now)
    consumed_at: float | None = None


class MemoryKind(StrEnum):
    FACT = "fact"
    LESSON = "lesson"
    OUTPUT = "output"
    RESULT = "result"


class MemoryItem(Model):
    id: int | None = None
    kind: MemoryKind
    text: str = Field(min_length=1)
    agent: str | None = None  # None: project-wide
    source_execution: str | None = None
    source_subtask: str | None = None
    created_at: float = Field(default_factory=now)


class Recalled(Model):
    """A memory found for a query: what recall puts into an agent's context."""

    id: int
    text: str
    kind: MemoryKind
    agent: str | None = None  # None: project-wide
    score: float = Field(ge=0.0, le=1.0)  # fused rank score: 1.0 = first by meaning and by words
    similarity: float | None = None  # cosine similarity in the embedding space, if embedded
    keyword_rank: int | None = None  # 1-based rank in the full-text (BM25) list, if it matched
    source_execution: str | None = None
    source_subtask: str | None = None
    created_at: float = Field(default_factory=now)


class BoardColumn(StrEnum):
    TODO = "To do"
    IN_PROGRESS = "In progress"
    NEEDS_HELP = "Needs help"
    REVIEW = "Review"
    DONE = "Done"
    FAILED = "Failed"


_COLUMN_BY_STATUS = {
    SubtaskStatus.PENDING: BoardColumn.TODO,
    SubtaskStatus.RUNNING: BoardColumn.IN_PROGRESS,
    SubtaskStatus.WAITING_PEER: BoardColumn.IN_PROGRESS,
    SubtaskStatus.NEEDS_HELP: BoardColumn.NEEDS_HELP,
    SubtaskStatus.REVIEW: BoardColumn.REVIEW,
    SubtaskStatus.DONE: BoardColumn.DONE,
    # A failure waits for a person (retry, reassign, skip, edit): it needs help, it is not the end.
    SubtaskStatus.FAILED: BoardColumn.NEEDS_HELP,
    SubtaskStatus.BLOCKED: BoardColumn.FAILED,
    SubtaskStatus.SKIPPED: BoardColumn.DONE,  # settled, nothing to do
    SubtaskStatus.CANCELLED: BoardColumn.FAILED,
}


class KanbanCard(Model):
    """A subtask as the board shows it; derived from the subtask, never stored apart."""

    subtask_id: str
    agent: str
    title: str
    status: SubtaskStatus
    column: BoardColumn
    progress: float = Field(default=0.0, ge=0.0, le=1.0)

    @classmethod
    def from_subtask(cls, subtask: Subtask, progress: float = 0.0) -> KanbanCard:
        return cls(
            subtask_id=subtask.id,
            agent=subtask.agent,
            title=subtask.description.split("\n", 1)[0][:60],
            status=subtask.status,
            column=_COLUMN_BY_STATUS[subtask.status],
            progress=1.0 if subtask.status is SubtaskStatus.DONE else progress,
        )


# ------------------------------------------------------------------ read models (the typed queries)


def card_progress(subtask: Subtask) -> float:
    """How far a subtask is, for its card: done is 1, else tokens used against its estimate."""
    if subtask.status is SubtaskStatus.DONE:
        return 1.0
    if not subtask.estimated_tokens:
        return 0.0
    return min(0.95, subtask.usage.tokens / subtask.estimated_tokens)


class RunSummary(Model):
    """One run as a list shows it (the terminal app's home table, `podium runs`): no result, team
    or settings. `status` is kept as stored, so a status a newer Podium wrote still lists."""

    id: str
    status: str
    objective: str
    team: str
    model: str | None = None
    usage: Usage = Field(default_factory=Usage)
    steps: int = 0
    active_seconds: float = 0.0
    created_at: float
    updated_at: float
    finished_at: float | None = None

    @property
    def known_status(self) -> ExecutionStatus | None:
        """The status, or None for one this build does not know."""
        try:
            return ExecutionStatus(self.status)
        except ValueError:
            return None

    @property
    def duration_s(self) -> float:
        return (self.finished_at or self.updated_at) - self.created_at


class RunHeadline(RunSummary):
    """What a run's screen shows before it has folded the run's events: the summary and the result."""

    result: str | None = None


class PlanVersion(Model):
    """One version of a run's plan, as proposed, approved or rejected."""

    version: int
    plan: Plan
    status: PlanStatus
    feedback: str | None = None
    fallback: bool = False
    created_at: float
    author: str = "leader"  # or the person who edited the proposed plan ("user")


class RunDetail(Model):
    """A run in full (`podium show`): the run, its team, every message, plan version, subtask,
    consultation, intervention and review round, how its settings changed, and its event count."""

    execution: Execution
    team: Team
    messages: list[Message]
    plans: list[PlanVersion]
    subtasks: list[Subtask]
    consultations: list[Consultation]
    interventions: list[Intervention]
    reviews: list[dict[str, Any]]
    settings_history: list[dict[str, Any]]
    events: int


class RunBoard(Model):
    """A run's subtasks as cards, by board column (every column present, in board order)."""

    run_id: str
    columns: dict[BoardColumn, list[KanbanCard]]

    @classmethod
    def of(cls, run_id: str, subtasks: list[Subtask]) -> RunBoard:
        columns: dict[BoardColumn, list[KanbanCard]] = {column: [] for column in BoardColumn}
        for subtask in subtasks:
            card = KanbanCard.from_subtask(subtask, card_progress(subtask))
            columns[card.column].append(card)
        return cls(run_id=run_id, columns=columns)


class RunUsage(Model):
    """What a run has used: tokens, cost and calls in total and per subtask, steps, active time."""

    run_id: str
    total: Usage
    steps: int
    active_seconds: float
    by_subtask: dict[str, Usage] = Field(default_factory=dict)


# ------------------------------------------------------------------ the project board


class CardColumn(StrEnum):
    """Where a project card is. The words people see are the run board's, plus Backlog."""

    BACKLOG = "backlog"
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    NEEDS_HELP = "needs_help"
    REVIEW = "review"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return "Backlog" if self is CardColumn.BACKLOG else BoardColumn[self.name].value

    @classmethod
    def parse(cls, text: str) -> CardColumn:
        """`To do`, `todo`, `to-do`, `In progress`, `needs_help` ... all name a column."""
        key = "".join(ch for ch in text.lower() if ch.isalnum())
        for column in cls:
            if key == column.value.replace("_", ""):
                return column
        names = ", ".join(c.label for c in cls)
        raise ValueError(f"no column {text!r}: choose one of {names}")


class CardPriority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 is taken first."""
        return list(CardPriority).index(self)

    @classmethod
    def of_rank(cls, rank: int) -> CardPriority:
        return list(cls)[max(0, min(rank, len(cls) - 1))]


def card_ref(card_id: int) -> str:
    return f"c{card_id}"


def parse_card_ref(text: str) -> int:
    """`c12`, `C12`, `#12` or `12` name card 12."""
    digits = text.strip().lstrip("#").lower().removeprefix("c")
    if not digits.isdigit():
        raise ValueError(f"{text!r} is not a card id (like c12)")
    return int(digits)


class Card(Model):
    """A piece of the project's own work: lives in the project file, not in a run."""

    id: int
    title: str = Field(min_length=1)
    details: str = ""
    criteria: list[str] = Field(default_factory=list)
    priority: CardPriority = CardPriority.NORMAL
    team: str | None = None
    column: CardColumn = CardColumn.TODO
    depends_on: list[int] = Field(default_factory=list)
    created_by: str = "user"
    source_execution: str | None = None  # the run an agent proposed it from
    source_agent: str | None = None
    reason: str | None = None
    claimed_by: str | None = None  # the `podium work` process (host:pid) working it
    result: str | None = None
    archived: bool = False
    runs: list[str] = Field(default_factory=list)
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)

    @property
    def ref(self) -> str:
        return card_ref(self.id)

    def objective(self) -> str:
        """What the run that works this card is asked to achieve."""
        parts = [self.title]
        if self.details:
            parts.append(self.details)
        if self.criteria:
            parts.append("Acceptance criteria:\n" + "\n".join(f"- {c}" for c in self.criteria))
        return "\n\n".join(parts)

    def summary(self) -> dict[str, Any]:
        """The card as `podium board --json` prints it."""
        return {
            "id": self.ref, "column": self.column.value, "column_label": self.column.label,
            "title": self.title, "details": self.details, "criteria": self.criteria,
            "priority": self.priority.value, "team": self.team,
            "depends_on": [card_ref(d) for d in self.depends_on], "created_by": self.created_by,
            "source_execution": self.source_execution, "source_agent": self.source_agent,
            "reason": self.reason, "runs": self.runs, "result": self.result, "archived": self.archived,
        }


# ----------------------------------------------------------------- project file, tools
# Read models the store produces and the front ends show (through the application layer).


class ProjectInfo(BaseModel):
    """What a project file or archive holds (`podium info`, `podium export`)."""

    path: str
    size_bytes: int
    schema_version: int
    application_id: str
    sqlite_version: str
    sqlite_vec_version: str
    journal_mode: str
    integrity: str
    runs: int
    runs_by_status: dict[str, int]
    agents: int
    memories: int
    messages: int
    events: int


class WorkspaceFile(BaseModel):
    """A run's file as stored: the last version a tool wrote."""

    path: str
    sha256: str
    size: int
    is_text: bool
    content: bytes | None
    subtask_id: str | None
    agent: str | None
    tool: str
    updated_at: float


class ApprovalRecord(BaseModel):
    """A tool call that asked a person, and (once decided) who decided what."""

    id: int
    execution_id: str | None
    subtask_id: str | None
    agent: str
    tool: str
    arguments: dict[str, Any]
    status: str  # pending | approved | denied
    decided_by: str | None = None
    reason: str | None = None
    created_at: float
    decided_at: float | None = None


class RunWorkspace(BaseModel):
    """A run started on the user's own folder (`--workspace PATH`): where its agents work instead
    of an empty folder, and what is needed to show and apply their changes."""

    execution_id: str
    kind: Literal["git", "dir"]  # a git worktree on a branch of its own, or a copy of a plain folder
    source: str  # the user's folder, absolute
    path: str  # the agents' workspace: the worktree or the copy
    base_commit: str  # git: the user's HEAD when the run started; dir: the copy's baseline commit
    branch: str | None = None  # git: the run's branch (podium/run-ID)
    # git: the worktree's git folder in the user's repository; dir: Podium's own repository
    # holding the copy's baseline. Always named to git, never read from the workspace.
    git_dir: str | None = None
    head_commit: str | None = None  # the last commit of the agents' changes
    diff: str | None = None  # the diff last shown, so an archive still carries it
    files: list[str] = Field(default_factory=list)  # "M path" lines of that diff
    manifest: dict[str, str] = Field(default_factory=dict)  # dir: sha256 per file when copied
    applied_at: float | None = None
    applied_to: str | None = None  # the branch merged into, or the folder written
    created_at: float = Field(default_factory=now)
