"""`podium show`: one run gathered from the project file, as JSON or Markdown."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from podium.citations import RunSources, Source
from podium.domain import Consultation, Phase, RunDetail, SubtaskStatus

if TYPE_CHECKING:
    from podium.app.queries import Queries


async def gather(queries: Queries, run_id: str) -> dict[str, Any]:
    """The run (by id or unique prefix) as the report's JSON."""
    detail = await queries.detail(run_id)
    out = report(detail, await queries.sources(detail.execution.id))
    record = await queries.lineage(detail.execution.id)
    reused = record.reused if record is not None else {}
    # A fork: where it came from, and which subtasks were copied rather than run (`reused_from`).
    out["fork"] = None if record is None else {
        "parent": record.parent_id, "from": record.from_subtasks, "edited": record.edited,
        "rerun": record.rerun, "changes": record.changes, "created_at": record.created_at}
    for s in out["subtasks"]:
        r = reused.get(s["id"])
        s["reused_from"] = None if r is None or r.applied is False else {
            "run": r.run, "subtask": r.subtask, "edited": r.edited}
    return out


EXCERPT = 300  # characters of a source's text in the report (the file keeps what was read)


def _source(s: Source) -> dict[str, Any]:
    return {"id": s.id, "kind": s.kind.value, "url": s.url, "title": s.title, "query": s.query,
            "provider": s.provider, "agent": s.agent, "fetched_at": s.fetched_at, "sha256": s.sha256,
            "chars": s.chars, "truncated": s.truncated, "excerpt": s.text[:EXCERPT]}


def _consultation(c: Consultation) -> dict[str, Any]:
    """A consultation as its row reads (the report's JSON keeps that shape)."""
    return {"id": c.id, "execution_id": c.execution_id, "subtask_id": c.subtask_id, "asker": c.asker,
            "peer": c.peer, "question": c.question, "answer": c.answer, "error": c.error, "depth": c.depth,
            "prompt_tokens": c.usage.prompt_tokens, "completion_tokens": c.usage.completion_tokens,
            "cost_usd": c.usage.cost_usd, "started_at": c.started_at, "finished_at": c.finished_at}


def report(detail: RunDetail, sources: RunSources | None = None) -> dict[str, Any]:
    execution, team, messages = detail.execution, detail.team, detail.messages
    sources = sources or RunSources()
    outputs = {s.id: s.output or "" for s in detail.subtasks if s.status is SubtaskStatus.DONE}
    cited = sources.findings(outputs, execution.result or "")

    def msg(m: Any) -> dict[str, Any]:
        return m.model_dump(mode="json", exclude={"execution_id"})

    by_subtask: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        if m.subtask_id is not None:
            by_subtask.setdefault(m.subtask_id, []).append(msg(m))
    end = execution.finished_at or execution.updated_at
    return {
        "id": execution.id,
        "objective": execution.objective,
        "status": execution.status.value,
        "team": team.model_dump(),
        "model": execution.model,
        "budget": execution.budget.model_dump(),
        # How the run was started and goes on (`podium resume` reuses it); None: not recorded.
        "settings": execution.settings.model_dump() if execution.settings else None,
        "settings_history": detail.settings_history,
        "usage": {**execution.usage.model_dump(), "tokens": execution.usage.tokens, "steps": execution.steps,
                  "active_seconds": round(execution.active_seconds, 3)},
        "created_at": execution.created_at,
        "finished_at": execution.finished_at,
        "duration_s": round(end - execution.created_at, 3),
        "discussion": [msg(m) for m in messages if m.phase is Phase.DISCUSSION],
        "planning": [msg(m) for m in messages if m.phase is Phase.PLANNING],
        "plans": [{"version": p.version, "status": p.status.value, "feedback": p.feedback,
                   "fallback": p.fallback, "created_at": p.created_at, "author": p.author,
                   **p.plan.model_dump(mode="json", include={"rationale", "subtasks", "mends"})}
                  for p in detail.plans],
        "subtasks": [{**s.model_dump(mode="json"), "transcript": by_subtask.get(s.id, []),
                      # What it read (web_search hits, fetch_url pages), and the ids it cites that
                      # the run never recorded.
                      "sources": [_source(x) for x in sources.of(s.id)],
                      "unknown_citations": cited.unknown.get(s.id, [])}
                     for s in detail.subtasks],
        "claim_checks": [c.model_dump(mode="json") for c in sources.checks],
        "unknown_citations": cited.unknown,
        "consultations": [_consultation(c) for c in detail.consultations],
        "interventions": [i.model_dump(mode="json") for i in detail.interventions],
        "reviews": detail.reviews,
        # The last review's unmet criteria when the run ended partial because of them.
        "unmet": unmet(detail),
        "synthesis": [msg(m) for m in messages if m.phase is Phase.SYNTHESIS],
        "result": execution.result,
        "events": detail.events,
    }


