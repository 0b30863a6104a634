"""The gateway's own path (deadline, retries, budget, streaming, usage, cost), driven by the scripted
model, which it calls directly; hosted models go over litellm (see the last tests here)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from pydantic import BaseModel, Field

from podium.domain import Budget
from podium.llm.gateway import Gateway
from podium.llm.types import (
    BudgetExceeded,
    BudgetGuard,
    CallContext,
    LLMError,
    ModelConfigError,
    StructuredOutputError,
)

CTX = CallContext(execution_id="r1", phase="execution", agent="writer", subtask_id="t1")
ASK = [{"role": "user", "content": "Write the summary."}]


def gateway(tmp_path, script: str, **kw) -> Gateway:
    path = tmp_path / "model.toml"
    path.write_text(script)
    kw.setdefault("backoff_base", 0.001)
    return Gateway(f"scripted:{path}", **kw)


async def test_plain_completion_has_content_usage_latency_and_model(tmp_path):
    gw = gateway(
        tmp_path, '[[rules]]\nreply = "Summary by {agent} for {subtask} ({phase}, run {execution})."\n'
    )
    result = await gw.complete(ASK, context=CTX)
    assert result.content == "Summary by writer for t1 (execution, run r1)."
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0 and result.usage.calls == 1
    assert result.latency_ms > 0 and result.finish_reason == "stop"
    assert result.model == f"scripted:{(tmp_path / 'model.toml').resolve()}"


async def test_streaming_delivers_deltas_that_add_up_to_the_reply(tmp_path):
    gw = gateway(tmp_path, '[[rules]]\nreply = "one two three four five"\nlatency_ms = 20\n')
    seen: list[tuple[str, float]] = []

    async def on_delta(text: str) -> None:  # async callbacks are awaited
        seen.append((text, time.perf_counter()))

    result = await gw.complete(ASK, context=CTX, on_delta=on_delta)
    assert len(seen) == 5 and "".join(t for t, _ in seen) == result.content == "one two three four five"
    assert seen[-1][1] > seen[0][1]  # deltas arrive over time, not in one lump
    assert result.usage.completion_tokens > 0 and result.usage.prompt_tokens > 0


async def test_context_selects_rules_per_phase_agent_and_subtask(tmp_path):
    gw = gateway(
        tmp_path,
        """
[[rules]]
phase = "discussion"
reply = "perspective"
[[rules]]
agent = "analyst"
subtask = "t2"
reply = "numbers"
""",
    )
    assert (
        await gw.complete(ASK, context=CallContext(phase="discussion", agent="x"))
    ).content == "perspective"
    got = await gw.complete(ASK, context=CallContext(phase="execution", agent="analyst", subtask_id="t2"))
    assert got.content == "numbers"
    other = await gw.complete(ASK, context=CallContext(phase="execution", agent="analyst", subtask_id="t3"))
    assert other.content == "Scripted reply from analyst (execution)."


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    }
]


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_come_back_parsed(tmp_path, stream):
    gw = gateway(
        tmp_path,
        """
supports_tools = true
[[rules]]
match = "notes"
tool_calls = [{ name = "read_file", arguments = { path = "notes.md" } }]
""",
    )
    assert gw.supports_tools()
    result = await gw.complete(
        [{"role": "user", "content": "read my notes"}],
        context=CTX,
        tools=TOOLS,
        on_delta=(lambda _: None) if stream else None,
    )
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("read_file", {"path": "notes.md"})]
    assert result.tool_calls[0].id and result.finish_reason == "tool_calls"


async def test_streamed_tool_calls_with_text_usage_and_cost(tmp_path):
    gw = gateway(
        tmp_path,
        """
supports_tools = true
input_cost_per_mtok = 1.0
output_cost_per_mtok = 3.0
[[rules]]
reply = "Reading both files now."
tool_calls = [{ name = "read_file", arguments = { path = "a.md" } },
              { name = "read_file", arguments = { path = "b.md" } }]
