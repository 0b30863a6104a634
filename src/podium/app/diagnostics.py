"""`podium doctor`: everything Podium depends on, checked from here, one finding each.

Each check returns a Finding: ok, a warning (works, but worse than it
could), or a problem (something a user needs does not work). Native code
runs only in the local model's worker process, so a crash there is a
finding, not the end of the doctor.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

Level = Literal["ok", "warn", "problem"]


class Finding(BaseModel):
    check: str
    level: Level
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)


class Report(BaseModel):
    findings: list[Finding]

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "problem"]


def check_cpu() -> Finding:
    from podium.llm.cpu import decide_extra_bufts, read_cpu

    cpu = read_cpu()
    decision = decide_extra_bufts()
    flags = " ".join(cpu.shown_flags) or "no SIMD flags reported"
    return Finding(
        check="cpu",
        level="ok",
        summary=f"{cpu.model} ({cpu.machine}, {cpu.cores} cores): {flags}; "
        f"llama.cpp extra buffer types {decision.reason}",
        details={"machine": cpu.machine, "model": cpu.model, "cores": cpu.cores,
                 "flags": cpu.shown_flags, "amx": cpu.has_amx, "extra_bufts": decision.enabled},
    )


def _llama_features(system_info: str) -> list[str]:
    """'CPU : SSE3 = 1 | AVX = 1 | AMX_INT8 = 0 | ...' -> the features that are on."""
    on = []
    for part in system_info.replace("\n", "|").split("|"):
        name, sep, value = part.rpartition("=")
        if sep and value.strip() == "1":
            on.append(name.split(":")[-1].strip())
    return on


async def check_local_model(tokens: int = 32) -> list[Finding]:
    """The llama.cpp build and the model's load time and speed, all measured in the worker."""
    from podium.errors import PodiumError
    from podium.llm.local_model import get_local_model, model_path

    try:
        path = model_path()
    except PodiumError as exc:
        return [Finding(check="local model", level="problem", summary=str(exc))]
    local = get_local_model()
    try:
        info = await local.info()
        load_ms = await local.load()
        run = await local.direct(
            [{"role": "user", "content": "Name three colours."}], max_tokens=tokens, temperature=0.0
        )
    except PodiumError as exc:
        tail = local.stderr_tail()
        return [Finding(check="local model", level="problem",
                        summary=f"{exc}{'; last output: ' + tail[-1] if tail else ''}")]
    features = _llama_features(info["system_info"])
    build = Finding(
        check="llama.cpp",
        level="ok",
        summary=f"llama-cpp-python {info['llama_cpp_python']}, CPU backend "
        f"({', '.join(features[:12]) or 'no features reported'})"
        f"{', GPU offload' if info['gpu_offload'] else ''}; {info['threads']} threads "
        f"(PODIUM_LOCAL_THREADS to change); worker pid {info['pid']}",
        details=info,
    )
    speed = run["tokens_per_s"]
    model = Finding(
        check="local model",
        level="ok" if speed >= 10 else "warn",
        summary=f"{path.name}: loaded in {load_ms:.0f} ms; {run['tokens']} tokens at {speed:.0f} tokens/s"
        f" (first after {run['ttft_ms']:.0f} ms)"
        + ("" if speed >= 10 else "; slow: busy cores? try PODIUM_LOCAL_THREADS=1"),
        details={"load_ms": load_ms, **run},
    )
    local.close()
    return [build, model]


async def check_project(path: Path) -> Finding:
    from podium.errors import PodiumError
    from podium.store import ProjectStore
    from podium.store.archive import describe

    if not path.exists():
        return Finding(check="project", level="ok",
                       summary=f"{path}: not created yet (the first command that needs it creates it)")
    try:
        store = await ProjectStore.open(path, readonly=True)
    except PodiumError as exc:
        return Finding(check="project", level="problem", summary=f"{path}: {exc}")
    try:
        facts = await describe(store)
    finally:
        await store.close()
    level: Level = "ok" if facts.integrity == "ok" else "problem"
    return Finding(
        check="project",
        level=level,
        summary=f"{path}: schema v{facts.schema_version}, {facts.journal_mode}, integrity {facts.integrity}, "
        f"{facts.runs} runs, {facts.size_bytes / 1024:.0f} KiB",
        details=facts.model_dump(),
    )


