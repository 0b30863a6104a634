"""Image generation through litellm (`litellm.aimage_generation`): which model, where, one call.

The model is chosen like the chat model, first found wins:
  $PODIUM_IMAGE_MODEL > `image_model` in the project's podium.toml > the user's podium.toml > none.
Its endpoint: $PODIUM_IMAGE_API_BASE > `image_api_base` (project, then user podium.toml) > the
project's chat endpoint ($PODIUM_API_BASE > `api_base` in a podium.toml) > the provider's default.
The provider's key (e.g. OPENAI_API_KEY) comes from the environment or the vault
(`podium vault set OPENAI_API_KEY`), never from a file. No image model configured: no images.

What comes back is PNG bytes: a provider's base64 answer is decoded, a URL answer is downloaded
(httpx), anything that is not a PNG is refused with a message that says what it was.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from podium.errors import PodiumError
from podium.llm.config import config_files, first_setting, resolve_api_base
from podium.llm.keys import find_secret, required_secrets

IMAGE_MODEL_ENV = "PODIUM_IMAGE_MODEL"
IMAGE_API_BASE_ENV = "PODIUM_IMAGE_API_BASE"
TIMEOUT_S = 180.0  # image models take tens of seconds; a hung provider must not hold a subtask forever
MAX_RETRIES = 1  # one more try on a dropped connection or a 5xx; a refused key fails at once
DOWNLOAD_LIMIT = 32 * 1024 * 1024  # bytes of a URL answer read at most
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Signatures of what providers return instead, to say what was refused.
_OTHER_FORMATS = ((b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"RIFF", "WebP"), (b"BM", "BMP"))


class ImageError(PodiumError):
    """An image could not be made (rejected key, unreachable provider, not a PNG): the agent is told why."""


class ImageConfig(BaseModel):
    """The configured image model: a litellm model string, its endpoint, where the choice came from."""

    model_config = ConfigDict(frozen=True)

    model: str
    api_base: str | None = None
    source: str  # "env PODIUM_IMAGE_MODEL" or a podium.toml's path


class GeneratedImage(BaseModel):
    model_config = ConfigDict(frozen=True)

    png: bytes
    model: str
    revised_prompt: str | None = None  # the provider's rewrite of the prompt, when it says
    cost_usd: float = 0.0  # as litellm priced the call (0 when it has no price for the model)


def resolve_image(project: Path | None = None) -> ImageConfig | None:
    """The image model configured for a project (its file's folder), or None.
    ModelConfigError: a podium.toml that does not parse or holds a bad value."""
    files = config_files(project)  # read_config checks image_model / image_api_base are non-empty strings
    chosen = first_setting(IMAGE_MODEL_ENV, "image_model", files)
    if chosen is None:
        return None
    model, source = chosen
    base = first_setting(IMAGE_API_BASE_ENV, "image_api_base", files)
    # No image endpoint: the project's chat endpoint, as the issue asks.
    api_base = base[0] if base is not None else resolve_api_base(project=project)
    return ImageConfig(model=model, api_base=api_base, source=source)


def _api_key(litellm: Any, config: ImageConfig) -> str | None:
    """The provider's key from the environment or the vault, as the chat gateway finds it."""
    try:
        _, provider, _, _ = litellm.get_llm_provider(config.model, api_base=config.api_base)
    except Exception:
        raise ImageError(f"unknown image model {config.model!r} ({config.source}): use a litellm model "
                         "string with its provider, e.g. openai/gpt-image-1 or openai/dall-e-3") from None
    try:
        missing = litellm.validate_environment(model=config.model, api_base=config.api_base)
        names = list(missing.get("missing_keys", []))
    except Exception:
        names = []
    conventional = f"{provider.upper()}_API_KEY"
    if conventional in os.environ and not os.environ[conventional].strip():
        names.append(conventional)  # litellm counts an empty variable as set
    key: str | None = None
    for name in dict.fromkeys(required_secrets(names)):
        value, _ = find_secret(name)
        if value:
            key = value
        elif config.api_base:
            key = "none"  # an OpenAI-compatible local server usually ignores the key
        else:
            raise ImageError(f"image model {config.model}: {name} is not set; export {name}=... or store it "
                             f"with `podium vault set {name}`")
    return key


async def generate_image(config: ImageConfig, prompt: str, size: str | None = None) -> GeneratedImage:
    """One image through litellm, as PNG bytes; ImageError with a one-line reason when it fails."""
    from podium.llm import _litellm

    # The import (about 3 s the first time) and litellm's set-up stay off the event loop.
    litellm = await asyncio.to_thread(_litellm.get)
    api_key = _api_key(litellm, config)
    kwargs: dict[str, Any] = {"model": config.model, "prompt": prompt, "n": 1, "timeout": TIMEOUT_S,
                              "drop_params": True,  # a provider without `size` has it dropped
                              "max_retries": MAX_RETRIES}
    kwargs.update(_format_params(config.model))
    if size:
        kwargs["size"] = size
    if config.api_base:
        kwargs["api_base"] = config.api_base
    if api_key:
        kwargs["api_key"] = api_key
    try:
        response = await asyncio.wait_for(litellm.aimage_generation(**kwargs), TIMEOUT_S + 5)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        raise ImageError(f"image model {config.model} timed out after {TIMEOUT_S:g}s") from None
    except Exception as exc:  # litellm maps provider failures to many types: one line for the agent
        raise ImageError(_explain(litellm, exc, config)) from None
    items = list(getattr(response, "data", None) or [])
    if not items:
        raise ImageError(f"image model {config.model} returned no image")
    first = items[0]
    b64 = _field(first, "b64_json")
    url = _field(first, "url")
    revised = _field(first, "revised_prompt")
    if b64:
        data = _decode(b64, config.model)
    elif url:
        data = await _download(url, config.model)
    else:
        raise ImageError(f"image model {config.model} returned neither image bytes nor a URL")
    check_png(data, config.model)
    return GeneratedImage(png=data, model=config.model, revised_prompt=revised or None,
                          cost_usd=_response_cost(response))


def _response_cost(response: Any) -> float:
    """What litellm says the call cost (its `response_cost`; None when it has no price): 0 unknown."""
    hidden = getattr(response, "_hidden_params", None) or {}
    try:
        cost = float(hidden.get("response_cost") or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return cost if cost > 0 else 0.0


async def estimate_cost(config: ImageConfig, size: str | None = None) -> float:
    """What one image of `size` should cost by litellm's price map, before it is asked for (a
    budget is checked against it); 0 when litellm has no price for the model."""
    from podium.llm import _litellm

    litellm = await asyncio.to_thread(_litellm.get)
    from litellm.cost_calculator import default_image_cost_calculator

    try:
        _, provider, _, _ = litellm.get_llm_provider(config.model, api_base=config.api_base)
        wanted = size if size and size != "auto" else None  # None: the calculator's 1024x1024
        cost = float(default_image_cost_calculator(model=config.model, custom_llm_provider=provider,
                                                   n=1, size=wanted))
    except Exception:  # not in the price map (a local model, a new one): nothing to check against
        return 0.0
    return cost if cost > 0 else 0.0


def _format_params(model: str) -> dict[str, str]:
    """Ask for PNG bytes, not a link that expires, in the words each OpenAI family knows (OpenAI refuses
    a parameter a model does not take; other providers answer as they do and both forms are read)."""
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith("dall-e"):
        return {"response_format": "b64_json"}
    if name.startswith("gpt-image"):
        return {"output_format": "png"}
    return {}


def check_png(data: bytes, model: str) -> None:
    """PNG bytes pass; anything else is refused, naming what it was (no image library here to convert)."""
    if data.startswith(PNG_SIGNATURE):
        return
    kind = next((name for magic, name in _OTHER_FORMATS if data.startswith(magic)), None)
    what = f"a {kind} image" if kind else f"{len(data)} bytes that are not an image Podium knows"
    raise ImageError(f"image model {model} returned {what}, not a PNG; choose a model that returns PNG "
                     "(e.g. openai/gpt-image-1 or openai/dall-e-3)")


def _field(item: Any, name: str) -> str | None:
    value = item.get(name) if isinstance(item, dict) else getattr(item, name, None)
    return str(value) if value else None


def _decode(b64: str, model: str) -> bytes:
    if b64.startswith("data:"):  # a data URL: data:image/png;base64,....
        b64 = b64.split(",", 1)[-1]
    try:
        return base64.b64decode(b64, validate=False)
    except (binascii.Error, ValueError):
        raise ImageError(f"image model {model} returned base64 that does not decode") from None


async def _download(url: str, model: str) -> bytes:
    if url.startswith("data:"):
        return _decode(url, model)
    import httpx

    try:
        async with httpx.AsyncClient(timeout=60, follow_redirects=True) as client, \
                client.stream("GET", url) as resp:
            if resp.status_code >= 400:
                raise ImageError(f"image model {model}: downloading the image failed: "
                                 f"HTTP {resp.status_code}")
            chunks, size = [], 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > DOWNLOAD_LIMIT:
                    raise ImageError(f"image model {model}: the image is over {DOWNLOAD_LIMIT // 2**20} MiB")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise ImageError(f"image model {model}: could not download the image: {_first_line(exc)}") from None
    return b"".join(chunks)


def _explain(litellm: Any, exc: BaseException, config: ImageConfig) -> str:
    """A failed call in one line, naming the fix where it is the user's setup (as the chat gateway does)."""
    from podium.llm.errors import config_error, unreachable

    model, base = config.model, config.api_base
    problem = config_error(exc, model, base) or unreachable(model, base, exc)
    if problem is not None:
        return f"image {problem}"
    if isinstance(exc, litellm.ContentPolicyViolationError):
        return f"image model {config.model} refused the prompt (content policy): {_first_line(exc)}"
    if isinstance(exc, litellm.RateLimitError):
        return f"image model {config.model} is rate-limited or out of quota: {_first_line(exc)}"
    return f"image model {config.model} failed: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    lines = str(getattr(exc, "message", None) or exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text.removeprefix("litellm.")[:300]
