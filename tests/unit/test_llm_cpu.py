"""Which CPUs get llama.cpp's extra buffer types: decided from the flags, never from a crash."""

from __future__ import annotations

import pytest

from podium.llm.cpu import extra_bufts_decision, parse_cpuinfo, read_cpu

AVX2_ONLY = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2
"""
AVX512 = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni
"""
SAPPHIRE_RAPIDS = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: fpu sse4_2 avx avx2
"""
ARM64 = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm asimddp i8mm
CPU implementer\t: 0x41
"""


@pytest.mark.parametrize(
    ("text", "machine", "enabled", "amx"),
    [
        (AVX2_ONLY, "x86_64", True, False),
        (AVX512, "x86_64", True, False),
        (SAPPHIRE_RAPIDS, "x86_64", False, True),
        (ARM64, "aarch64", True, False),
        ("", "x86_64", True, False),  # nothing to go on: llama.cpp's own choice
    ],
)
def test_extra_buffer_types_are_off_only_where_amx_crashes(text, machine, enabled, amx):
    cpu = parse_cpuinfo(text, machine, cores=2)
    assert cpu.has_amx is amx
    decision = extra_bufts_decision(cpu)
    assert decision.enabled is enabled
    assert ("crashes" in decision.reason) is amx


def test_the_first_cpu_speaks_for_all_and_flags_are_read_per_architecture():
    intel = parse_cpuinfo(SAPPHIRE_RAPIDS)
    assert {"amx_tile", "amx_int8", "avx512f"} <= intel.flags and intel.model.endswith("8488C")
    arm = parse_cpuinfo(ARM64, "aarch64")
    assert {"asimd", "asimddp", "i8mm"} <= arm.flags
    assert arm.shown_flags == ["asimd", "asimddp", "i8mm"]


@pytest.mark.parametrize(("value", "enabled"), [("0", False), ("off", False), ("1", True), ("on", True)])
def test_the_environment_overrides_the_decision_either_way(value, enabled):
    for text in (AVX2_ONLY, SAPPHIRE_RAPIDS):
        decision = extra_bufts_decision(parse_cpuinfo(text), value)
        assert decision.enabled is enabled and "PODIUM_LOCAL_EXTRA_BUFTS" in decision.reason


def test_a_machine_without_proc_cpuinfo_still_gets_a_decision(tmp_path):
    cpu = read_cpu(tmp_path / "missing")
    assert cpu.flags == frozenset() and cpu.cores >= 1
    assert extra_bufts_decision(cpu).enabled
