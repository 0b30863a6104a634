"""Is a model usable from here? Cheap checks first, a real call only when asked."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from pydantic import BaseModel

from podium.llm import models
from podium.llm.types import CallContext, LLMError, ModelConfigError


class Reachability(BaseModel):
    model: str
    ok: bool
    detail: str
    json_mode: str | None = None  # how structured calls ask for JSON (with --check): see json_modes
    json_mode_detail: str | None = None


def _ping(url: str, timeout: float = 2.0) -> str | None:
    """None when something answers HTTP at url, else the reason it does not."""
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/models", timeout=timeout)
    except httpx.HTTPError as exc:
        return f"cannot reach {url} ({type(exc).__name__})"
    return None


def _local_detail() -> str:
    from podium.llm.local_model import GGUF_FILE, model_path

    size = model_path().stat().st_size / 2**20
    try:
        llama = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        raise ModelConfigError("llama-cpp-python is not installed: install it with `make run`") from None
    return f"{GGUF_FILE} ({size:.0f} MiB) on llama-cpp-python {llama}, offline"


async def check(model: str, api_base: str | None = None, *, call: bool = False,
                reprobe: bool = False) -> Reachability:
    """Configuration checks (model string, key, script, model file, server answering);
    with call=True also one tiny real completion and the JSON mode structured calls use
    (probed once per API base and model and cached; `reprobe` probes again)."""
    from podium.llm.gateway import Gateway

    gateway = Gateway(model, api_base=api_base, timeout=20.0, max_retries=0)
    name = gateway.resolve(model)
    kind = models.kind(name)
    try:
        if kind == "local":
            detail = _local_detail()
        elif kind == "scripted":
            from podium.llm.scripted import load_script

            script = load_script(models.script_path(name))
            detail = f"script {Path(models.script_path(name)).name}: {len(script.rules)} rules, offline"
        else:
            gateway.prepare(name)  # unknown provider / missing key raise here
            detail = "API key found; provider not contacted (use --check for a real call)"
            base = api_base
            if base is None and name.startswith("ollama"):
                base = "http://localhost:11434"
            if base:
                problem = _ping(base)
                if problem:
                    return Reachability(model=name, ok=False, detail=problem)
                detail = f"{base} answers"
        if call:
            result = await gateway.complete(
                [{"role": "user", "content": "Say OK."}], context=CallContext(phase="check"), max_tokens=4
            )
            detail += f"; test call ok in {result.latency_ms:.0f} ms"
            mode = await gateway.json_mode(name, refresh=reprobe)
            return Reachability(model=name, ok=True, detail=detail, json_mode=mode.mode,
                                json_mode_detail=mode.summary())
    except (ModelConfigError, LLMError) as exc:
        return Reachability(model=name, ok=False, detail=str(exc).removeprefix(f"{name}: "))
    return Reachability(model=name, ok=True, detail=detail)
