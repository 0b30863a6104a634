"""Which JSON-constraint dialect a model endpoint enforces: probed once, cached in the user config dir.

Dialects, strictest first (each one what some server enforces):

- ``json_schema``: ``response_format={"type": "json_schema", "json_schema": {...}}`` (OpenAI, llama.cpp's
  C++ server, LM Studio);
- ``json_object``: ``response_format={"type": "json_object", "schema": ...}`` (llama-cpp-python's server);
- ``guided_json``: ``extra_body={"guided_json": ...}`` (vLLM);
- ``format``: ``format=<schema>`` (Ollama);
- ``prompt``: none is enforced: the schema in the prompt, JSON extraction and one repair round.

The probe proves enforcement, not acceptance: it asks "Say hello." with a schema whose only valid
reply names a token the model is never told, so a dialect counts only when the reply validates.
The local and scripted models and hosted models that litellm knows to take schemas are not probed.
The cache (``json_modes.json``) holds the API base, model, dialect and date, never a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from podium.llm.gateway import Gateway

JSON_SCHEMA = "json_schema"
JSON_OBJECT = "json_object"
GUIDED_JSON = "guided_json"
OLLAMA_FORMAT = "format"
PROMPT = "prompt"
GRAMMAR = "grammar"  # the embedded model: a llama.cpp grammar, in-process
DIALECTS = (JSON_SCHEMA, JSON_OBJECT, GUIDED_JSON, OLLAMA_FORMAT)

LABELS = {
    JSON_SCHEMA: 'response_format json_schema',
    JSON_OBJECT: 'response_format json_object + schema',
    GUIDED_JSON: 'guided_json (vLLM)',
    OLLAMA_FORMAT: 'format (Ollama)',
    PROMPT: 'prompting only (schema in the prompt, extraction, one repair)',
    GRAMMAR: 'llama.cpp grammar (embedded model)',
}

CACHE_FILE = "json_modes.json"
PROBE_TOKEN = "quokka-7193"
PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"podium_probe": {"type": "string", "enum": [PROBE_TOKEN]}},
    "required": ["podium_probe"],
    "additionalProperties": False,
}
PROBE_MESSAGES = [{"role": "user", "content": "Say hello."}]


class Step(BaseModel):
    """One probe request: enforced (the reply validated), ignored (it answered with something else),
    rejected (an HTTP error status) or unreachable (no answer: the probe is inconclusive)."""

    mode: str
    outcome: str
    detail: str = ""


class JsonMode(BaseModel):
    model: str
    api_base: str | None = None
    mode: str
    source: str  # probe | cache | litellm | local | scripted | unprobed (probe inconclusive)
    probed: str | None = None  # ISO date of the probe
    steps: list[Step] = []

    def summary(self) -> str:
        label = LABELS.get(self.mode, self.mode)
        if self.source == "probe":
            return f"{label} (probed now)"
        if self.source == "cache":
            return f"{label} (probed {self.probed}, cached in {cache_path()})"
        if self.source == "litellm":
            return f"{label} (litellm knows this model takes schemas; not probed)"
        if self.source == "unprobed":
            why = next((s.detail for s in self.steps if s.outcome == "unreachable"), "no answer")
            return f"{label} for now: probe inconclusive ({why}), not cached"
        return label


def request_params(mode: str, name: str, schema: dict[str, Any], *, strict: bool = False) -> dict[str, Any]:
    """The litellm keyword arguments that ask for `schema` in dialect `mode` ({} for prompting)."""
    if mode == JSON_SCHEMA:
        spec: dict[str, Any] = {"name": name, "schema": schema}
        if strict:
            spec["strict"] = True
        return {"response_format": {"type": "json_schema", "json_schema": spec}}
    if mode in (JSON_OBJECT, GRAMMAR):
        return {"response_format": {"type": "json_object", "schema": schema}}
    if mode == GUIDED_JSON:
        return {"extra_body": {"guided_json": schema}}
    if mode == OLLAMA_FORMAT:
        return {"format": schema}
    return {}


# ------------------------------------------------------------------ the probe


def enforced(text: str) -> bool:
    """Does a probe reply validate against PROBE_SCHEMA? (Only a constrained decoder gets it right.)"""
    try:
        data = json.loads(text.strip())
    except ValueError:
        return False
    return isinstance(data, dict) and set(data) == {"podium_probe"} and data["podium_probe"] == PROBE_TOKEN


def _classify(exc: BaseException) -> Step:
    import litellm

    from podium.llm.retry import CallTimeout, unwrap

    exc = unwrap(exc)
    status = getattr(exc, "status_code", None)
    brief = (str(getattr(exc, "message", None) or exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    no_answer = isinstance(exc, CallTimeout | TimeoutError | litellm.Timeout | ConnectionError) or (
        isinstance(exc, litellm.APIConnectionError) and not isinstance(status, int)
    )
    if no_answer or status in (408, 429, 502, 503, 504) or "Connection error" in brief:
        return Step(mode="", outcome="unreachable", detail=brief)
    return Step(mode="", outcome="rejected", detail=f"HTTP {status}: {brief}" if status else brief)


async def probe_endpoint(litellm_model: str, api_base: str | None, api_key: str | None, *,
                         timeout: float = 15.0, max_tokens: int = 24) -> tuple[str | None, list[Step]]:
    """Try each dialect, strictest first, at most one request each. Returns (the first dialect whose reply
    validated, or PROMPT when the server answered every request without enforcing any; None when a
    request got no answer: the probe is inconclusive) and what each request did."""
    from podium.llm._litellm import get

    litellm = get()
    steps: list[Step] = []
    for mode in DIALECTS:
        kwargs: dict[str, Any] = {
            "model": litellm_model, "messages": PROBE_MESSAGES, "max_tokens": max_tokens, "temperature": 0,
            "timeout": timeout, "num_retries": 0, "max_retries": 0,
            **request_params(mode, "podium_probe", PROBE_SCHEMA, strict=True),
        }
        if api_base:
            kwargs["api_base"] = api_base
        if api_key:
            kwargs["api_key"] = api_key
        try:
            async with asyncio.timeout(timeout + 1):
                resp = await litellm.acompletion(**kwargs)
            text = resp.choices[0].message.content or ""
        except Exception as exc:
            step = _classify(exc)
            steps.append(step.model_copy(update={"mode": mode}))
            if step.outcome == "unreachable":
                return None, steps
            continue
        if enforced(text):
            steps.append(Step(mode=mode, outcome="enforced"))
            return mode, steps
        steps.append(Step(mode=mode, outcome="ignored", detail=text.strip()[:80]))
    return PROMPT, steps


# ------------------------------------------------------------------ the cache


def cache_path() -> Path:
    from podium.config import user_config_dir

    return user_config_dir() / CACHE_FILE


def cache_key(model: str, api_base: str | None) -> str:
    return f"{(api_base or '').rstrip('/')} {model}".strip()


def _load() -> dict[str, Any]:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cached(model: str, api_base: str | None) -> JsonMode | None:
    entry = _load().get(cache_key(model, api_base))
    if not isinstance(entry, dict) or entry.get("mode") not in (*DIALECTS, PROMPT):
        return None
    return JsonMode(model=model, api_base=api_base, mode=entry["mode"], source="cache",
                    probed=entry.get("probed"))


def remember(result: JsonMode) -> None:
    """Store a conclusive probe: API base, model, dialect and date (never a key). Best effort."""
    data = _load()
    data[cache_key(result.model, result.api_base)] = {
        "api_base": result.api_base, "model": result.model, "mode": result.mode, "probed": result.probed,
    }
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".json_modes.")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable config dir costs a probe next time, nothing else


def forget(model: str, api_base: str | None) -> None:
    data = _load()
    if data.pop(cache_key(model, api_base), None) is not None:
        with contextlib.suppress(OSError):
            cache_path().write_text(json.dumps(data, indent=1, sort_keys=True))


def today() -> str:
    return dt.date.today().isoformat()


# ------------------------------------------------------------------ for commands (models --check, doctor)


async def describe(model: str, api_base: str | None = None, *, refresh: bool = False,
                   timeout: float = 30.0, gateway: Gateway | None = None) -> JsonMode:
    """Which JSON mode `model` (at `api_base`) uses for structured calls, probing the endpoint when it
    has not been probed (or when `refresh`). Raises podium.llm.types.ModelConfigError for a model
    that cannot be used at all (unknown provider, missing key). Each probe request waits at most
    `timeout` seconds; an unanswered one leaves mode "prompt" with source "unprobed", not cached."""
    from podium.llm.gateway import Gateway

    gw = gateway or Gateway(model, api_base=api_base, max_retries=0)
    return await gw.json_mode(model, refresh=refresh, probe_timeout=timeout)
