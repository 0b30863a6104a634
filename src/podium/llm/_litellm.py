"""The one place litellm is imported: lazily, offline, quiet.

litellm takes about 3 s to import, fetches a price map and starts a retry
thread that prints to stderr unless told otherwise, so nothing imports it
at module level; callers use `get()` inside functions. Only hosted and
endpoint models (and web search, images) need it: Podium's own models are
called directly (own_calls.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType

_lock = threading.Lock()
_module: ModuleType | None = None


def _quiet_logging() -> None:
    # litellm logs warnings (e.g. from register_model) straight to stderr, which garbles a TUI.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "httpcore"):
        log = logging.getLogger(name)
        log.handlers[:] = [logging.NullHandler()]
        log.setLevel(logging.CRITICAL)
        log.propagate = False


def get() -> ModuleType:
    """Import and configure litellm once."""
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is not None:
            return _module
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
        os.environ.setdefault("LITELLM_LOG", "CRITICAL")
        # pydantic warns about litellm's TypedDicts on first use; that is litellm's business.
        warnings.filterwarnings("ignore", message=".*ReadOnly.*qualifier", category=UserWarning)
        warnings.filterwarnings("ignore", module=r"litellm(\..*)?$")
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm.set_verbose = False
        litellm.drop_params = True  # providers ignore params they do not support
        # No callbacks at all: nothing (prompts included) is sent to any logger or service.
        litellm.callbacks = []
        litellm.success_callback = []
        litellm.failure_callback = []
        litellm.num_retries = 0  # the gateway owns retries
        _quiet_logging()
        _warm_up(litellm)
        _module = litellm
        return litellm


@contextlib.contextmanager
def without_success_logging() -> Iterator[None]:
    """A call made inside skips litellm's per-call success logging.

    Podium registers no callbacks (see get()), yet after every call litellm builds a
    standard logging payload on the event loop (about 1 ms of CPU) that nothing reads.
    litellm skips it for its own internal calls, marked by this context variable. The
    response, its usage and its cost are unaffected; failures are still mapped and raised.
    If a litellm release drops the variable, calls simply log again.
    """
    try:
        from litellm._internal_context import is_internal_call
    except ImportError:  # pragma: no cover - depends on the litellm release
        yield
        return
    token = is_internal_call.set(True)
    try:
        yield
    finally:
        is_internal_call.reset(token)


def _warm_up(litellm: ModuleType) -> None:
    """One mock call, plain and streamed: litellm imports more on its first call. The gateway
    calls get() in a worker thread, so this happens there instead of stalling the event loop."""
    try:
        asyncio.get_running_loop()
        return  # called on an event loop's thread: warming up here would block it
    except RuntimeError:
        pass
    messages = [{"role": "user", "content": "warm-up"}]

    async def calls() -> None:
        await litellm.acompletion(model="gpt-4o-mini", messages=messages, mock_response="ok")
        stream = await litellm.acompletion(
            model="gpt-4o-mini", messages=messages, mock_response="ok", stream=True
        )
        async for _ in stream:
            pass

    with contextlib.suppress(Exception):  # only an optimisation
        asyncio.run(calls())
