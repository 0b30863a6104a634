"""JSON modes through the real CLI: `podium run` and `podium models --check` against a fake
OpenAI-compatible server that enforces only llama.cpp's `json_object` + `schema` form."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from podium.llm import json_modes
from tests.conftest import run_cli
from tests.integration.run_helpers import json_lines
from tests.support.openai_server import FakeOpenAIServer

PLAN = {"rationale": "collect, then write", "subtasks": [
    {"id": "t1", "agent": "researcher", "description": "Collect facts on heat pumps"},
    {"id": "t2", "agent": "writer", "description": "Write the report", "depends_on": ["t1"]},
]}
DONE = 'Done: a short answer.\n```json\n{"action": "done"}\n```'


def _reply(body: dict[str, Any], schema: dict[str, Any] | None) -> str | None:
    if schema is None:
        return DONE  # every free-text call: perspectives, subtasks (with the done signal), synthesis
    if "subtasks" in schema.get("properties", {}):
        return json.dumps(PLAN)
    return None  # probe and other structured calls: a minimal instance of their schema


@pytest.fixture
def llamacpp() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer("json_object", reply=_reply) as srv:
        yield srv


def _planning(srv: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [r for r in srv.chat_requests() if '"subtasks"' in r["messages"][0]["content"]]


def test_run_asks_a_llamacpp_style_server_for_the_plan_schema(llamacpp: FakeOpenAIServer, tmp_path) -> None:
    result = run_cli("run", "Write a short report on heat pumps", "--team", "research",
                     "--model", "openai/smollm2", "--api-base", llamacpp.base_url, "--yes", "--json",
                     env={"OPENAI_API_KEY": ""})
    assert result.returncode == 0, result.stderr[-2000:]
    planning = _planning(llamacpp)
    assert planning, "no planning request reached the server"
    rf = planning[0].get("response_format")
    assert rf is not None and rf["type"] == "json_object" and "subtasks" in rf["schema"]["properties"]
    events = json_lines(result.stdout)
    proposed = [e for e in events if e["type"] == "plan.proposed"]
    assert proposed and proposed[0]["fallback"] is False
    assert proposed[0]["plan"]["rationale"] == PLAN["rationale"]  # the leader's plan, not the fallback
    assert events[-1]["type"] == "run.status" and events[-1]["status"] == "completed"
    # probed once for the run (json_schema ignored, json_object enforced), then cached
    assert json_modes.cached("openai/smollm2", llamacpp.base_url).mode == "json_object"  # type: ignore[union-attr]
    probes = [r for r in llamacpp.chat_requests() if r["messages"] == json_modes.PROBE_MESSAGES]
    assert len(probes) == 2


def test_models_check_says_which_json_mode(llamacpp: FakeOpenAIServer) -> None:
    args = ("models", "--check", "--model", "openai/smollm2", "--api-base", llamacpp.base_url)
    shown = run_cli(*args)
    assert shown.returncode == 0, shown.stderr
    assert "json mode: response_format json_object + schema (probed now)" in shown.stdout
    listed = json.loads(run_cli(*args, "--json").stdout)["models"][0]
    assert listed["json_mode"] == "json_object" and "cached in" in listed["json_mode_detail"]
    sent = len(llamacpp.chat_requests())
    again = json.loads(run_cli(*args, "--json", "--reprobe").stdout)["models"][0]
    assert again["json_mode_detail"].endswith("(probed now)")
    assert len(llamacpp.chat_requests()) == sent + 1 + 2  # the test call, then two probe requests
    bad = run_cli("models", "--reprobe")
    assert bad.returncode == 2 and "--reprobe goes with --check" in bad.stderr
    assert "Traceback" not in bad.stderr
