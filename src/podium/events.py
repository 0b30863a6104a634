"""Event types: the vocabulary the orchestrator writes and the TUI/CLI read.

Every committed state change has one event row; `STREAM_DELTA` alone is
transient (published on the bus, never stored) because per-token rows
would bloat the file; the full text lands in a `MESSAGE_ADDED` event.
"""

from __future__ import annotations

RUN_CREATED = "run.created"  # objective, team, model, budget
# How the run was started, or goes on after `podium resume` flags: source (run|resume),
# changed (the settings a resume overrode), and every RunSettings field. Never a secret.
RUN_SETTINGS = "run.settings"
RUN_STATUS = "run.status"  # status, reason?
RUN_USAGE = "run.usage"  # prompt_tokens, completion_tokens, cost_usd, calls, steps
RUN_RESULT = "run.result"  # result

DISCUSSION_CONTRIBUTION = "discussion.contribution"  # agent, message_id, content
PLAN_PROPOSED = "plan.proposed"  # version, plan, fallback, errors?
PLAN_APPROVED = "plan.approved"  # version, by
PLAN_REJECTED = "plan.rejected"  # version, feedback

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
TOOL_APPROVAL_DECIDED = "tool.approval_decided"  # id, subtask_id, agent, tool, approved, by, reason?
MCP_SERVER_CHANGED = "mcp.server"  # name, action (added|removed), transport
# round, message_id, verdicts: [{subtask_id, ok, reasons}], ok, overall (one line), reasons
REVIEW_VERDICT = "review.verdict"
REVIEW_DECIDED = "review.decided"  # round, decision (accept|rework), feedback?, subtasks, reopened, by
