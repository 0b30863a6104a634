"""Turn a failed call's exception (litellm's, or a fault of Podium's own models) into Podium's:
configuration mistakes vs failed calls. litellm is never imported here (see litellm_types)."""

from __future__ import annotations

from podium.llm.retry import CallTimeout, litellm_types, unwrap
from podium.llm.types import LLMError, ModelConfigError, ProviderFault, ProviderTimedOut

UNKNOWN_MODEL_HINT = (
    "use 'local', 'scripted:PATH' or a litellm model string with its provider, "
    "e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest, ollama/llama3"
)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    line = (text[0] if text else type(exc).__name__).removeprefix("litellm.").strip()
    head, sep, rest = line.partition(": ")
    if sep and rest.startswith(head + ": "):  # litellm repeats the class name
        line = rest
    return line[:200]


def config_error(exc: BaseException, model: str, api_base: str | None) -> ModelConfigError | None:
    """A ModelConfigError with a fix-it hint, or None when the failure is not the user's setup."""
    exc = unwrap(exc)
    if isinstance(exc, ModelConfigError):
        return exc
    if isinstance(exc, ProviderFault):  # a failed call, never a setup problem
        return None
    if isinstance(exc, litellm_types("AuthenticationError")):
        return ModelConfigError(
            f"{model}: the provider rejected the API key; set a valid key in the environment or keyring"
        )
    if isinstance(exc, litellm_types("PermissionDeniedError")):
        return ModelConfigError(
            f"{model}: the API key has no access to this model; check the key's permissions"
        )
    if isinstance(exc, litellm_types("NotFoundError")):
        where = f" at {api_base}" if api_base else ""
        return ModelConfigError(f"{model}: model not found{where}; check the model name (and --api-base)")
    if "Missing credentials" in str(exc) or "api_key client option must be set" in str(exc):
        return ModelConfigError(f"{model}: no API key; set the provider's key in the environment or keyring")
    if isinstance(exc, litellm_types("BadRequestError")) and "LLM Provider NOT provided" in str(exc):
        return ModelConfigError(f"unknown model {model!r}: {UNKNOWN_MODEL_HINT}")
    return None


def unreachable(model: str, api_base: str | None, exc: BaseException) -> ModelConfigError | None:
    """After retries: a connection that never opened is a setup problem (server, URL or network),
    not a failed call; callers stop rather than fail every later call the same way."""
    exc = unwrap(exc)
    if isinstance(exc, litellm_types("Timeout")) or not _connection_failed(exc):
        return None
    if api_base:
        return ModelConfigError(
            f"cannot reach {api_base} for {model}: is the server running and the URL right?"
        )
    return ModelConfigError(
        f"cannot reach the provider of {model}: no network, or a proxy or firewall in the way?"
    )


def _connection_failed(exc: BaseException) -> bool:
    """litellm reports a refused connection as APIConnectionError or as a 500 "Connection error";
    Podium's own models as a ConnectionError (types.Disconnected)."""
    refused = (ConnectionError, *litellm_types("APIConnectionError"))
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, refused) or "Connection error" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def final_error(exc: BaseException, model: str, attempts: int) -> LLMError:
    exc = unwrap(exc)
    what = "timed out" if isinstance(exc, CallTimeout | TimeoutError | ProviderTimedOut) else "failed"
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return LLMError(f"{model}: call {what}{tries}: {_first_line(exc)}")
