"""Event types: the vocabulary the orchestrator writes and the TUI/CLI read.

Every committed state change has one event row; `STREAM_DELTA` alone is
transient (published on the bus, never stored) because per-token rows
would bloat the file; the full text lands in a `MESSAGE_ADDED` event.

Each type has one payload model here (a `domain.EventPayload` subclass whose
`type` field is its discriminator); `AnyPayload` is their discriminated union.
Writers keep calling `tx.emit(RUN_STATUS, run_id, status=...)`: the store checks
the keyword arguments with `validate_payload` before the row is written, so a
wrong payload is a programming error raised at once, never a row. Readers get
`Event.payload` already parsed (`domain.read_payload`): lenient, so rows written
by an older Podium (fewer fields) or a newer one (more fields) still parse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from podium.domain import (
    Budget,
    EventPayload,
    ExecutionStatus,
    InterventionKind,
    MemoryKind,
    Phase,
    Plan,
    Role,
    RunSettings,
    Subtask,
    SubtaskStatus,
    read_payload,
)
from podium.domain import UnparsedPayload as UnparsedPayload  # re-exported: ev.UnparsedPayload

RUN_CREATED = "run.created"  # objective, team, model, budget
# How the run was started, or goes on after `podium resume` flags: source (run|resume),
# changed (the settings a resume overrode), and every RunSettings field. Never a secret.
RUN_SETTINGS = "run.settings"
RUN_STATUS = "run.status"  # status, reason?
RUN_USAGE = "run.usage"  # prompt_tokens, completion_tokens, cost_usd, calls, steps
RUN_RESULT = "run.result"  # result
# The run is a fork of another (`podium fork`): parent, from, edited, reused, rerun, changes
RUN_FORKED = "run.forked"
FORK_FILES_RESTORED = "fork.files_restored"

DISCUSSION_CONTRIBUTION = "discussion.contribution"  # agent, message_id, content
PLAN_PROPOSED = "plan.proposed"  # version, plan, fallback, errors?, author?, supersedes?
PLAN_APPROVED = "plan.approved"  # version, by
PLAN_REJECTED = "plan.rejected"  # version, feedback
# A change to an approved plan's live graph: action, subtask_id, by, version (the plan version it made)
PLAN_CHANGED = "plan.changed"

SUBTASK_STATUS = "subtask.status"  # subtask_id, agent, status, output?, error?
MESSAGE_ADDED = "message.added"  # message_id, agent, subtask_id, role, phase, content, tokens
STREAM_DELTA = "stream.delta"  # agent, subtask_id, phase, text   (transient)

CONSULTATION_STARTED = "consultation.started"  # id, subtask_id, asker, peer, question, depth
CONSULTATION_FINISHED = "consultation.finished"  # id, subtask_id, asker, peer, answer?, error?
INTERVENTION = "intervention"  # id, kind, subtask_id?, text, source
# A running process took up a row another process wrote: id, kind, subtask_id, by (owner), latency_ms
INTERVENTION_APPLIED = "intervention.applied"
HELP_REQUESTED = "help.requested"  # subtask_id, agent, question
MEMORY_RECALLED = "memory.recalled"  # subtask_id, agent, items: [{id, text, kind, score}]
MEMORY_STORED = "memory.stored"  # id, kind, agent, source_execution, embedded, text (first 200 chars)
MEMORY_FORGOTTEN = "memory.forgotten"  # id, kind, agent
MEMORY_REEMBEDDED = "memory.reembedded"  # embedder, dim, space, embedded, dropped_spaces
# The leader's end-of-run lessons could not be had: reason, fallback (lessons stored without it)
MEMORY_LESSONS_SKIPPED = "memory.lessons_skipped"
TOOL_CALLED = "tool.called"  # subtask_id, agent, tool, arguments, result?, error?, files?, ms
TOOL_APPROVAL_REQUESTED = "tool.approval_requested"  # id, subtask_id, agent, tool, arguments
# generate_image made a PNG in the workspace: subtask_id, agent, path, prompt, model, size, bytes, sha256
IMAGE_GENERATED = "image.generated"
TOOL_APPROVAL_DECIDED = "tool.approval_decided"  # id, subtask_id, agent, tool, approved, by, reason?
MCP_SERVER_CHANGED = "mcp.server"  # name, action (added|removed), transport
# round, message_id, verdicts: [{subtask_id, ok, reasons}], ok, overall (one line), reasons
REVIEW_VERDICT = "review.verdict"
REVIEW_DECIDED = "review.decided"  # round, decision (accept|rework), feedback?, subtasks, reopened, by
# A subtask read a source (a search hit or a fetched page): id (S3), kind, url, title, sha256, chars
SOURCE_RECORDED = "source.recorded"
# A fact-checker's check_claims call: subtask_id, agent, checks: [{source, claim, verdict, evidence}]
CLAIMS_CHECKED = "claims.checked"


class InvalidEventError(ValueError):
    """A payload that does not match its type's model, or a type with no model: a bug in
    the writer, raised before anything is written."""


class _Item(BaseModel):
    """A nested record inside a payload (lenient like the payloads themselves)."""

    model_config = ConfigDict(extra="allow", frozen=True)


# ------------------------------------------------------------------ the run


class RunCreated(EventPayload):
    type: Literal["run.created"] = "run.created"
    objective: str
    team: str
    model: str | None = None
    budget: Budget = Field(default_factory=Budget)
    agents: list[str] = Field(default_factory=list)  # older files: absent
    leader: str | None = None


class RunSettingsRecorded(EventPayload):
    """Every `RunSettings` field (kept in step by a test), plus where they came from."""

    type: Literal["run.settings"] = "run.settings"
    source: str = "run"  # run | resume
    changed: list[str] = Field(default_factory=list)
    model: str | None = None
    default_model: str = "local"
    agents: dict[str, str] = Field(default_factory=dict)
    api_base: str | None = None
    api_base_withheld: bool = False
    concurrency: int = 4
    max_tokens: int | None = None
    review: str = "auto"
    review_rounds: int = 2
    approve_plans: bool = False
    proposals: str = "leader"
    max_proposals: int = 5
    on_failure: str = "ask"
    max_replans: int = 2
    allow_tools: list[str] = Field(default_factory=list)

    @property
    def settings(self) -> RunSettings:
        return RunSettings.model_validate(self.model_dump(include=set(RunSettings.model_fields)))


class RunStatusChanged(EventPayload):
    type: Literal["run.status"] = "run.status"
    status: ExecutionStatus
    reason: str | None = None
    budget: Budget | None = None  # the budget was changed (with reason "budget changed")


class RunUsageRecorded(EventPayload):
    type: Literal["run.usage"] = "run.usage"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    steps: int = 0
    active_seconds: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RunResult(EventPayload):
    type: Literal["run.result"] = "run.result"
    result: str | None = None


class RunForked(EventPayload):
    """The run was made from another one's finished work: which run, the subtasks asked to run
    again (`from_subtasks`), those whose output a person replaced (`edited`), those copied
    (`reused`, edited ones included), those that run again (`rerun`), and what the fork changed
    (`changes`: objective, model, team)."""

    type: Literal["run.forked"] = "run.forked"
    parent: str
    from_subtasks: list[str] = Field(default_factory=list)
    edited: list[str] = Field(default_factory=list)
    reused: list[str] = Field(default_factory=list)
    rerun: list[str] = Field(default_factory=list)
    changes: list[str] = Field(default_factory=list)


class ForkFilesRestored(EventPayload):
    """A fork's plan was approved and, before anything ran, the files its reused subtasks wrote
    were written into the fork's workspace folder (`files`), so what runs again can read them;
    `skipped` says what could not be (too large to be stored, an unsafe path). `commit`: on a
    fork of a run on the user's folder, the commit holding them on the fork's branch."""

    type: Literal["fork.files_restored"] = "fork.files_restored"
    subtasks: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    commit: str | None = None


# ------------------------------------------------------------------ discussion and plans


class DiscussionContribution(EventPayload):
    type: Literal["discussion.contribution"] = "discussion.contribution"
    agent: str
    content: str = ""
    message_id: int | None = None


class PlanProposed(EventPayload):
    type: Literal["plan.proposed"] = "plan.proposed"
    version: int
    plan: Plan
    fallback: bool = False
    errors: list[str] | None = None
    # Who wrote this version: the leader, or a person who edited the proposed plan before approval;
    # an edit `supersedes` the version it was made from (that one is no longer up for approval).
    author: str = "leader"
    supersedes: int | None = None


class PlanApproved(EventPayload):
    type: Literal["plan.approved"] = "plan.approved"
    version: int | None = None
    by: str | None = None


class PlanRejected(EventPayload):
    type: Literal["plan.rejected"] = "plan.rejected"
    version: int | None = None
    feedback: str | None = None


class PlanChanged(EventPayload):
    """One change to the live graph of an approved plan (see domain.PlanChange): what it did, to
    which subtask, who made it (a person, the leader or an agent's name), and the plan version it
    produced. `subtask` is the subtask's definition as it now stands (add, edit, a reassigning
    retry). Status changes it caused are their own subtask.status events in the same transaction."""

    type: Literal["plan.changed"] = "plan.changed"
    action: str  # a domain.PlanAction value
    subtask_id: str
    by: str
    version: int
    source: str = "cli"  # cli | tui | leader | agent
    subtask: Subtask | None = None
    dependents: str | None = None  # skip/cancel: proceed | block
    note: str | None = None  # for the agent (retry), or what changed (output)
    reset: list[str] = Field(default_factory=list)  # sent back to pending to run (again)
    blocked: list[str] = Field(default_factory=list)  # dependents blocked by a skip/cancel
    # Made by accepting a proposal (an agent's new subtask, the leader's replan): its number and
    # who accepted it (the leader, a person, "auto" by the run's policy); `by` is its author.
    proposal: int | None = None
    accepted_by: str | None = None


PROPOSAL_MADE = "proposal.made"
PROPOSAL_DECIDED = "proposal.decided"


class ProposalMade(EventPayload):
    """An agent proposed a subtask, or the leader a replan of the unfinished part."""

    type: Literal["proposal.made"] = "proposal.made"
    number: int
    kind: str  # a domain.ProposalKind value
    by: str
    subtask_id: str | None = None  # the subtask the agent was working on
    summary: str  # one line: what it asks for
    reason: str = ""
    status: str = "pending"  # accepted at once (policy auto, an approved replan) or pending


class ProposalDecided(EventPayload):
    type: Literal["proposal.decided"] = "proposal.decided"
    number: int
    kind: str
    decision: str  # accepted | declined
    by: str  # the leader, a person ("user"), or "auto" (the run's policy)
    reason: str = ""
    version: int | None = None  # accepted: the plan version it made


# ------------------------------------------------------------------ subtasks and messages


class SubtaskStatusChanged(EventPayload):
    type: Literal["subtask.status"] = "subtask.status"
    subtask_id: str
    agent: str = "?"
    status: SubtaskStatus
    output: str | None = None
    error: str | None = None
    reason: str | None = None


class MessageAdded(EventPayload):
    type: Literal["message.added"] = "message.added"
    message_id: int | None = None
    agent: str
    subtask_id: str | None = None
    role: Role = Role.ASSISTANT
    phase: Phase = Phase.EXECUTION
    content: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class StreamDelta(EventPayload):
    """Transient: published on the bus while a reply streams, never stored."""

    type: Literal["stream.delta"] = "stream.delta"
    agent: str
    subtask_id: str | None = None
    phase: Phase = Phase.EXECUTION
    text: str


# ------------------------------------------------------------------ collaboration and control


class ConsultationStarted(EventPayload):
    type: Literal["consultation.started"] = "consultation.started"
    id: int | None = None  # the consultations row
    subtask_id: str | None = None
    asker: str
    peer: str
    question: str
    depth: int = 1


class ConsultationFinished(EventPayload):
    type: Literal["consultation.finished"] = "consultation.finished"
    id: int | None = None  # the consultations row
    subtask_id: str | None = None
    asker: str
    peer: str
    answer: str | None = None
    error: str | None = None
    tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0


class InterventionRecorded(EventPayload):
    type: Literal["intervention"] = "intervention"
    id: int | None = None
    kind: InterventionKind
    subtask_id: str | None = None  # review decisions: the subtasks sent back, comma-separated
    text: str = ""
    source: str = "cli"


class InterventionApplied(EventPayload):
    type: Literal["intervention.applied"] = "intervention.applied"
    id: int
    kind: InterventionKind
    subtask_id: str | None = None
    by: str
    latency_ms: float | None = None
    applied: bool = True  # False: swept as stale (see reason)
    reason: str | None = None


class HelpRequested(EventPayload):
    type: Literal["help.requested"] = "help.requested"
    subtask_id: str
    agent: str
    question: str = ""


# ------------------------------------------------------------------ memory


class RecalledItem(_Item):
    id: int | None = None
    text: str = ""
    kind: str = ""
    score: float | None = None


class MemoryRecalled(EventPayload):
    type: Literal["memory.recalled"] = "memory.recalled"
    subtask_id: str | None = None
    agent: str
    items: list[RecalledItem] = Field(default_factory=list)
    phase: Phase | None = None  # consultation: recalled for the peer
    error: str | None = None  # recall failed; the subtask went on without memory


class MemoryStored(EventPayload):
    type: Literal["memory.stored"] = "memory.stored"
    id: int
    kind: MemoryKind
    agent: str | None = None
    source_execution: str | None = None
    embedded: bool = False
    text: str = ""  # the first 200 characters


class MemoryForgotten(EventPayload):
    type: Literal["memory.forgotten"] = "memory.forgotten"
    id: int
    kind: MemoryKind
    agent: str | None = None


class MemoryReembedded(EventPayload):
    type: Literal["memory.reembedded"] = "memory.reembedded"
    embedder: str
    dim: int
    space: int
    embedded: int = 0
    dropped_spaces: list[str] = Field(default_factory=list)


class MemoryLessonsSkipped(EventPayload):
    type: Literal["memory.lessons_skipped"] = "memory.lessons_skipped"
    reason: str
    fallback: int = 0  # lessons stored without the leader


# ------------------------------------------------------------------ tools


class FileWritten(_Item):
    path: str
    sha256: str = ""
    size: int = 0


class ToolCalled(EventPayload):
    type: Literal["tool.called"] = "tool.called"
    subtask_id: str | None = None
    agent: str
    tool: str
    arguments: Any = None  # the arguments as recorded (secrets scrubbed; clipped text when long)
    result: str | None = None
    error: str | None = None
    files: list[FileWritten] = Field(default_factory=list)
    ms: float = 0.0
    approval_id: int | None = None


class ImageGenerated(EventPayload):
    """An image a tool made: where it is in the run's workspace and what it was asked for (the file
    itself is stored with the `tool.called` event that follows, like every file a tool writes)."""

    type: Literal["image.generated"] = "image.generated"
    subtask_id: str | None = None
    agent: str
    path: str
    prompt: str
    model: str
    size: str | None = None  # as asked (e.g. 1024x1024); None: the model's default
    bytes: int = 0
    sha256: str = ""
    revised_prompt: str | None = None  # the provider's rewrite of the prompt, when it said


class ToolApprovalRequested(EventPayload):
    type: Literal["tool.approval_requested"] = "tool.approval_requested"
    id: int
    subtask_id: str | None = None
    agent: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolApprovalDecided(EventPayload):
    type: Literal["tool.approval_decided"] = "tool.approval_decided"
    id: int
    subtask_id: str | None = None
    agent: str
    tool: str
    approved: bool
    by: str
    reason: str | None = None


class McpServerChanged(EventPayload):
    type: Literal["mcp.server"] = "mcp.server"
    name: str
    action: str  # added | removed | listed
    transport: str | None = None
    tools: int | None = None  # listed: how many tools the server offers


# ------------------------------------------------------------------ sources and citations


class SourceRecorded(EventPayload):
    """A source a subtask read; `updated`: a search hit of the same subtask fetched as a page."""

    type: Literal["source.recorded"] = "source.recorded"
    subtask_id: str | None = None
    agent: str
    id: str  # S3
    kind: str  # search | page
    url: str
    title: str = ""
    sha256: str = ""
    chars: int = 0
    updated: bool = False


class CheckedClaim(_Item):
    source: str
    claim: str
    verdict: str  # supported | unsupported | not_found
    evidence: str = ""


class ClaimsChecked(EventPayload):
    type: Literal["claims.checked"] = "claims.checked"
    subtask_id: str | None = None
    agent: str
    checks: list[CheckedClaim] = Field(default_factory=list)


# ------------------------------------------------------------------ review


class SubtaskVerdict(_Item):
    subtask_id: str
    ok: bool
    reasons: str = ""


class ReviewVerdict(EventPayload):
    type: Literal["review.verdict"] = "review.verdict"
    round: int = 1
    message_id: int | None = None
    verdicts: list[SubtaskVerdict] = Field(default_factory=list)
    ok: bool | None = None  # None: not reviewed (see error)
    overall: str = ""
    reasons: str = ""
    error: str | None = None
    # review="auto", no rework rounds left: the criteria still unmet, so the run ends partial.
    unmet: list[str] = Field(default_factory=list)
    # The fact-checkers' check_claims verdicts, and per subtask ("result": the result) the
    # source ids cited that the run never recorded: flagged whatever the leader says.
    claims: list[CheckedClaim] = Field(default_factory=list)
    unknown_citations: dict[str, list[str]] = Field(default_factory=dict)


class ReviewDecided(EventPayload):
    type: Literal["review.decided"] = "review.decided"
    round: int
    decision: str  # accept | rework
    feedback: str | None = None
    subtasks: list[str] = Field(default_factory=list)
    reopened: list[str] = Field(default_factory=list)
    by: str | None = None


# ------------------------------------------------------------------ the project board

CARD_CHANGED = "card.changed"


class CardChanged(EventPayload):
    """A project card changed; the run id (the event's execution_id) is null: cards outlive runs."""

    type: Literal["card.changed"] = "card.changed"
    card: str  # c12
    action: str  # added | edited | moved | archived | claimed | linked | finished | released
    column: str  # where it is now (CardColumn value)
    title: str
    by: str  # a person ("user"), "leader", an agent's name, or a worker (podium work host:pid)
    run_id: str | None = None  # linked / finished: the run that worked it
    note: str | None = None


# ------------------------------------------------------------------ a run on the user's folder

WORKSPACE_CHANGED = "workspace.changed"


class WorkspaceChanged(EventPayload):
    """A run's workspace on the user's folder (`--workspace`): attached (a worktree or a copy),
    remade on resume, its changes committed (for a diff), or applied to the user's branch/folder."""

    type: Literal["workspace.changed"] = "workspace.changed"
    action: str  # attached | remade | committed | applied
    kind: str  # git | dir
    source: str
    branch: str | None = None
    commit: str | None = None  # attached: the base commit; committed/applied: the head
    files: int | None = None  # committed/applied: files changed since the base
    to: str | None = None  # applied: the branch merged into, or the folder written
    note: str | None = None


# ------------------------------------------------------------------ the union

AnyPayload = Annotated[
    RunCreated | RunSettingsRecorded | RunStatusChanged | RunUsageRecorded | RunResult | RunForked
    | ForkFilesRestored | SourceRecorded | ClaimsChecked
    | DiscussionContribution | PlanProposed | PlanApproved | PlanRejected | PlanChanged
    | ProposalMade | ProposalDecided
    | SubtaskStatusChanged | MessageAdded | StreamDelta
    | ConsultationStarted | ConsultationFinished | InterventionRecorded | InterventionApplied
    | HelpRequested | MemoryRecalled | MemoryStored | MemoryForgotten | MemoryReembedded
    | MemoryLessonsSkipped | ToolCalled | ImageGenerated | ToolApprovalRequested | ToolApprovalDecided
    | McpServerChanged | ReviewVerdict | ReviewDecided | CardChanged | WorkspaceChanged,
    Field(discriminator="type"),
]
"""Any event's payload, told apart by `type` (input must carry it, e.g. `{"type": ..., **payload}`)."""

PAYLOADS: TypeAdapter[AnyPayload] = TypeAdapter(AnyPayload)

# Every event type and its model (the union's members, registered as they were defined).
MODELS: dict[str, type[EventPayload]] = dict(EventPayload.models)


def validate_payload(type: str, payload: Mapping[str, Any]) -> EventPayload:
    """The payload an emitter gives, checked against its type's model: what every write does.

    Strict where reading is lenient: an unknown type, a missing or wrong field, or a field
    the model does not declare raises InvalidEventError (before the row is written).
    """
    model = MODELS.get(type)
    if model is None:
        raise InvalidEventError(f"no event type {type!r}: declare its payload model in podium.events")
    try:
        typed = model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidEventError(f"{type} payload does not match {model.__name__}: {exc}") from None
    extra = typed.__pydantic_extra__
    if extra:
        raise InvalidEventError(
            f"{type} payload has fields {model.__name__} does not declare: {', '.join(sorted(extra))}")
    return typed


def parse_payload(type: str, payload: Mapping[str, Any]) -> EventPayload:
    """A stored payload as its model, leniently (an UnparsedPayload if it cannot be)."""
    return read_payload(type, dict(payload))

