"""Which failures are worth another try, and how long to wait before it."""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field

from podium.llm.types import LocalWorkerDied, ProviderFault


class CallTimeout(Exception):
    """The gateway's own per-call deadline passed (the provider may not enforce one)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no reply within {seconds:g} s")
        self.seconds = seconds


def unwrap(exc: BaseException) -> BaseException:
    """litellm wraps mid-stream failures; the original says what really happened."""
    original = getattr(exc, "original_exception", None)
    return original if isinstance(original, BaseException) else exc


def litellm_types(*names: str) -> tuple[type, ...]:
    """litellm's classes of these names, or none when litellm was never imported: then no exception
    can be one of them, and importing it (seconds) only to say so would burden every process that
    uses only Podium's own models. For isinstance(): it is False for an empty tuple."""
    module = sys.modules.get("litellm")
    if module is None:
        return ()
    # getattr: another thread may be half way through importing it
    return tuple(t for name in names if isinstance(t := getattr(module, name, None), type))


def is_retryable(exc: BaseException) -> bool:
    """Rate limits, 5xx, timeouts and dropped connections; never auth or bad requests."""
    exc = unwrap(exc)
    if isinstance(exc, CallTimeout | TimeoutError | LocalWorkerDied | ProviderFault):
        return True
    transient = litellm_types(
        "RateLimitError", "InternalServerError", "ServiceUnavailableError", "BadGatewayError", "Timeout",
        "APIConnectionError",
    )
    if isinstance(exc, transient):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


@dataclass
class Backoff:
    """Exponential backoff with jitter: attempt n waits in [d/2, d], d = min(cap, base * 2**n)."""

    base: float = 0.5
    cap: float = 8.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, exc: BaseException | None = None) -> float:
        ceiling = min(self.cap, self.base * (2**attempt))
        wait = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        hinted = _retry_after(exc)
        return min(self.cap, max(wait, hinted)) if hinted else wait


def _retry_after(exc: BaseException | None) -> float:
    """Honour a provider's Retry-After header when it sends one."""
    response = getattr(unwrap(exc), "response", None) if exc is not None else None
    headers = getattr(response, "headers", None)
    if not headers:
        return 0.0
    try:
        return max(0.0, float(headers.get("retry-after", 0) or 0))
    except (TypeError, ValueError):
        return 0.0
