"""The model gateway: every model call in Podium goes through here.

- `complete`: a chat completion, streamed (deltas to a callback) or plain, with
  tool calls, usage, cost and latency.
- `structured`: a validated pydantic instance, with one repair round.
- `embed`: embedding vectors.
Retries with backoff and jitter on transient failures, a per-call deadline,
budgets reserved before each call (calls in flight count) and usage recorded after it.

Hosted and endpoint models are called over litellm, imported lazily (see _litellm.py), so
importing this module is cheap; Podium's own models (scripted, local) are called directly
(own_calls.py) and never import litellm.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import inspect
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from podium.domain import Usage
from podium.llm import json_modes, models, own_calls
from podium.llm.errors import UNKNOWN_MODEL_HINT, config_error, final_error, unreachable
from podium.llm.keys import find_secret, required_secrets
from podium.llm.own_provider import Call
from podium.llm.retry import Backoff, CallTimeout, is_retryable
from podium.llm.structured import json_schema, repair_messages, schema_instructions, validate
from podium.llm.types import (
    BudgetGuard,
    CallContext,
    CallResult,
    ChatMessage,
    DeltaCallback,
    ModelConfigError,
    Reservation,
    StructuredOutputError,
    ToolCall,
    estimate_prompt_tokens,
)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Vectors = list[list[float]]

LOCAL_MODEL = "smollm2"
_UNPRICED: set[str] = set()  # models litellm has no price for: skip the lookup next time


@dataclass(frozen=True)
class _Target:
    name: str  # canonical user-facing model string
    provider_model: str  # what its provider calls it: the litellm string, a script's key, smollm2
    kind: str  # models.kind(): local | scripted | litellm
    api_base: str | None = None
    api_key: str | None = None


def _reserve(guard: BudgetGuard | None, tokens: int, usd: float
             ) -> contextlib.AbstractAsyncContextManager[Reservation | None]:
    return guard.reserve(tokens, usd) if guard is not None else contextlib.nullcontext()


class _Shown:
    """What the caller has already seen of a streamed reply, so a retried stream is not shown twice."""

    def __init__(self, on_delta: DeltaCallback) -> None:
        self.on_delta = on_delta
        self.text = ""
        self.attempt_text = ""
        self.diverged = False

    def restart(self) -> None:
        self.attempt_text = ""
        self.diverged = False

    async def feed(self, delta: str) -> None:
        self.attempt_text += delta
        if self.diverged:
            out = delta
        elif self.text.startswith(self.attempt_text):
            return  # a retry replaying what is already on screen
        elif self.attempt_text.startswith(self.text):
            out = self.attempt_text[len(self.text) :]
        else:  # a retry that says something else: start it on a new line
            self.diverged, out = True, "\n" + self.attempt_text
        self.text += out
        try:
            result = self.on_delta(out)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # the caller's bug, not a model failure: never retried or renamed
            raise _CallbackFailed(exc) from exc


class _CallbackFailed(Exception):
    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


class Gateway:
    def __init__(
        self,
        default_model: str = "local",
        *,
        api_base: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
    ) -> None:
        self.default_model = default_model
        self.api_base = api_base
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = Backoff(base=backoff_base, cap=backoff_cap)
        # Scripted runners are per gateway, so two gateways never share rule counters.
        self._uid = uuid.uuid4().hex[:8]
        self._targets: dict[str, _Target] = {}
        self._resolved: dict[str, str] = {}
        self._script_tools: dict[str, bool] = {}
        self._json_modes: dict[str, json_modes.JsonMode] = {}
        self._probe_lock = asyncio.Lock()

    # ------------------------------------------------------------ model strings

    def resolve(self, model: str | None) -> str:
        """The effective model string: the given one or the default, in canonical form
        ("local", "scripted:/absolute/path.toml", or the litellm string unchanged)."""
        key = model or self.default_model
        name = self._resolved.get(key)
        if name is None:
            name = self._resolved[key] = models.canonical(key)
        return name

    def prepare(self, model: str | None = None) -> str:
        """Check a model string now (provider, API key, script file, local model installed).

        Raises ModelConfigError with a fix-it hint; returns the resolved model string.
        """
        return self._target(model).name

    async def _atarget(self, model: str | None) -> _Target:
        """_target without blocking the event loop: the first use of a hosted model imports litellm
        (about 3 s), of a script loads it, so it runs in a thread."""
        target = self._targets.get(self.resolve(model))
        return target if target is not None else await asyncio.to_thread(self._target, model)

    def _target(self, model: str | None) -> _Target:
        name = self.resolve(model)
        target = self._targets.get(name)
        if target is None:
            target = self._make_target(name)
            self._targets[name] = target
        return target

    def _make_target(self, name: str) -> _Target:
        kind = models.kind(name)
        if kind == "local":
            from podium.llm.local_model import get_local_model, model_path

            model_path()
            if importlib.util.find_spec("llama_cpp") is None:
                raise ModelConfigError("llama-cpp-python is not installed: install it with `make run`")
            get_local_model().warm()  # starts loading in its worker; the first call waits for it
            return _Target(name, LOCAL_MODEL, kind)
        if kind == "scripted":
            from podium.llm.scripted_provider import register_script

            key = hashlib.sha1(f"{self._uid}:{name}".encode()).hexdigest()[:12]
            register_script(models.script_path(name), key)
            return _Target(name, key, kind)
        from podium.llm._litellm import get

        litellm = get()
        try:
            _, provider, _, _ = litellm.get_llm_provider(name, api_base=self.api_base)
        except Exception:
            raise ModelConfigError(f"unknown model {name!r}: {UNKNOWN_MODEL_HINT}") from None
        api_key = None
        try:
            missing = litellm.validate_environment(model=name, api_base=self.api_base).get("missing_keys", [])
        except Exception:
            missing = []
        conventional = f"{provider.upper()}_API_KEY"
        if conventional in os.environ and not os.environ[conventional].strip():
            missing = [*missing, conventional]  # litellm counts an empty variable as set
        for secret in dict.fromkeys(required_secrets(missing)):
            value, _ = find_secret(secret)
            if value:
                api_key = value
            elif self.api_base:
                api_key = "none"  # OpenAI-compatible local servers usually ignore the key
            else:
                raise ModelConfigError(
                    f"{name}: {secret} is not set; export {secret}=... or store it with "
                    f"`podium vault set {secret}` (OS keyring)"
                )
        return _Target(name, name, kind, self.api_base, api_key)

    def supports_tools(self, model: str | None = None) -> bool:
        """Native tool calls? False for the local model; the script decides for scripted models."""
        name = self.resolve(model)
        kind = models.kind(name)
        if kind == "local":
            return False
        if kind == "scripted":
            from podium.llm.scripted import load_script

            if name not in self._script_tools:  # read the file only: no litellm import on the event loop
                self._script_tools[name] = load_script(models.script_path(name)).supports_tools
            return self._script_tools[name]
        from podium.llm._litellm import get

        try:
            return bool(get().supports_function_calling(model=name))
        except Exception:
            return False

    def _supports_schema(self, target: _Target) -> bool:
        if target.kind in ("local", "scripted"):
            return True
        from podium.llm._litellm import get

        try:
            return bool(get().supports_response_schema(model=target.name))
        except Exception:
            return False

    def _needs_probe(self, target: _Target) -> bool:
        """Probe the JSON dialect of a custom endpoint, or of a model litellm does not know to take
        schemas; hosted models litellm knows keep its json_schema path."""
        return target.kind == "litellm" and (bool(target.api_base) or not self._supports_schema(target))

    async def json_mode(self, model: str | None = None, *, refresh: bool = False,
                        probe_timeout: float | None = None) -> json_modes.JsonMode:
        """How structured calls to `model` ask for JSON: probed once per (API base, model) and cached
        in the user config dir (see json_modes); `refresh` probes again. Each probe request (a few
        tokens) waits at most `probe_timeout`, by default the gateway's per-call deadline: a slow
        local server is slow for the probe too, and a probe that times out is not cached."""
        target = await self._atarget(model)
        if target.kind in ("local", "scripted"):
            mode = json_modes.GRAMMAR if target.kind == "local" else json_modes.JSON_OBJECT
            return json_modes.JsonMode(model=target.name, mode=mode, source=target.kind)
        if not await asyncio.to_thread(self._needs_probe, target):
            return json_modes.JsonMode(model=target.name, mode=json_modes.JSON_SCHEMA, source="litellm")
        async with self._probe_lock:  # concurrent structured calls wait for one probe
            known = None if refresh else self._json_modes.get(target.name)
            if known is None and not refresh:
                known = json_modes.cached(target.name, target.api_base)
            if known is None:
                found, steps = await json_modes.probe_endpoint(
                    target.provider_model, target.api_base, target.api_key,
                    timeout=probe_timeout or self.timeout)
                known = json_modes.JsonMode(
                    model=target.name, api_base=target.api_base, mode=found or json_modes.PROMPT,
                    source="probe" if found else "unprobed", probed=json_modes.today(), steps=steps)
                if found is not None:  # an inconclusive probe (server down, timeout) is never stored
                    json_modes.remember(known)
            self._json_modes[target.name] = known
        return known

    # ------------------------------------------------------------------ calls

    async def _with_retries(self, target: _Target, attempt: Callable[[int], Awaitable[T]]) -> T:
        tries = 0
        while True:
            try:
                return await attempt(tries)
            except (ModelConfigError, StructuredOutputError):
                raise
            except _CallbackFailed as exc:
                raise exc.original from None
            except Exception as exc:
                tries += 1
                setup = config_error(exc, target.name, target.api_base)
                if setup is not None:
                    raise setup from None
                if not is_retryable(exc) or tries > self.max_retries:
                    raise (
                        unreachable(target.name, target.api_base, exc) or final_error(exc, target.name, tries)
                    ) from None
                await asyncio.sleep(self.backoff.delay(tries - 1, exc))

    def _kwargs(self, target: _Target, messages: list[ChatMessage]) -> dict[str, Any]:
        """litellm's arguments for a call to a hosted model, but for the request's own parameters."""
        kwargs: dict[str, Any] = {
            "model": target.provider_model,
            "messages": messages,
            "timeout": self.timeout,
            "num_retries": 0,  # retries are ours, with our backoff
            "max_retries": 0,
        }
        if target.api_base:
            kwargs["api_base"] = target.api_base
        if target.api_key:
            kwargs["api_key"] = target.api_key
        return kwargs

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        context: CallContext,
        guard: BudgetGuard | None = None,
        model: str | None = None,
        tools: list[dict] | None = None,
        on_delta: DeltaCallback | None = None,
        max_tokens: int | None = None,
        estimated_tokens: int = 0,
        response_format: dict[str, Any] | None = None,
        temperature: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> CallResult:
        """One chat completion. Streams (calling on_delta per text delta) when on_delta is given.

        `tools` (litellm/OpenAI format) are passed only to models that support tool calls
        (see supports_tools); others get none and should be prompted to signal in text.
        """
        # Budget: the call holds its estimate (prompt + reply cap) while in flight, so concurrent
        # calls cannot all pass the check against the same remaining budget (see BudgetGuard.reserve).
        # A caller's own estimate may raise the gateway's, not lower it.
        prompt_estimate = max(estimated_tokens, estimate_prompt_tokens(messages, tools))
        estimate_usd = 0.0
        if guard is not None and guard.budget.usd is not None:  # pricing needs the resolved model
            estimate_usd = self._estimate_cost(await self._atarget(model), prompt_estimate, max_tokens or 0)
        async with _reserve(guard, prompt_estimate + (max_tokens or 0), estimate_usd) as slot:
            result = await self._complete(messages, context, model, tools, on_delta, max_tokens,
                                          response_format, temperature, extra)
            if slot is not None:
                slot.record(result.usage)
        return result

    async def _complete(
        self,
        messages: list[ChatMessage],
        context: CallContext,
        model: str | None,
        tools: list[dict] | None,
        on_delta: DeltaCallback | None,
        max_tokens: int | None,
        response_format: dict[str, Any] | None,
        temperature: float | None,
        extra: dict[str, Any] | None = None,
    ) -> CallResult:
        target = await self._atarget(model)
        params: dict[str, Any] = {}  # the request's own parameters, in OpenAI's names
        if tools and self.supports_tools(target.name):
            params["tools"] = tools
        if max_tokens:
            params["max_tokens"] = max_tokens
        if response_format:
            params["response_format"] = response_format
        if temperature is not None:
            params["temperature"] = temperature
        params.update(extra or {})  # provider-specific fields (a probed JSON dialect)
        shown = _Shown(on_delta) if on_delta is not None else None
        start = time.perf_counter()
        send = (self._own_sender(target, messages, params, context, shown) if target.kind in own_calls.KINDS
                else self._litellm_sender(target, messages, params, shown))

        # The local model cannot hang on a network and max_tokens bounds its work, but its calls
        # queue for one llama.cpp context: a deadline would count time spent waiting in line.
        deadline = None if target.kind == "local" else self.timeout

        async def attempt(_: int) -> CallResult:
            if shown is not None:
                shown.restart()
            try:
                async with asyncio.timeout(deadline):
                    return await send()
            except TimeoutError:
                raise CallTimeout(self.timeout) from None

        result = await self._with_retries(target, attempt)
        result.latency_ms = (time.perf_counter() - start) * 1000
        result.model = target.name
        return result

    @staticmethod
    def _own_sender(target: _Target, messages: list[ChatMessage], params: dict[str, Any],
                    context: CallContext, shown: _Shown | None) -> Callable[[], Awaitable[CallResult]]:
        """One attempt at a call to Podium's own model, plain or streamed to `shown`."""
        own = own_calls.provider(target.kind)
        call = Call(model=target.provider_model, messages=messages, params=params,
                    metadata=context.model_dump())  # the scripted model picks its rule by it
        if shown is None:
            return lambda: own_calls.reply(own, call)
        return lambda: own_calls.stream(own, call, shown.feed)

    def _litellm_sender(self, target: _Target, messages: list[ChatMessage], params: dict[str, Any],
                        shown: _Shown | None) -> Callable[[], Awaitable[CallResult]]:
        """One attempt at a call to a hosted model over litellm, plain or streamed to `shown`."""
        from podium.llm._litellm import get, without_success_logging

        litellm = get()
        kwargs = self._kwargs(target, messages) | params

        async def plain() -> CallResult:
            with without_success_logging():
                return self._from_response(await litellm.acompletion(**kwargs))

        if shown is None:
            return plain
        return lambda: self._stream(litellm, target, kwargs, shown)

    @staticmethod
    def _estimate_cost(target: _Target, prompt_tokens: int, completion_tokens: int) -> float:
        """What a call of this size would cost, from its provider's prices (litellm's price map for
        hosted models); 0 when the model is unpriced."""
        if target.kind in own_calls.KINDS:
            own = own_calls.provider(target.kind)
            return own_calls.cost(own, target.provider_model, prompt_tokens, completion_tokens)
        if target.provider_model in _UNPRICED:
            return 0.0
        from podium.llm._litellm import get

        try:
            return float(sum(get().cost_per_token(model=target.provider_model, prompt_tokens=prompt_tokens,
                                                  completion_tokens=completion_tokens)))
        except Exception:
            _UNPRICED.add(target.provider_model)
            return 0.0

    @staticmethod
    def _from_response(resp: Any) -> CallResult:
        choice = resp.choices[0]
        msg = choice.message
        calls = [
            ToolCall.parse(c.id, c.function.name or "", c.function.arguments or "")
            for c in msg.tool_calls or []
        ]
        u = getattr(resp, "usage", None)
        cost = (getattr(resp, "_hidden_params", None) or {}).get("response_cost") or 0.0
        usage = Usage(
            prompt_tokens=getattr(u, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(u, "completion_tokens", 0) or 0,
            cost_usd=float(cost),
            calls=1,
        )
        return CallResult(
            content=msg.content or "", tool_calls=calls, usage=usage, finish_reason=choice.finish_reason
        )

    async def _stream(
        self, litellm: Any, target: _Target, kwargs: dict[str, Any], shown: _Shown
    ) -> CallResult:
        stream = await litellm.acompletion(**kwargs, stream=True, stream_options={"include_usage": True})
        parts: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        finish: str | None = None
        prompt_tokens = completion_tokens = 0
        async for chunk in stream:
            u = getattr(chunk, "usage", None)
            if u:
                prompt_tokens = u.prompt_tokens or prompt_tokens
                completion_tokens = u.completion_tokens or completion_tokens
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            delta = choice.delta
            if delta.content:
                parts.append(delta.content)
                await shown.feed(delta.content)
            for tc in delta.tool_calls or []:
                slot = calls.setdefault(tc.index or 0, {"id": "", "name": "", "args": ""})
                slot["id"] = tc.id or slot["id"]
                if tc.function is not None:
                    slot["name"] = tc.function.name or slot["name"]
                    slot["args"] += tc.function.arguments or ""
            finish = choice.finish_reason or finish
        text = "".join(parts)
        if not prompt_tokens and not completion_tokens:  # provider sent no usage: count it ourselves
            try:
                name = target.provider_model
                prompt_tokens = litellm.token_counter(model=name, messages=kwargs["messages"])
                completion_tokens = litellm.token_counter(model=name, text=text)
            except Exception:
                pass
        cost = 0.0
        if target.provider_model not in _UNPRICED:
            try:
                cost = sum(
                    litellm.cost_per_token(
                        model=target.provider_model,
                        prompt_tokens=prompt_tokens,
                        completion_tokens=completion_tokens,
                    )
                )
            except Exception:  # not in the price map (custom servers): free as far as we know
                _UNPRICED.add(target.provider_model)
        usage = Usage(
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=cost, calls=1
        )
        tool_calls = [ToolCall.parse(c["id"], c["name"], c["args"]) for _, c in sorted(calls.items())]
        return CallResult(content=text, tool_calls=tool_calls, usage=usage, finish_reason=finish)

    async def structured(
        self,
        messages: list[ChatMessage],
        schema: type[M],
        *,
        context: CallContext,
        guard: BudgetGuard | None = None,
        model: str | None = None,
        max_tokens: int | None = None,
        estimated_tokens: int = 0,
    ) -> tuple[M, CallResult]:
        """A validated `schema` instance; one repair round on failure, else StructuredOutputError."""
        target = await self._atarget(model)
        js = json_schema(schema)
        # the dialect this endpoint enforces (probed and cached for custom servers), else prompting:
        # the schema is in the prompt either way, and the reply is extracted and validated
        mode = (await self.json_mode(target.name)).mode
        constraint = json_modes.request_params(mode, schema.__name__, js)
        msgs = _with_instructions(messages, schema_instructions(js))
        call = dict(
            context=context,
            guard=guard,
            model=target.name,
            max_tokens=max_tokens,
            estimated_tokens=estimated_tokens,
            extra=constraint,
        )
        first = await self.complete(msgs, **call)  # type: ignore[arg-type]
        value, errors = validate(first.content, schema)
        if value is not None:
            return value, first  # type: ignore[return-value]
        second = await self.complete(msgs + repair_messages(first.content, errors), **call)  # type: ignore[arg-type]
        both = second.model_copy(
            update={
                "usage": first.usage.add(second.usage),
                "latency_ms": first.latency_ms + second.latency_ms,
            }
        )
        value, errors = validate(second.content, schema)
        if value is not None:
            return value, both  # type: ignore[return-value]
        raise StructuredOutputError(
            f"{target.name}: reply is not a valid {schema.__name__} after one repair round ({errors[0]})",
            errors=errors,
            raw=second.content,
        )

    async def embed(self, texts: list[str], *, model: str | None = None) -> list[list[float]]:
        """One vector per text, in order."""
        if not texts:
            return []
        target = await self._atarget(model)
        send = (self._own_embedder(target, texts) if target.kind in own_calls.KINDS
                else self._litellm_embedder(target, texts))

        async def attempt(_: int) -> list[list[float]]:
            try:
                async with asyncio.timeout(self.timeout):
                    return await send()
            except TimeoutError:
                raise CallTimeout(self.timeout) from None

        return await self._with_retries(target, attempt)

    @staticmethod
    def _own_embedder(target: _Target, texts: list[str]) -> Callable[[], Awaitable[Vectors]]:
        own = own_calls.provider(target.kind)
        return lambda: own_calls.embed(own, target.provider_model, texts)

    def _litellm_embedder(self, target: _Target, texts: list[str]) -> Callable[[], Awaitable[Vectors]]:
        from podium.llm._litellm import get

        litellm = get()
        kwargs = self._kwargs(target, [])
        kwargs.pop("messages")
        kwargs.pop("num_retries")
        kwargs["input"] = texts

        async def send() -> list[list[float]]:
            resp = await litellm.aembedding(**kwargs)
            rows = sorted(resp.data, key=lambda d: d["index"] if isinstance(d, dict) else d.index)
            return [list(d["embedding"] if isinstance(d, dict) else d.embedding) for d in rows]

        return send


def _with_instructions(messages: list[ChatMessage], note: str) -> list[ChatMessage]:
    """Add the schema note to the system message (one system message suits small chat templates)."""
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0])
        first["content"] = f"{first.get('content') or ''}\n\n{note}".strip()
        return [first, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]