def check_vault() -> Finding:
    from podium.secrets.vault import Vault, VaultError

    try:
        vault = Vault()
    except VaultError as exc:
        return Finding(check="vault", level="problem", summary=str(exc))
    keyring = vault.backend.startswith("OS keyring")
    return Finding(
        check="vault",
        level="ok",
        summary=f"secrets in {vault.backend}"
        + ("" if keyring else " (no OS keyring here; set PODIUM_VAULT_PASSPHRASE to derive its key)"),
        details={"backend": vault.backend},
    )


def check_shell() -> Finding:
    from podium.tools.sandbox import landlock_abi
    from podium.tools.shell import network_isolation, sandboxed

    prefix = network_isolation()
    abi = landlock_abi() if sandboxed() else 0
    parts: list[str] = []
    level: Level = "ok"
    if abi:
        parts.append(f"in a Landlock box (ABI {abi}): workspace read-write, system read-only, "
                     "home and config unreachable; CPU, memory, process and file-size limits")
    else:
        level = "warn"
        parts.append("with the user's full filesystem access (no Landlock in this kernel)")
    if prefix is not None:
        parts.append(f"without network ({Path(prefix[0]).name} {' '.join(prefix[1:])})")
    elif abi >= 4:
        parts.append("with TCP denied by Landlock (unshare not allowed: UDP still open)")
    else:
        level = "warn"
        parts.append("with network (unshare not allowed here)")
    return Finding(check="shell", level=level, summary="run_command runs " + "; ".join(parts),
                   details={"prefix": list(prefix or ()), "landlock_abi": abi})


async def check_model(model: str | None, api_base: str | None, project: Path) -> Finding:
    """The model a run would use from here: configured, reachable, and how it is asked for JSON."""
    from podium.llm import models
    from podium.llm.config import resolve_api_base, resolve_model
    from podium.llm.probe import check

    choice = resolve_model(flag=model, project=project)
    base = resolve_api_base(api_base, project)
    if models.kind(choice.model) == "local":
        return Finding(check="model", level="ok",
                       summary=f"local (from {choice.source}): the embedded model, JSON by llama.cpp grammar")
    result = await check(choice.model, base)
    summary = f"{result.model} (from {choice.source}): {result.detail}"
    json_mode = await _json_mode(result.model, base) if result.ok else None
    if json_mode:
        summary += f"; JSON: {json_mode}"
    return Finding(check="model", level="ok" if result.ok else "problem", summary=summary,
                   details={"model": result.model, "api_base": base, "json_mode": json_mode})


async def _json_mode(model: str, api_base: str | None) -> str | None:
    """How structured output is asked of this endpoint (probed once, then cached)."""
    from podium.errors import PodiumError
    from podium.llm.json_modes import describe

    try:
        return (await describe(model, api_base)).summary()
    except PodiumError as exc:  # a probe failure is part of the answer, not a crash
        return f"unknown ({exc})"


async def run_checks(project: Path, *, model: str | None = None, api_base: str | None = None,
                     local: bool = True) -> Report:
    findings = [check_cpu()]
    if local:
        findings += await check_local_model()
    findings.append(await check_model(model, api_base, project))
    findings.append(await check_project(project))
    findings.append(check_vault())
    findings.append(check_shell())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cores = os.cpu_count() or 1
    if load > cores:
        findings.append(Finding(check="load", level="warn",
                                summary=f"load average {load:.1f} on {cores} cores: other work slows the "
                                "local model; PODIUM_LOCAL_THREADS=1 helps"))
    return Report(findings=findings)
