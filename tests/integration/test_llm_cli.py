"""`podium ask` and `podium models` through the real command, as a user runs them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import run_cli

SCRIPT = """
input_cost_per_mtok = 3.0
output_cost_per_mtok = 15.0
[[rules]]
match = "hello"
reply = "Hello from the scripted model, {agent}."
"""


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "demo.toml"
    path.write_text(SCRIPT)
    return path


def test_ask_streams_the_reply_and_reports_usage(script):
    out = run_cli("ask", "Say hello", "--model", f"scripted:{script}")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Hello from the scripted model, assistant.\n"
    footer = out.stderr.strip()
    assert footer.startswith(f"[scripted:{script}") and "completion tokens" in footer and " ms" in footer
    assert "$0.000" in footer and footer.count("\n") == 0  # the footer is all stderr holds: no litellm noise


def test_ask_json_and_model_from_config_file(script, tmp_path):
    (tmp_path / "podium.toml").write_text(f'model = "scripted:{script}"\n')
    out = run_cli("ask", "hello there", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["content"] == "Hello from the scripted model, assistant."
    assert data["source"] == str(tmp_path / "podium.toml")
    usage = data["usage"]
    assert usage["cost_usd"] == pytest.approx(
        usage["prompt_tokens"] * 3e-6 + usage["completion_tokens"] * 15e-6
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "nonsense-model"], "unknown model 'nonsense-model'"),
        (["--model", "openai/gpt-4o-mini"], "OPENAI_API_KEY is not set"),
        (["--model", "scripted:broken.toml"], "does not parse"),
        (
            ["--model", "openai/any", "--api-base", "http://127.0.0.1:{port}/v1"],
            "cannot reach http://127.0.0.1:",
        ),
    ],
)
def test_bad_model_input_is_one_line_and_exit_2(tmp_path, args, needle):
    (tmp_path / "broken.toml").write_text("[[rules]\nreply = 'x'\n")
    args = [a.replace("{port}", str(_closed_port())) for a in args]
    out = run_cli("ask", "hi", *args, env={"OPENAI_API_KEY": ""})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and needle in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == ""


class _OpenAICompatible(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible server (like llama.cpp's or vLLM's), to exercise --api-base."""

    requests: list[dict] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        words = ["Served ", "by ", "the ", "compatible ", "server."]
        usage = {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for w in words:
                chunk = {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            end = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": body["model"],
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": usage,
            }
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            return
        reply = {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "".join(words)},
                }
            ],
            "usage": usage,
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_ask_any_openai_compatible_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAICompatible)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/v1"
        out = run_cli(
            "ask", "Say hello", "--model", "openai/any-model", "--api-base", base, env={"OPENAI_API_KEY": ""}
        )
        plain = run_cli(
            "ask",
            "Say hello",
            "--model",
            "openai/any-model",
            "--api-base",
            base,
            "--no-stream",
            env={"OPENAI_API_KEY": ""},
        )
    finally:
        server.shutdown()
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Served by the compatible server.\n" == plain.stdout
    assert "9 prompt + 5 completion tokens" in out.stderr
    streamed, whole = _OpenAICompatible.requests[-2:]
    assert streamed["path"] == "/v1/chat/completions" and streamed["model"] == "any-model"
    assert streamed["stream"] is True and "stream" not in whole
    assert streamed["messages"] == [{"role": "user", "content": "Say hello"}]


def test_models_shows_each_agent_its_source_and_reachability(script):
    out = run_cli("models", "--team", "software", env={"PODIUM_MODEL": f"scripted:{script}"})
    assert out.returncode == 0, out.stderr
    assert "from env PODIUM_MODEL (leader)" in out.stdout
    assert f"ok    scripted:{script}: script demo.toml: 1 rules" in out.stdout

    missing = run_cli("models", "--model", "openai/gpt-4o-mini", "--json", env={"OPENAI_API_KEY": ""})
    assert missing.returncode == 2 and "not usable from here: openai/gpt-4o-mini" in missing.stderr
    report = json.loads(missing.stdout)
    assert report["default"] == {"model": "openai/gpt-4o-mini", "source": "flag --model"}
    assert report["models"][0]["ok"] is False and "OPENAI_API_KEY" in report["models"][0]["detail"]


def test_version_never_imports_litellm_or_llama():
    code = (
        "import sys, podium.cli as c\ntry:\n    c.main(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('litellm', 'llama_cpp', 'openai', 'podium.llm.gateway')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.local_model
def test_ask_on_the_local_model():
    out = run_cli("ask", "Say hello in five words.", "--model", "local", "--max-tokens", "16")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() and "[local · " in out.stderr and "tok/s" in out.stderr


@pytest.mark.parametrize("hosted", [False, True])
def test_first_call_does_not_stall_the_event_loop(script, hosted, monkeypatch):
    """litellm takes seconds to import on first use; a hosted model's first call imports it off the
    event loop (a TUI would freeze), and the scripted model never imports it. A fresh process
    measures the longest gap between 10 ms ticks during a first call."""
    from tests.support.openai_server import FakeOpenAIServer

    code = """
import asyncio, sys, time
from podium.llm.gateway import Gateway
from podium.llm.types import CallContext

async def main(model, api_base):
    gaps, done, ticking = [], False, asyncio.Event()
    async def tick():
        last = time.perf_counter()
        while not done:  # the measurement: a 10 ms tick until the call has returned
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
            ticking.set()
    ticker = asyncio.create_task(tick())
    await asyncio.wait_for(ticking.wait(), 10)  # the ticker is running before the call starts
    result = await Gateway(model, api_base=api_base or None).complete(
        [{"role": "user", "content": "hello"}], context=CallContext(), on_delta=lambda d: None)
    done = True
    await ticker
    print(result.content, "litellm" in sys.modules, round(max(gaps), 3))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    with FakeOpenAIServer() as server:
        model, base = ("openai/smollm2", server.base_url) if hosted else (f"scripted:{script}", "")
        out = subprocess.run([sys.executable, "-c", code, model, base], capture_output=True, text=True,
                             timeout=120)
    assert out.returncode == 0, out.stderr
    content, imported, gap = out.stdout.strip().rsplit(" ", 2)
    if hosted:
        assert content == "Hello! How can I help you today?" and imported == "True"
    else:
        assert content == "Hello from the scripted model, assistant." and imported == "False"
    assert float(gap) < 2.0  # the import alone takes about 3 s here
