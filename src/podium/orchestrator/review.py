"""Quality review: the leader checks each subtask's output and the result against their criteria.

Structured output against a tight schema (subtask ids as an enum, short
reasons, a bounded list), so a small model under constrained decoding
stays on the rails. A review that cannot be had (model error, budget) is
recorded as such: the person still decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from podium.domain import Agent, Subtask, SubtaskStatus
from podium.orchestrator.context import clip


class ReviewDraftBase(BaseModel):
    model_config = ConfigDict(extra="ignore")


@lru_cache(maxsize=64)
def _schema_for(ids: tuple[str, ...]) -> type[ReviewDraftBase]:
    id_type: Any = Literal[ids]  # type: ignore[valid-type]
    item = create_model(
        "SubtaskVerdict", __base__=ReviewDraftBase,
        subtask_id=(id_type, Field(description="the subtask checked")),
        ok=(bool, Field(description="true if its output meets its acceptance criteria")),
        reasons=(str, Field(default="", max_length=240)),
    )
    return create_model(
        "ReviewDraft", __base__=ReviewDraftBase,
        verdicts=(list[item], Field(default_factory=list, max_length=len(ids))),  # type: ignore[valid-type]
        result_ok=(bool, Field(description="true if the final result meets the objective")),
        reasons=(str, Field(default="", max_length=400)),
        follow_ups=(list[FollowUp], Field(default_factory=list, max_length=MAX_FOLLOW_UPS,
                                          description="work outside this objective worth doing later")),
    )


MAX_FOLLOW_UPS = 2


class FollowUp(ReviewDraftBase):
    """Work the leader saw is worth doing later, outside this objective: a card for the board."""

    title: str = Field(min_length=1, max_length=120)
    reason: str = Field(default="", max_length=200)


def review_schema(subtasks: Sequence[Subtask]) -> type[ReviewDraftBase]:
    return _schema_for(tuple(s.id for s in subtasks) or ("none",))


def review_messages(leader: Agent, objective: str, subtasks: Sequence[Subtask], result: str,
                    handoff_chars: int, citations: Sequence[str] = ()) -> list[dict[str, Any]]:
    parts = [f"Objective: {objective}"]
    for s in subtasks:
        criteria = "; ".join(s.acceptance_criteria) or "does what the description says"
        output = clip(s.output or "", handoff_chars) if s.status is SubtaskStatus.DONE else \
            f"(did not finish: {s.status.value})"
        parts.append(f"## {s.id} by {s.agent}: {clip(s.description, 160)}\nAccept when: {criteria}\n"
                     f"Output:\n{output}")
    parts.append(f"## Final result\n{clip(result, handoff_chars * 2)}")
    if citations:
        # Checked deterministically against what the team read: a claim that is not supported,
        # or a source that was never recorded, does not meet a criterion that asks for sources.
        parts.append("## Sources and citations\n" + "\n".join(citations))
    parts.append("Check each subtask's output against its acceptance criteria and the final result against "
                 "the objective. For each subtask give ok (true/false) and a short reason; then "
                 "result_ok and a short reason. Only if you saw real work outside this objective worth "
                 "doing later, list it in follow_ups (title, reason); usually it is empty. "
                 "Reply with the JSON object only.")
    system = leader.system_prompt() + " You lead the team and review its work strictly but fairly."
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def verdict_payload(draft: BaseModel | None, subtasks: Sequence[Subtask], error: str | None = None
                    ) -> dict[str, Any]:
    """What is stored and emitted: per-subtask verdicts, ok, a one-line overall, the reasons."""
    if draft is None:
        return {"verdicts": [], "ok": None, "overall": f"not reviewed: {error}", "reasons": error or "",
                "error": error}
    data = draft.model_dump()
    seen: dict[str, dict[str, Any]] = {}
    for v in data.get("verdicts", []):
        seen.setdefault(v["subtask_id"], {"subtask_id": v["subtask_id"], "ok": bool(v["ok"]),
                                          "reasons": v.get("reasons", "").strip()})
    verdicts = [seen[s.id] for s in subtasks if s.id in seen]
    failing = [v["subtask_id"] for v in verdicts if not v["ok"]]
    ok = bool(data.get("result_ok")) and not failing
    if ok:
        # A weak model may judge the result without a verdict per subtask: say so.
        overall = (f"meets the criteria ({len(verdicts)} of {len(subtasks)} subtasks checked)" if verdicts
                   else "meets the objective (no subtask was checked on its own)")
    else:
        what = ", ".join(failing) if failing else "the result"
        overall = f"needs work: {what}"
    return {"verdicts": verdicts, "ok": ok, "overall": overall, "reasons": data.get("reasons", "").strip(),
            "follow_ups": data.get("follow_ups", [])}


def verdict_text(payload: dict[str, Any]) -> str:
    """The leader's review as a transcript message (Markdown: blank lines keep the
    list apart from the lines around it, or "Result" would join the last item)."""
    blocks = [f"Review: {payload['overall']}"]
    bullets = [f"- {v['subtask_id']}: {'ok' if v['ok'] else 'not ok'}"
               + (f" — {v['reasons']}" if v.get("reasons") else "") for v in payload.get("verdicts", [])]
    if bullets:
        blocks.append("\n".join(bullets))
    if payload.get("reasons"):
        blocks.append(f"Result: {payload['reasons']}")
    claims, unknown = payload.get("claims") or [], payload.get("unknown_citations") or {}
    if claims:
        counts = {v: sum(c["verdict"] == v for c in claims)
                  for v in ("supported", "unsupported", "not_found")}
        blocks.append(f"Claims checked: {counts['supported']} supported, {counts['unsupported']} "
                      f"unsupported, {counts['not_found']} not found\n\n"
                      + "\n".join(f"- [{c['source']}] {c['verdict'].replace('_', ' ')}: {c['claim'][:160]}"
                                  for c in claims))
    if unknown:
        blocks.append("Citations to sources never recorded in this run:\n\n" + "\n".join(
            f"- {where}: {', '.join(f'[{i}]' for i in ids)}" for where, ids in unknown.items()))
    return "\n\n".join(blocks)


def rework_feedback(payload: dict[str, Any]) -> str:
    """What a failing verdict tells the agents it sends back: each failing subtask's reason and
    the result's (the same words the leader gave)."""
    parts = [f"{v['subtask_id']}: {v.get('reasons') or 'does not meet its acceptance criteria'}"
             for v in payload.get("verdicts", []) if not v["ok"]]
    if payload.get("reasons"):
        parts.append(f"result: {payload['reasons']}")
    return "; ".join(parts) or "the result does not meet the objective"


def unmet_criteria(payload: dict[str, Any], subtasks: Sequence[Subtask]) -> list[str]:
    """The criteria a failing verdict says are unmet, one line each: per failing subtask its
    acceptance criteria and the leader's reason; then the result's, if it failed."""
    by_id = {s.id: s for s in subtasks}
    lines = []
    for v in payload.get("verdicts", []):
        if v["ok"]:
            continue
        task = by_id.get(v["subtask_id"])
        criteria = "; ".join(task.acceptance_criteria) if task and task.acceptance_criteria else \
            "does what its description says"
        reason = f" — {v['reasons']}" if v.get("reasons") else ""
        lines.append(f"{v['subtask_id']}: {criteria}{reason}")
    failing_result = not lines or payload.get("reasons")
    if failing_result:
        lines.append(f"result: meets the objective — {payload.get('reasons') or 'not met'}")
    return lines