def unmet(detail: RunDetail) -> list[str]:
    """The criteria still unmet when the leader's automatic review ended the run partial."""
    last = detail.reviews[-1]["verdict"] if detail.reviews else {}
    return list(last.get("unmet") or [])


def _settings_lines(r: dict[str, Any]) -> list[str]:
    out = ["", "## Settings", ""]
    s = r.get("settings")
    budget = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in r["budget"].items() if v is not None)
    if s is None:
        return [*out, "Not recorded (started by an older Podium): `podium resume` uses today's defaults.",
                f"- Budget: {budget or 'none'}"]
    if s["model"]:
        out.append(f"- Model: {s['model']} (every agent)")
    else:
        out.append(f"- Models: {', '.join(f'{a} {m}' for a, m in s['agents'].items())}")
    endpoint = s["api_base"] or ("withheld (it carried credentials)" if s["api_base_withheld"] else "default")
    review = {"human": "waits for your review", "auto": "leader's check, then accepted", "off": "none"}
    out += [
        f"- API base: {endpoint}",
        f"- Concurrency: {s['concurrency']} · max tokens per reply: {s['max_tokens'] or 'default'}",
        f"- Review: {review.get(s['review'], s['review'])}"
        + (f" · up to {s.get('review_rounds', 2)} rework rounds" if s["review"] == "auto" else ""),
        f"- Plans approved up front (--yes): {'yes' if s['approve_plans'] else 'no'}",
        f"- Tools approved up front (--allow-tools): {', '.join(s['allow_tools']) or 'none'}",
        f"- Budget: {budget or 'none'}",
    ]
    for h in r.get("settings_history", []):
        if h["source"] != "run":
            what = ", ".join(h["changed"]) or "nothing changed"
            out.append(f"- {_when(h['at'])} {h['source']}: {what}")
    return out


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def to_markdown(r: dict[str, Any]) -> str:
    u = r["usage"]
    out = [
        f"# Run {r['id']} — {r['status']}",
        "",
        f"**Objective:** {r['objective']}",
        "",
        f"- Team: {r['team']['name']} (leader {r['team']['leader']}) · model {r['model'] or 'default'}",
        f"- Started {_when(r['created_at'])} · finished {_when(r['finished_at'])} · {r['duration_s']:.1f}s",
        f"- Usage: {u['tokens']:,} tokens ({u['prompt_tokens']:,} in, {u['completion_tokens']:,} out) · "
        f"${u['cost_usd']:.4f} · {u['calls']} calls",
    ]
    fork = r.get("fork")
    if fork:
        points = ", ".join(fork["from"]) or "nothing named"
        edited = f" · edited: {', '.join(fork['edited'])}" if fork["edited"] else ""
        changed = f" · changed: {', '.join(fork['changes'])}" if fork["changes"] else ""
        out.append(f"- Fork of {fork['parent']} from {points}{edited}{changed} · "
                   f"runs again: {', '.join(fork['rerun']) or 'only the synthesis'}")
    out += _settings_lines(r)
    if r["discussion"]:
        out += ["", "## Discussion", ""]
        out += [f"**{m['agent']}:** {m['content'].strip()}\n" for m in r["discussion"]]
    if r["plans"]:
        out += ["", "## Plans"]
        for p in r["plans"]:
            flag = " (fallback)" if p["fallback"] else " (mended)" if p.get("mends") else ""
            if p.get("author", "leader") != "leader":
                flag += f" (edited by {p['author']})"
            out += ["", f"### Plan v{p['version']} — {p['status']}{flag}"]
            if p["feedback"]:
                out.append(f"> Feedback: {p['feedback']}")
            if p["rationale"]:
                out.append(f"_{p['rationale']}_")
            for mend in p.get("mends") or []:
                out.append(f"- mended: {mend}")
            out.append("")
            for s in p["subtasks"]:
                deps = f" (after {', '.join(s['depends_on'])})" if s["depends_on"] else ""
                out.append(f"- **{s['id']}** [{s['agent']}]{deps}: {s['description']}")
    if r["subtasks"]:
        out += ["", "## Subtasks"]
        for s in r["subtasks"]:
            usage = s["usage"]
            reused = s.get("reused_from")
            origin = (f" · reused from {reused['run']}{' (output edited)' if reused['edited'] else ''}"
                      if reused else "")
            out += ["", f"### {s['id']} · {s['agent']} · {s['status']}{origin}", "", s["description"]]
            if s["acceptance_criteria"]:
                out += ["", "Acceptance criteria:"] + [f"- {c}" for c in s["acceptance_criteria"]]
            out.append(f"\n_{usage['prompt_tokens'] + usage['completion_tokens']:,} tokens · "
                       f"${usage['cost_usd']:.4f}_")
            if s["transcript"]:
                out += ["", "Transcript:", ""]
                for m in s["transcript"]:
                    body = m["content"].strip().replace("\n", "\n> ")
                    out.append(f"> **{m['agent']}** ({m['role']}): {body}\n")
            if s.get("sources"):
                out += ["", "Sources:", ""] + [
                    f"- [{x['id']}] {x['title'] or x['url']} — {x['url']} ({x['kind']}, "
                    f"{_when(x['fetched_at'])}, sha256 {x['sha256'][:12]})" for x in s["sources"]]
            if s["output"]:
                out += ["", "Output:", "", s["output"].strip()]
            if s.get("unknown_citations"):
                out += ["", f"**Cites sources never recorded:** {', '.join(s['unknown_citations'])}"]
            if s["error"]:
                out += ["", f"**Error:** {s['error']}"]
    if r["consultations"]:
        out += ["", "## Consultations", ""]
        for c in r["consultations"]:
            took = f"{c['finished_at'] - c['started_at']:.1f}s" if c["finished_at"] else "unfinished"
            tokens = c["prompt_tokens"] + c["completion_tokens"]
            nested = f", depth {c['depth']}" if c["depth"] > 1 else ""
            out.append(f"- {c['subtask_id'] or '-'} · {c['asker']} → {c['peer']}: {c['question']}\n"
                       f"  — {c['answer'] or ('error: ' + c['error'] if c['error'] else '…')}\n"
                       f"  _{tokens:,} tokens · ${c['cost_usd']:.4f} · {took}{nested}_")
    if r["interventions"]:
        out += ["", "## Interventions", ""]
        for i in r["interventions"]:
            text = f": {i['text']}" if i["text"] else ""
            target = f" [{i['subtask_id']}]" if i["subtask_id"] else ""
            out.append(f"- {_when(i['created_at'])} {i['kind']}{target} ({i['source']}){text}")
    for rv in r.get("reviews", []):
        v = rv["verdict"]
        out += ["", f"## Review, round {rv['round']} — {v.get('overall', '')}", ""]
        out += [f"- {'✔' if x.get('ok') else '✘'} {x['subtask_id']}: {x.get('reasons', '')}"
                for x in v.get("verdicts", [])]
        if v.get("reasons"):
            out.append(f"- result: {v['reasons']}")
        if rv["decision"]:
            what = f" ({', '.join(rv['subtasks'])})" if rv["subtasks"] else ""
            feedback = f": {rv['feedback']}" if rv["feedback"] else ""
            out.append(f"\n**Decision:** {rv['decision']}{what} by {rv['decided_by']}{feedback}")
        else:
            out.append("\n**Decision:** awaiting your review")
    if r.get("claim_checks"):
        out += ["", "## Claim checks", ""]
        mark = {"supported": "✔", "unsupported": "✘", "not_found": "?"}
        out += [f"- {mark.get(c['verdict'], '-')} [{c['source']}] {c['verdict'].replace('_', ' ')}: "
                f"{c['claim']} ({c['agent'] or '-'}, {c['subtask_id'] or '-'})" for c in r["claim_checks"]]
    if r.get("unknown_citations"):
        out += ["", "## Citations to sources never recorded", ""]
        out += [f"- {where}: {', '.join(ids)}" for where, ids in r["unknown_citations"].items()]
    if r.get("unmet"):
        out += ["", "## Unmet criteria", "", "The leader's review still found these unmet after the last "
                "rework round, so the run ended partial:", ""]
        out += [f"- {line}" for line in r["unmet"]]
    out += ["", "## Result", "", (r["result"] or "_no result yet_").strip(), ""]
    return "\n".join(out)
