"""Budgets under concurrency: calls in flight hold a reservation, so parallel calls cannot overshoot.

What is guaranteed: a call starts only if the tokens used by finished calls + the reservations of
calls in flight + its own reservation (prompt estimate + max_tokens) fit the token budget, and
finished + in-flight calls + 1 fit the step budget. Concurrency therefore adds no overshoot; with
the scripted model (whose token counts the estimate bounds) N parallel calls against a budget that
admits K of them run exactly K.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from podium.domain import Budget, Execution, ExecutionStatus, Usage
from podium.llm.gateway import Gateway
from podium.llm.types import BudgetExceeded, BudgetGuard, CallContext, LLMError, estimate_prompt_tokens
from podium.orchestrator.runstate import RunGuard
from tests.conftest import eventually
from tests.unit.orch_fakes import plan_json
from tests.unit.test_orch_engine import TEAM, default, engine_for

ASK = [{"role": "user", "content": "Write the summary."}]
MAX_TOKENS = 20
REPLY = "x" * (4 * MAX_TOKENS)  # exactly MAX_TOKENS scripted tokens: the reply fills its cap


def gateway(tmp_path, script: str) -> Gateway:
    path = tmp_path / "model.toml"
    path.write_text(script)
    return Gateway(f"scripted:{path}", backoff_base=0.001, max_retries=0)


def ctx(i: int) -> CallContext:
    return CallContext(execution_id="r1", phase="execution", agent=f"a{i}", subtask_id=f"t{i}")


async def gather_calls(gw: Gateway, guard: BudgetGuard, n: int) -> list:
    return await asyncio.gather(
        *[gw.complete(ASK, context=ctx(i), guard=guard, max_tokens=MAX_TOKENS) for i in range(n)],
        return_exceptions=True)


def split(results: list) -> tuple[list, list]:
    ran = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    return ran, refused


async def test_parallel_calls_against_a_token_budget_run_exactly_as_many_as_fit(tmp_path):
    gw = gateway(tmp_path, f"latency_ms = 40\n[[rules]]\nreply = '{REPLY}'\n")
    reservation = estimate_prompt_tokens(ASK) + MAX_TOKENS
    guard = BudgetGuard(Budget(tokens=3 * reservation))  # room for 3 calls' reservations, not 4

    ran, refused = split(await gather_calls(gw, guard, 8))

    assert len(ran) == 3, f"{len(ran)} calls ran against a budget for 3"
    assert all(isinstance(e, BudgetExceeded) and str(e).startswith("token budget exhausted (")
               for e in refused) and len(refused) == 5
    assert guard.steps == 3 and guard.usage.tokens == sum(r.usage.tokens for r in ran)
    assert guard.usage.tokens <= guard.budget.tokens  # no overshoot at all
    assert (guard.in_flight, guard.reserved_tokens) == (0, 0)


async def test_parallel_calls_against_a_step_budget_make_exactly_that_many_calls(tmp_path):
    gw = gateway(tmp_path, "latency_ms = 40\n[[rules]]\nreply = 'ok'\n")
    guard = BudgetGuard(Budget(steps=3))

    ran, refused = split(await gather_calls(gw, guard, 8))

    assert len(ran) == 3 and guard.steps == 3
    assert [str(e) for e in refused] == ["step budget exhausted (3 of 3)"] * 5


async def test_a_call_waits_for_reservations_in_flight_instead_of_being_refused(tmp_path):
    # Replies are far below their cap: once a call finishes, its unused reservation frees budget
    # for the next one. One reservation fits at a time, so the calls run one after another.
    gw = gateway(tmp_path, "latency_ms = 30\n[[rules]]\nreply = 'short'\n")
    reservation = estimate_prompt_tokens(ASK) + MAX_TOKENS
    guard = BudgetGuard(Budget(tokens=2 * reservation - 1))
    admitted: list[int] = []  # calls in flight each time one was admitted
    reserve = guard.reserve

    @contextlib.asynccontextmanager
    async def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        async with reserve(*args, **kwargs) as slot:
            admitted.append(guard.in_flight)
            yield slot

    guard.reserve = recording  # type: ignore[method-assign]
    ran, refused = split(await gather_calls(gw, guard, 3))
    assert len(ran) == 3 and not refused and guard.steps == 3
    most = max(admitted)
    assert most == 1  # never two in flight: the second reservation did not fit beside the first


async def test_a_failed_call_releases_its_reservation_and_counts_nothing(tmp_path):
    gw = gateway(tmp_path, "[[rules]]\nagent = 'a0'\nfault = 'server_error'\nlatency_ms = 40\n"
                           f"[[rules]]\nreply = '{REPLY}'\n")
    reservation = estimate_prompt_tokens(ASK) + MAX_TOKENS
    guard = BudgetGuard(Budget(tokens=reservation + 5))  # one reservation at a time

    failed, ok = await gather_calls(gw, guard, 2)  # a1 waits for a0's reservation, then runs

    assert isinstance(failed, LLMError) and not isinstance(failed, BudgetExceeded)
    assert ok.content == REPLY
    assert guard.steps == 1 and guard.usage.tokens == ok.usage.tokens
    assert (guard.in_flight, guard.reserved_tokens) == (0, 0)


async def test_a_cancelled_call_releases_its_reservation(tmp_path):
    gw = gateway(tmp_path, "[[rules]]\nagent = 'a0'\nreply = 'slow'\nlatency_ms = 5000\n"
                           "[[rules]]\nreply = 'quick'\n")
    reservation = estimate_prompt_tokens(ASK) + MAX_TOKENS
    guard = BudgetGuard(Budget(tokens=reservation + 5))
    slow = asyncio.create_task(gw.complete(ASK, context=ctx(0), guard=guard, max_tokens=MAX_TOKENS))
    await eventually(lambda: guard.in_flight, what="the slow call's reservation")
    quick = asyncio.create_task(gw.complete(ASK, context=ctx(1), guard=guard, max_tokens=MAX_TOKENS))
    # The quick call does not fit beside the slow one: it waits for a release (its wake-up event).
    await eventually(lambda: guard._released is not None, what="the quick call waiting for a reservation")
    assert not quick.done() and guard.in_flight == 1  # waiting for the slow call's reservation

    slow.cancel()
    result = await asyncio.wait_for(quick, 2)
    assert result.content == "quick" and slow.cancelled()
    assert guard.steps == 1 and (guard.in_flight, guard.reserved_tokens) == (0, 0)


async def test_a_call_that_cannot_fit_is_refused_at_once_even_with_calls_in_flight():
    guard = BudgetGuard(Budget(tokens=100))
    async with guard.reserve(60) as slot:
        with pytest.raises(BudgetExceeded, match=r"token budget exhausted \(101 of 100\)"):
            async with guard.reserve(101):
                pass
        slot.record(Usage(prompt_tokens=50, completion_tokens=10))
    assert guard.usage.tokens == 60 and guard.steps == 1 and guard.in_flight == 0


async def test_the_run_guards_wall_time_refuses_a_reservation():
    guard = RunGuard(Budget(wall_seconds=5), Usage(), 0, elapsed_before=6)
    with pytest.raises(BudgetExceeded, match="wall time"):
        async with guard.reserve(1):
            pass


WIDE = plan_json(*[(f"t{i}", agent, []) for i, agent in
                   enumerate(["researcher", "analyst", "fact-checker", "writer", "researcher", "analyst"])])


async def test_parallel_subtasks_take_exactly_the_steps_left_in_the_budget(store):
    def respond(call):
        return WIDE if call.context.phase == "planning" else default(call)

    engine, gateway = engine_for(store, respond, latency=0.05,
                                 settings={"discussion": False, "concurrency": 6})
    run_id = await engine.create_run("Report on heat pumps", TEAM)
    await engine.plan(run_id)
    await engine.approve(run_id)
    execution: Execution = await engine.repo.get_execution(run_id)
    await engine.repo.set_budget(run_id, Budget(steps=execution.steps + 2))

    final = await engine.execute(run_id)

    assert final.status is ExecutionStatus.HALTED
    assert len([c for c in gateway.calls if c.context.phase == "execution"]) == 2  # not 6
    assert final.steps == execution.steps + 2