""",
    )
    shown: list[str] = []
    guard = BudgetGuard()
    result = await gw.complete(ASK, context=CTX, tools=TOOLS, on_delta=shown.append, guard=guard)
    assert "".join(shown) == result.content == "Reading both files now." and len(shown) == 4
    assert [c.arguments["path"] for c in result.tool_calls] == ["a.md", "b.md"]
    assert len({c.id for c in result.tool_calls}) == 2 and result.finish_reason == "tool_calls"
    u = result.usage
    assert u.prompt_tokens > 0 and u.completion_tokens > 0 and u.calls == 1
    assert u.cost_usd == pytest.approx(u.prompt_tokens * 1e-6 + u.completion_tokens * 3e-6)
    assert guard.usage.cost_usd == pytest.approx(u.cost_usd)


@pytest.mark.parametrize("stream", [False, True])
async def test_request_parameters_reach_the_script(tmp_path, stream):
    gw = gateway(tmp_path, '[[rules]]\nstructured = true\nreply = "structured"\n'
                           '[[rules]]\nreply = "plain, at most {max_tokens}"\n')
    on_delta = (lambda _: None) if stream else None
    plain = await gw.complete(ASK, context=CTX, max_tokens=7, on_delta=on_delta)
    assert plain.content == "plain, at most 7"
    fmt = {"type": "json_object"}
    asked = await gw.complete(ASK, context=CTX, response_format=fmt, on_delta=on_delta)
    assert asked.content == "structured"
    extra = {"response_format": fmt}  # how structured() asks (json_modes.request_params)
    assert (await gw.complete(ASK, context=CTX, extra=extra, on_delta=on_delta)).content == "structured"


def test_supports_tools_per_model(tmp_path):
    gw = gateway(tmp_path, "")
    assert gw.supports_tools() is False and gw.supports_tools("local") is False
    assert gw.supports_tools("openai/gpt-4o-mini") is True


class Verdict(BaseModel):
    verdict: str = Field(pattern="^(accept|rework)$")
    reasons: list[str] = Field(max_length=2)


async def test_structured_output_valid_first_time(tmp_path):
    gw = gateway(tmp_path, '[[rules]]\njson = { verdict = "accept", reasons = ["meets criteria"] }\n')
    value, result = await gw.structured(ASK, Verdict, context=CTX)
    assert value == Verdict(verdict="accept", reasons=["meets criteria"]) and result.usage.calls == 1


async def test_structured_output_repairs_once_showing_the_errors(tmp_path):
    gw = gateway(
        tmp_path,
        """
[[rules]]
times = 1
reply = '{"verdict": "maybe", "reasons": []}'
[[rules]]
match = "not valid:.*verdict: String should match pattern"
json = { verdict = "rework", reasons = ["fix the table"] }
""",
    )
    guard = BudgetGuard()
    value, result = await gw.structured(ASK, Verdict, context=CTX, guard=guard)
    assert value.verdict == "rework"
    assert result.usage.calls == 2 and guard.steps == 2  # both calls count
    assert guard.usage.tokens == result.usage.tokens


async def test_structured_output_survives_a_malformed_reply(tmp_path):
    gw = gateway(
        tmp_path,
        """
[[rules]]
times = 1
fault = "malformed_json"
json = { verdict = "accept", reasons = [] }
[[rules]]
json = { verdict = "accept", reasons = [] }
""",
    )
    value, result = await gw.structured(ASK, Verdict, context=CTX)
    assert value.verdict == "accept" and result.usage.calls == 2


async def test_structured_output_fails_after_one_repair(tmp_path):
    gw = gateway(tmp_path, "[[rules]]\nreply = 'I would rather not answer in JSON.'\n")
    guard = BudgetGuard()
    with pytest.raises(StructuredOutputError) as err:
        await gw.structured(ASK, Verdict, context=CTX, guard=guard)
    assert err.value.raw == "I would rather not answer in JSON." and err.value.errors
    assert isinstance(err.value, LLMError) and guard.steps == 2


@pytest.mark.parametrize("kind", ["rate_limit", "server_error", "timeout", "disconnect"])
@pytest.mark.parametrize("stream", [False, True])
async def test_transient_faults_are_retried(tmp_path, kind, stream):
    gw = gateway(
        tmp_path,
        f"""
