"""llama.cpp's own OpenAI-compatible server (llama-cpp-python's `llama_cpp.server`) on 127.0.0.1,
in a subprocess, with the embedded SmolLM2 model, for tests against a real local server.

Run as a script it is `python -m llama_cpp.server ...` with llama.cpp's extra buffer types off:
they pick the AMX matrix multiply on CPUs that have it, which crashes on this model, and a test
must not depend on the CPU it runs on.
"""

from __future__ import annotations

import os
import runpy
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def llama_server(model_path: str, *, threads: int = 1, wait: float = 90.0) -> Iterator[str]:
    """Start the server, wait (bounded) until it answers, yield its base URL, stop it."""
    port = free_port()
    cmd = [sys.executable, __file__, "--model", model_path, "--host", "127.0.0.1", "--port", str(port),
           "--n_threads", str(threads), "--n_ctx", "4096", "--verbose", "False"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + wait
        while True:
            if proc.poll() is not None:
                tail = (proc.stderr.read() if proc.stderr else "")[-800:]
                raise RuntimeError(f"llama.cpp server exited ({proc.returncode}): {tail}")
            try:
                if httpx.get(base + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama.cpp server did not answer within {wait:g} s")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _main() -> None:
    import llama_cpp.llama_cpp as low

    default = low.llama_model_default_params

    def without_extra_bufts():  # type: ignore[no-untyped-def]
        params = default()
        params.use_extra_bufts = False
        return params

    low.llama_model_default_params = without_extra_bufts
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _main()
