"""Podium's own models (scripted, local) are called directly: a process that uses only them never
imports litellm (about 3 s); a hosted model in the same process still goes over litellm."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.integration.run_helpers import write_script
from tests.support.openai_server import FakeOpenAIServer

SCRIPT = """
supports_tools = true
input_cost_per_mtok = 1.0
output_cost_per_mtok = 2.0
[[rules]]
times = 1
fault = "rate_limit"
[[rules]]
match = "notes"
reply = "Reading them."
tool_calls = [{ name = "read_file", arguments = { path = "notes.md" } }]
[[rules]]
reply = "call {call}"
"""

TOOLS = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}]

PROGRAM = """
import asyncio, json, sys
from podium.llm.gateway import Gateway
from podium.llm.types import CallContext

def has_litellm():
    return any(m == "litellm" or m.startswith("litellm.") for m in sys.modules)

async def main(script, base, tools):
    gw = Gateway(f"scripted:{script}", api_base=base, backoff_base=0.001)  # api_base: hosted calls only
    ctx = CallContext(phase="execution", agent="writer")
    out = {}
    plain = await gw.complete([{"role": "user", "content": "hi"}], context=ctx)  # retried once
    out["plain"] = [plain.content, has_litellm()]
    shown = []
    streamed = await gw.complete([{"role": "user", "content": "my notes"}], context=ctx, tools=tools,
                                 on_delta=shown.append)
    out["streamed"] = ["".join(shown), [c.name for c in streamed.tool_calls], streamed.usage.cost_usd > 0,
                       has_litellm()]
    out["embed"] = [len(await gw.embed(["a", "b"])), has_litellm()]
    hosted = await gw.complete([{"role": "user", "content": "hi"}], context=ctx, model="openai/smollm2")
    out["hosted"] = [bool(hosted.content), has_litellm()]
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
"""


def test_own_models_never_import_litellm_and_hosted_ones_still_do(tmp_path, monkeypatch):
    script = tmp_path / "m.toml"
    script.write_text(SCRIPT)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    with FakeOpenAIServer() as server:
        out = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(PROGRAM),
             str(script), server.base_url, json.dumps(TOOLS)],
            capture_output=True, text=True, timeout=120,
        )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["plain"] == ["call 2", False]  # a rate limit, retried without litellm
    assert got["streamed"] == ["Reading them.", ["read_file"], True, False]
    assert got["embed"] == [2, False]
    assert got["hosted"] == [True, True]  # the check can fail: a hosted call does import it
    assert len(server.chat_requests()) == 1


@pytest.mark.parametrize("module", ["podium.llm.scripted_provider", "podium.llm.local_provider",
                                    "podium.llm.own_calls", "podium.llm.gateway", "podium.llm.errors"])
def test_importing_the_own_model_path_does_not_import_litellm(module):
    code = f"import sys, {module}\nprint(any(m.split('.')[0] == 'litellm' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


async def test_a_script_key_never_loaded_is_a_model_config_error():
    from podium.llm import own_calls
    from podium.llm.own_provider import Call
    from podium.llm.types import ModelConfigError

    call = Call(model="never-loaded", messages=[{"role": "user", "content": "hi"}], params={}, metadata={})
    with pytest.raises(ModelConfigError, match="scripted model 'never-loaded': model not found"):
        await own_calls.reply(own_calls.provider("scripted"), call)


def test_a_whole_scripted_run_never_imports_litellm(tmp_path):
    model = write_script(tmp_path)
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('litellm imported:', 'litellm' in sys.modules))\n"
        "import podium.cli as c\n"
        f"c.main(['run', 'Heat pumps', '--model', {model!r}, '--yes'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "FINAL REPORT" in out.stdout and "completed" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "litellm imported: False"