[[rules]]
times = 2
fault = "{kind}"
reply = "never shown twice"
[[rules]]
reply = "recovered on call {{call}}"
""",
        max_retries=3,
    )
    shown: list[str] = []
    result = await gw.complete(ASK, context=CTX, on_delta=shown.append if stream else None)
    assert result.content == "recovered on call 3"
    if stream:
        assert "".join(shown).endswith("recovered on call 3")


async def test_retries_give_up_with_a_clear_error(tmp_path):
    gw = gateway(tmp_path, '[[rules]]\nfault = "rate_limit"\n', max_retries=2)
    with pytest.raises(LLMError, match=r"failed after 3 attempts: scripted rate limit \(HTTP 429\)"):
        await gw.complete(ASK, context=CTX)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_rate_limit_is_retried_then_the_call_succeeds(tmp_path, stream):
    gw = gateway(tmp_path, '[[rules]]\ntimes = 1\nfault = "rate_limit"\n[[rules]]\nreply = "call {call}"\n',
                 max_retries=1)
    result = await gw.complete(ASK, context=CTX, on_delta=(lambda _: None) if stream else None)
    assert result.content == "call 2" and result.usage.calls == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_a_connection_that_keeps_dropping_is_a_config_error(tmp_path, stream):
    gw = gateway(tmp_path, '[[rules]]\nfault = "disconnect"\nreply = "one two three four"\n', max_retries=2)
    with pytest.raises(ModelConfigError, match="cannot reach the provider of scripted:"):
        await gw.complete(ASK, context=CTX, on_delta=(lambda _: None) if stream else None)


@pytest.mark.parametrize(("kind", "what"), [("server_error", "failed"), ("timeout", "timed out")])
async def test_persistent_server_errors_and_timeouts_fail_with_the_attempts(tmp_path, kind, what):
    gw = gateway(tmp_path, f'[[rules]]\nfault = "{kind}"\n', max_retries=2)
    with pytest.raises(LLMError, match=f"call {what} after 3 attempts: scripted") as err:
        await gw.complete(ASK, context=CTX)
    assert not isinstance(err.value, ModelConfigError)


def test_own_faults_are_classified_without_litellm():
    from podium.llm.errors import config_error, unreachable
    from podium.llm.retry import is_retryable
    from podium.llm.types import Disconnected, ProviderTimedOut, RateLimited, ServerFailed

    for fault in (RateLimited("x"), ServerFailed("x"), ProviderTimedOut("x"), Disconnected("x")):
        assert is_retryable(fault) and config_error(fault, "m", None) is None
    assert unreachable("m", None, Disconnected("x")) is not None
    assert unreachable("m", None, ServerFailed("x")) is None
    assert unreachable("m", None, ProviderTimedOut("x")) is None
    assert not is_retryable(ValueError("a bug"))


async def test_a_dropped_stream_is_not_shown_twice(tmp_path):
    gw = gateway(
        tmp_path,
        """
[[rules]]
times = 1
fault = "disconnect"
reply = "alpha beta gamma delta epsilon zeta"
[[rules]]
reply = "alpha beta gamma delta epsilon zeta"
""",
    )
    shown: list[str] = []
    result = await gw.complete(ASK, context=CTX, on_delta=shown.append)
    assert "".join(shown) == result.content == "alpha beta gamma delta epsilon zeta"


async def test_seeded_fault_rate_is_absorbed_by_retries(tmp_path):
    gw = gateway(
        tmp_path,
        """
