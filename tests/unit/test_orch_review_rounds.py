"""The verdict acts (review="auto"): bounded rework rounds, then partial with the unmet criteria."""

from __future__ import annotations

from podium.domain import ExecutionStatus
from tests.unit.orch_fakes import Call
from tests.unit.test_orch_engine import DONE, default, engine_for, planned


def failing_until(passes_after: int | None):
    """The leader fails t2 (and the result) until `passes_after` reworks have happened (None: never)."""
    reviews: list[int] = []

    def respond(call: Call):
        if call.context.phase == "review":
            reviews.append(1)
            ok = passes_after is not None and len(reviews) > passes_after
            return {"verdicts": [{"subtask_id": "t2", "ok": ok, "reasons": "no cost table"}],
                    "result_ok": ok, "reasons": "costs are vague" if not ok else "fine"}
        sent_back = "leader's review sent your previous result back" in call.prompt
        if call.context.phase == "execution" and sent_back:
            return f"out-{call.context.subtask_id} reworked{DONE}"
        return default(call)

    return respond


async def reworked(store, run_id: str) -> list[tuple[str, str]]:
    rows = await store.query("SELECT decision, decided_by FROM reviews WHERE execution_id = ? ORDER BY round",
                             (run_id,))
    return [tuple(r) for r in rows]


async def test_rounds_are_bounded_then_the_run_ends_partial(store):
    engine, gateway = engine_for(store, failing_until(None),
                                 settings={"discussion": False, "review": "auto", "review_rounds": 1})
    run_id = await planned(engine)
    final = await engine.execute(run_id)
    assert final.status is ExecutionStatus.PARTIAL
    assert await reworked(store, run_id) == [("rework", "leader"), ("accept", "auto")]
    assert sum(c.context.phase == "review" for c in gateway.calls) == 2  # one round, then no more
    [(verdict,)] = await store.query("SELECT verdict_json FROM reviews WHERE round = 2")
    assert '"unmet": ["t2:' in verdict
    reason = await engine.repo.status_reason(run_id)
    assert "criteria unmet after 1 rework round:" in (reason or "")


async def test_a_verdict_passing_after_a_rework_completes(store):
    engine, gateway = engine_for(store, failing_until(1),
                                 settings={"discussion": False, "review": "auto", "review_rounds": 2})
    run_id = await planned(engine)
    final = await engine.execute(run_id)
    assert final.status is ExecutionStatus.COMPLETED
    assert await reworked(store, run_id) == [("rework", "leader"), ("accept", "auto")]
    reworks = [c for c in gateway.calls if c.context.phase == "execution" and "reworked" not in c.prompt
               and "leader's review sent your previous result back" in c.prompt]
    assert {c.context.subtask_id for c in reworks} == {"t2"}
