"""Run a command in a workspace: timeout, output cap, clean environment, no network.

The child gets a fresh environment built from a short allow-list, so API
keys and tokens in Podium's own environment never reach it. Where the OS
allows (root, or unprivileged user namespaces), the command runs in a new
network namespace with only a downed loopback: it cannot reach any host.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Variables a build or test command needs; nothing else is inherited.
SAFE_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "SHELL", "USER", "LOGNAME")
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 600.0
OUTPUT_CAP = 16_000


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None  # None: killed on timeout
    output: str  # stdout and stderr interleaved, capped
    truncated: bool
    timed_out: bool
    isolated: bool  # ran without network


@functools.cache
def network_isolation() -> tuple[str, ...] | None:
    """The argv prefix that cuts the network off, or None when the OS will not allow it."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return None
    candidates: list[tuple[str, ...]] = [(unshare, "-n")] if os.geteuid() == 0 else []
    candidates.append((unshare, "-r", "-n"))
    for prefix in candidates:
        try:
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    return None


def clean_env(workspace: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in SAFE_ENV if k in os.environ}
    # Podium's own interpreter first, so `python` and `pytest` are the ones installed with it.
    path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{path}"
    env["HOME"] = str(workspace)
    env["TMPDIR"] = str(workspace / ".tmp")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = str(workspace)
    env.setdefault("LANG", "C.UTF-8")
    env.update(extra or {})
    return env


async def run_command(
    command: str,
    workspace: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    output_cap: int = OUTPUT_CAP,
    allow_network: bool = False,
) -> CommandResult:
    """Run `command` through /bin/sh in `workspace`; never raises for the command's own failure."""
    (workspace / ".tmp").mkdir(parents=True, exist_ok=True)
    prefix = () if allow_network else (network_isolation() or ())
    proc = await asyncio.create_subprocess_exec(
        *prefix,
        "/bin/sh",
        "-c",
        command,
        cwd=workspace,
        env=clean_env(workspace),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a timeout kills children too
    )
    chunks: list[bytes] = []
    total = 0

    async def read() -> None:
        # Keep reading to the end even past the cap: a full pipe would block the child.
        nonlocal total
        assert proc.stdout is not None
        while block := await proc.stdout.read(65536):
            if total < output_cap:
                chunks.append(block[: output_cap - total])
            total += len(block)

    reader = asyncio.create_task(read())
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        timed_out = True
        _kill_group(proc.pid)
        await proc.wait()
    except asyncio.CancelledError:
        _kill_group(proc.pid)
        raise
    try:
        await asyncio.wait_for(reader, 5)
    except TimeoutError:
        reader.cancel()  # a grandchild kept the pipe open; we have what we need
    output = b"".join(chunks).decode("utf-8", errors="replace")
    return CommandResult(
        exit_code=None if timed_out else proc.returncode,
        output=output,
        truncated=total > output_cap,
        timed_out=timed_out,
        isolated=bool(prefix),
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
