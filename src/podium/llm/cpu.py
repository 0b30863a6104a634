"""What this CPU can do, and which llama.cpp options are safe on it.

llama.cpp picks "extra buffer types" for the weights by CPU: on x86 with AMX
it repacks them for the AMX matrix multiply, which crashes (SIGSEGV in
`ggml_backend_amx_mul_mat`) on the shipped Q4_1 SmolLM2. The decision is
made from the CPU's flags, not from seeing the crash, so it holds on a
machine nobody has tried; the worker process catches whatever else a
native library does on a CPU nobody has seen.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from pydantic import BaseModel

EXTRA_BUFTS_ENV = "PODIUM_LOCAL_EXTRA_BUFTS"
# Features worth showing a person: SIMD levels llama.cpp uses, and the one that crashes.
SHOWN = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
    "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "sve", "i8mm",
)


class CpuInfo(BaseModel):
    machine: str
    model: str
    cores: int
    flags: frozenset[str]

    @property
    def shown_flags(self) -> list[str]:
        return [f for f in SHOWN if f in self.flags]

    @property
    def has_amx(self) -> bool:
        return any(f.startswith("amx") for f in self.flags)


def parse_cpuinfo(text: str, machine: str = "x86_64", cores: int = 1) -> CpuInfo:
    """/proc/cpuinfo: x86 lists `flags`, arm64 lists `Features`; the first CPU speaks for all."""
    flags: set[str] = set()
    model = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key in ("flags", "features") and not flags:
            flags = set(value.split())
        elif key in ("model name", "cpu model", "hardware") and not model:
            model = value.strip()
    return CpuInfo(machine=machine, model=model or machine, cores=cores, flags=frozenset(flags))


def read_cpu(path: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    machine = platform.machine() or "unknown"
    cores = os.cpu_count() or 1
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: no flags to go on
        return CpuInfo(machine=machine, model=platform.processor() or machine, cores=cores,
                       flags=frozenset())
    return parse_cpuinfo(text, machine, cores)


class ExtraBuftsDecision(BaseModel):
    enabled: bool
    reason: str


def extra_bufts_decision(cpu: CpuInfo, override: str | None = None) -> ExtraBuftsDecision:
    """Keep llama.cpp's weight repacking (it speeds some quantisations up) except where it
    crashes: CPUs with AMX. `$PODIUM_LOCAL_EXTRA_BUFTS=0|1` overrides either way."""
    value = (override or "").strip().lower()
    if value in ("0", "off", "false", "no"):
        return ExtraBuftsDecision(enabled=False, reason=f"off by {EXTRA_BUFTS_ENV}")
    if value in ("1", "on", "true", "yes"):
        return ExtraBuftsDecision(enabled=True, reason=f"on by {EXTRA_BUFTS_ENV}")
    if cpu.has_amx:
        return ExtraBuftsDecision(
            enabled=False, reason="off: this CPU has AMX, whose llama.cpp kernel crashes on Q4_1"
        )
    return ExtraBuftsDecision(enabled=True, reason="on: no AMX on this CPU")


def decide_extra_bufts() -> ExtraBuftsDecision:
    return extra_bufts_decision(read_cpu(), os.environ.get(EXTRA_BUFTS_ENV))
