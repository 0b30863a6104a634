"""Run a command in a workspace: timeout, output cap, clean environment, no network, a box.

The child gets a fresh environment built from a short allow-list, so API
keys and tokens in Podium's own environment never reach it. Where the OS
allows (root, or unprivileged user namespaces), the command runs in a new
network namespace with only a downed loopback: it cannot reach any host.
On Linux it also runs in the sandbox of `podium.tools.sandbox` (Landlock:
the workspace read-write, the system read-only, nothing else; resource
limits; no capabilities). What could not be applied is in the result.
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
from dataclasses import dataclass, field
from pathlib import Path

from podium.tools.sandbox import BoxStatus, Cgroup, Limits, launcher_argv, release

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
    isolated: bool  # ran without network (a network namespace, or Landlock denying TCP)
    box: BoxStatus = field(default_factory=BoxStatus)  # what the sandbox applied

    @property
    def notes(self) -> list[str]:
        """What this command was not protected by, in words for the agent (empty: all of it)."""
        notes = [] if self.isolated else ["network not isolated"]
        if not self.box.filesystem:
            notes.append("filesystem not confined")
        return notes


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


def sandboxed() -> bool:
    """Whether commands go through the sandbox launcher (Linux; it reports what it applied)."""
    return sys.platform.startswith("linux")


async def run_command(
    command: str,
    workspace: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    output_cap: int = OUTPUT_CAP,
    allow_network: bool = False,
    protect: tuple[Path, ...] = (),
    limits: Limits | None = None,
    read: tuple[Path, ...] = (),
) -> CommandResult:
    """Run `command` through /bin/sh in `workspace`; never raises for the command's own failure.

    `protect`: paths the command must never reach even if they sit under an allowed
    directory (the project file); the home and config directories always are.
    `read`: paths the box lets it read besides the system (a worktree's git folder in the
    user's repository, see worktree_access).
    """
    (workspace / ".tmp").mkdir(parents=True, exist_ok=True)
    prefix = () if allow_network else (network_isolation() or ())
    box: list[str] = []
    cgroup: Cgroup | None = None
    status_r, status_w = os.pipe() if sandboxed() else (-1, -1)
    if status_w >= 0:
        limits = limits or Limits(cpu_seconds=int(timeout) + 1)
        cgroup = Cgroup.make(limits.processes)
        box = launcher_argv(
            workspace.resolve(),
            protect=protect,
            deny_tcp=not allow_network,
            limits=limits,
            status_fd=status_w,
            cgroup=cgroup,
            read=read,
        )
    try:
        proc = await asyncio.create_subprocess_exec(
            *prefix,
            *box,
            "/bin/sh",
            "-c",
            command,
            cwd=workspace,
            env=clean_env(workspace),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a timeout kills children too
            pass_fds=tuple(fd for fd in (status_w, cgroup.wait_r if cgroup else -1) if fd >= 0),
        )
    except BaseException:
        if cgroup is not None:
            cgroup.abandon()
        if status_r >= 0:
            os.close(status_r)
        raise
    finally:
        if status_w >= 0:
            os.close(status_w)  # the launcher holds the only other end
    try:
        if cgroup is not None:
            cgroup.spawned()
            # The move overlaps the launcher's start; it waits for the word before going on.
            try:
                await asyncio.to_thread(cgroup.join, proc.pid)
            except asyncio.CancelledError:
                _kill_group(proc.pid)
                raise
        return await _collect(proc, timeout, output_cap, isolated=bool(prefix), status_fd=status_r)
    finally:
        if cgroup is not None:
            await asyncio.shield(asyncio.to_thread(release, cgroup.path))
        if status_r >= 0:
            os.close(status_r)


async def _collect(
    proc: asyncio.subprocess.Process, timeout: float, output_cap: int, *, isolated: bool, status_fd: int
) -> CommandResult:
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
    box = BoxStatus()
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        timed_out = True
        _kill_group(proc.pid)
        await proc.wait()
    except asyncio.CancelledError:
        _kill_group(proc.pid)
        raise
    # The launcher has exited or exec'd by now, so its status lines are all in the pipe.
    box = _read_status(status_fd)
    if box.cgroup:
        # Anything still running in its cgroup (a fork bomb's leftovers) ends with the command.
        await asyncio.to_thread(release, box.cgroup)
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
        isolated=isolated or box.tcp_denied,
        box=box,
    )


def _read_status(fd: int) -> BoxStatus:
    if fd < 0:
        return BoxStatus()
    data = b""
    os.set_blocking(fd, False)  # never wait on a launcher that is being killed
    with contextlib.suppress(OSError):
        while block := os.read(fd, 4096):
            data += block
    return BoxStatus.parse(data)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
