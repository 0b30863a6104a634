"""JSON modes: the probe finds the dialect a server enforces, caches it, and structured calls use it."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, Field

from podium.llm import json_modes
from podium.llm.gateway import Gateway
from podium.llm.structured import json_schema, validate
from podium.llm.types import CallContext
from tests.support.openai_server import FakeOpenAIServer

MODEL = "openai/smollm2"
SECRET = "sk-test-never-stored-1234"


class Verdict(BaseModel):
    ok: bool
    reason: str = Field(max_length=40)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FakeOpenAIServer]:
    dialect, rejects = request.param if isinstance(request.param, tuple) else (request.param, False)
    with FakeOpenAIServer(dialect, rejects=rejects) as srv:
        yield srv


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_enforced_accepts_only_the_probe_token() -> None:
    token = json_modes.PROBE_TOKEN
    assert json_modes.enforced(json.dumps({"podium_probe": token}))
    assert json_modes.enforced(f' {{"podium_probe":"{token}"}}\n')
    assert not json_modes.enforced('{"podium_probe": "hello"}')
    assert not json_modes.enforced(json.dumps({"podium_probe": token, "x": 1}))
    assert not json_modes.enforced("Hello! " + json_modes.PROBE_TOKEN)
    assert not json_modes.enforced("")


@pytest.mark.parametrize("server", [*json_modes.DIALECTS, None], indirect=True)
async def test_probe_picks_the_dialect_the_server_enforces(server: FakeOpenAIServer) -> None:
    mode = await Gateway(MODEL, api_base=server.base_url).json_mode()
    expected = server.dialect or json_modes.PROMPT
    assert (mode.mode, mode.source) == (expected, "probe")
    # one request per dialect, strictest first, stopping at the first that is enforced
    tried = json_modes.DIALECTS[: json_modes.DIALECTS.index(expected) + 1] if server.dialect else \
        json_modes.DIALECTS
    assert [s.mode for s in mode.steps] == list(tried)
    assert len(server.chat_requests()) == len(tried)
    assert all(r["max_tokens"] <= 32 for r in server.chat_requests())
    entry = json.loads(json_modes.cache_path().read_text())[f"{server.base_url} {MODEL}"]
    assert entry["mode"] == expected and entry["probed"] == json_modes.today()
    assert SECRET not in json_modes.cache_path().read_text()


@pytest.mark.parametrize("server", ["json_object"], indirect=True)
async def test_second_time_the_cache_answers_without_a_request(server: FakeOpenAIServer) -> None:
    await Gateway(MODEL, api_base=server.base_url).json_mode()
    sent = len(server.chat_requests())
    again = await Gateway(MODEL, api_base=server.base_url).json_mode()
    assert (again.mode, again.source) == ("json_object", "cache")
    assert len(server.chat_requests()) == sent
    assert "cached in" in again.summary()
    fresh = await json_modes.describe(MODEL, server.base_url, refresh=True)
    assert fresh.source == "probe" and len(server.chat_requests()) == 2 * sent


@pytest.mark.parametrize("server", [("json_object", True)], indirect=True)
async def test_a_rejected_form_steps_down(server: FakeOpenAIServer) -> None:
    mode = await Gateway(MODEL, api_base=server.base_url).json_mode()
    steps = [(s.mode, s.outcome) for s in mode.steps]
    assert steps == [("json_schema", "rejected"), ("json_object", "enforced")]
    assert "400" in mode.steps[0].detail


async def test_a_server_that_is_down_is_not_cached_as_prompting() -> None:
    base = f"http://127.0.0.1:{_closed_port()}/v1"
    mode = await json_modes.describe(MODEL, base, timeout=3)
    assert (mode.mode, mode.source) == (json_modes.PROMPT, "unprobed")
    assert [s.outcome for s in mode.steps] == ["unreachable"]  # stops at the first unanswered request
    assert "not cached" in mode.summary()
    assert json_modes.cached(MODEL, base) is None
    assert not json_modes.cache_path().exists()


async def test_hosted_models_litellm_knows_are_not_probed() -> None:
    mode = await json_modes.describe("openai/gpt-4o-mini")
    assert (mode.mode, mode.source) == ("json_schema", "litellm") and mode.steps == []
    assert not json_modes.cache_path().exists()


async def test_local_and_scripted_models_are_not_probed(tmp_path) -> None:
    (tmp_path / "s.toml").write_text("seed = 1\n")
    mode = await json_modes.describe(f"scripted:{tmp_path / 's.toml'}")
    assert (mode.mode, mode.source) == ("json_object", "scripted")


async def test_a_corrupt_cache_file_is_ignored_and_replaced() -> None:
    json_modes.cache_path().parent.mkdir(parents=True, exist_ok=True)
    json_modes.cache_path().write_text("{not json")
    with FakeOpenAIServer("guided_json") as srv:
        assert (await json_modes.describe(MODEL, srv.base_url)).mode == "guided_json"
    assert json_modes.cached(MODEL, srv.base_url).mode == "guided_json"  # type: ignore[union-attr]


@pytest.mark.parametrize("server", ["json_object"], indirect=True)
async def test_structured_sends_the_probed_form(server: FakeOpenAIServer) -> None:
    gateway = Gateway(MODEL, api_base=server.base_url)
    value, _ = await gateway.structured([{"role": "user", "content": "Judge it."}], Verdict,
                                        context=CallContext(phase="review"))
    assert isinstance(value, Verdict)
    last = server.chat_requests()[-1]
    assert last["response_format"] == {"type": "json_object", "schema": json_schema(Verdict)}
    probes = len(server.chat_requests()) - 1
    await gateway.structured([{"role": "user", "content": "Again."}], Verdict,
                             context=CallContext(phase="review"))
    assert len(server.chat_requests()) == probes + 2  # probed once per gateway, not per call


@pytest.mark.parametrize("server", ["guided_json", "format"], indirect=True)
async def test_structured_sends_provider_fields(server: FakeOpenAIServer) -> None:
    gateway = Gateway(MODEL, api_base=server.base_url)
    await gateway.structured([{"role": "user", "content": "Judge it."}], Verdict,
                             context=CallContext(phase="review"))
    last = server.chat_requests()[-1]
    assert last[server.dialect] == json_schema(Verdict)  # type: ignore[index]
    assert "response_format" not in last


@pytest.mark.parametrize("server", [None], indirect=True)
async def test_structured_on_a_server_that_enforces_nothing_prompts(server: FakeOpenAIServer) -> None:
    server.reply = lambda body, schema: '```json\n{"ok": true, "reason": "fine"}\n```'
    gateway = Gateway(MODEL, api_base=server.base_url)
    value, _ = await gateway.structured([{"role": "user", "content": "Judge it."}], Verdict,
                                        context=CallContext(phase="review"))
    assert value == Verdict(ok=True, reason="fine")
    last = server.chat_requests()[-1]
    assert not {"response_format", "guided_json", "format"} & set(last)
    assert '"reason"' in last["messages"][0]["content"]  # the schema is in the prompt


@pytest.mark.parametrize("server", ["json_schema"], indirect=True)
async def test_streaming_through_the_fake_server(server: FakeOpenAIServer) -> None:
    seen: list[str] = []
    result = await Gateway(MODEL, api_base=server.base_url).complete(
        [{"role": "user", "content": "hi"}], context=CallContext(phase="ask"), on_delta=seen.append)
    assert result.content == "Hello! How can I help you today?" and len(seen) > 1
    assert server.chat_requests()[-1]["stream"] is True and result.usage.completion_tokens > 0


def test_a_raw_newline_inside_a_string_still_validates() -> None:
    # what SmolLM2 under llama.cpp's JSON grammar really sent: the grammar lets control characters
    # into strings, which strict JSON refuses
    value, errors = validate('{ "ok" : true, "reason" : "#01EB9F}\n```" }', Verdict)
    assert errors == [] and value == Verdict(ok=True, reason="#01EB9F}\n```")