seed = 5
[faults]
rate = 0.4
kinds = ["rate_limit", "server_error", "timeout", "disconnect"]
[[rules]]
reply = "call {call}"
""",
        max_retries=12,
    )
    results = [
        await gw.complete(ASK, context=CTX, on_delta=(lambda _: None) if i % 2 else None) for i in range(20)
    ]
    last_call = int(results[-1].content.split()[-1])
    assert last_call > 20  # some calls failed and were retried
    assert all(r.content.startswith("call ") for r in results)


async def test_per_call_timeout(tmp_path):
    gw = gateway(tmp_path, "[[rules]]\nreply = 'slow'\nlatency_ms = 5000\n", timeout=0.2, max_retries=1)
    start = time.perf_counter()
    with pytest.raises(LLMError, match="timed out after 2 attempts"):
        await gw.complete(ASK, context=CTX)
    assert time.perf_counter() - start < 2.0


async def test_budget_refuses_before_calling_the_model(tmp_path):
    gw = gateway(tmp_path, "[[rules]]\ntimes = 1\nreply = 'first'\n[[rules]]\nreply = 'second'\n")
    guard = BudgetGuard(Budget(tokens=100))
    with pytest.raises(BudgetExceeded, match="token budget"):
        await gw.complete(ASK, context=CTX, guard=guard, estimated_tokens=500)
    with pytest.raises(BudgetExceeded):
        await gw.structured(ASK, Verdict, context=CTX, guard=guard, estimated_tokens=500)
    assert guard.steps == 0
    result = await gw.complete(ASK, context=CTX, guard=guard, estimated_tokens=10)
    assert result.content == "first"  # the refused calls never reached the model
    assert guard.steps == 1 and guard.usage.tokens == result.usage.tokens


async def test_step_budget(tmp_path):
    gw = gateway(tmp_path, "[[rules]]\nreply = 'x'\n")
    guard = BudgetGuard(Budget(steps=2))
    await gw.complete(ASK, context=CTX, guard=guard)
    await gw.complete(ASK, context=CTX, guard=guard)
    with pytest.raises(BudgetExceeded, match="step budget"):
        await gw.complete(ASK, context=CTX, guard=guard)


@pytest.mark.parametrize("stream", [False, True])
async def test_cost_comes_from_the_scripts_prices_and_caps_spending(tmp_path, stream):
    gw = gateway(
        tmp_path, "input_cost_per_mtok = 1.0\noutput_cost_per_mtok = 2.0\n[[rules]]\nreply = 'twelve chars'\n"
    )
    guard = BudgetGuard(Budget(usd=0.000_01))
    result = await gw.complete(ASK, context=CTX, guard=guard, on_delta=(lambda _: None) if stream else None)
    u = result.usage
    assert u.cost_usd == pytest.approx(u.prompt_tokens * 1e-6 + u.completion_tokens * 2e-6)
    assert u.cost_usd > 0.000_01
    with pytest.raises(BudgetExceeded, match="cost"):
        await gw.complete(ASK, context=CTX, guard=guard)


async def test_concurrent_calls(tmp_path):
    gw = gateway(tmp_path, "latency_ms = 50\n[[rules]]\nreply = '{agent}'\n")
    start = time.perf_counter()
    results = await asyncio.gather(*[gw.complete(ASK, context=CallContext(agent=f"a{i}")) for i in range(8)])
    assert [r.content for r in results] == [f"a{i}" for i in range(8)]
    assert time.perf_counter() - start < 0.4 * 8 / 2  # they overlap, not queue


async def test_embeddings_through_the_gateway(tmp_path):
    gw = gateway(tmp_path, "embedding_dim = 48\n")
    vectors = await gw.embed(["heat pumps in Tromsø", "violin", "heat pumps in Tromsø"])
    assert len(vectors) == 3 and all(len(v) == 48 for v in vectors) and vectors[0] == vectors[2]
    assert await gw.embed([]) == []


def test_resolve_gives_a_string_usable_in_any_process(tmp_path):
    gw = gateway(tmp_path, "")
    assert gw.resolve(None) == f"scripted:{(tmp_path / 'model.toml').resolve()}"
    assert gw.resolve("local") == "local"
    assert gw.resolve("openai/gpt-4o-mini") == "openai/gpt-4o-mini"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_configuration_mistakes_are_model_config_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    gw = Gateway("local", backoff_base=0.001, max_retries=1)
    cases = {
        "no-such-provider-model": "unknown model",
        "openai/gpt-4o-mini": "OPENAI_API_KEY is not set",
        "anthropic/claude-3-5-haiku-latest": "ANTHROPIC_API_KEY is not set",
        f"scripted:{tmp_path / 'missing.toml'}": "cannot read model script",
    }
    for model, needle in cases.items():
        with pytest.raises(ModelConfigError, match=needle):
            await gw.complete(ASK, context=CTX, model=model)
    (tmp_path / "bad.toml").write_text("rules = [")
    with pytest.raises(ModelConfigError, match="does not parse"):
        gw.prepare(f"scripted:{tmp_path / 'bad.toml'}")


async def test_unreachable_api_base_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    base = f"http://127.0.0.1:{_closed_port()}/v1"
    gw = Gateway("openai/any", api_base=base, timeout=5, max_retries=1, backoff_base=0.001)
    with pytest.raises(ModelConfigError, match=f"cannot reach {base}"):
        await gw.complete(ASK, context=CTX)


async def test_a_failing_delta_callback_surfaces_as_itself(tmp_path):
    gw = gateway(tmp_path, "[[rules]]\nreply = 'one two three'\n")

    def broken(_: str) -> None:
        raise KeyError("the caller's own bug")

    with pytest.raises(KeyError, match="the caller's own bug"):
        await gw.complete(ASK, context=CTX, on_delta=broken)
