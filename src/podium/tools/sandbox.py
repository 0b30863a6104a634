"""The box a shell command runs in: what it may read, write and use, and how it is put there.

Podium's side of the sandbox: it describes the box (a JSON spec), starts the
command through the `sandbox_exec.py` launcher, reads back what the launcher
could actually apply, and cleans up after the command (the pids cgroup and
whatever is still running in it). The confining itself happens in the
launcher, in the child, so Podium's own process is never restricted and no
`preexec_fn` runs in a threaded parent.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from podium.tools import sandbox_exec

LAUNCHER = Path(sandbox_exec.__file__).resolve()

# Read and execute only: what a shell, Python and the usual build tools need.
SYSTEM_DIRS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/opt",
    "/proc",
    "/sys",
    "/nix/store",
)
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
# Secrets that live under an allowed system directory: cut out of the box.
SYSTEM_SECRETS = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh",
    "/etc/ssl/private",
    "/root",
)


@dataclass(frozen=True)
class Limits:
    """Per-command resource limits (each process gets the CPU, memory and file-size ones)."""

    cpu_seconds: int = 600
    memory_bytes: int = 4 << 30  # RLIMIT_DATA: heap and private mappings, not mere reservations
    processes: int = 256
    file_bytes: int = 1 << 30  # the largest file a command may write


@dataclass
class BoxStatus:
    """What the launcher applied to one command (all False/0 when no launcher ran)."""

    landlock_abi: int = 0
    tcp_denied: bool = False
    limits: bool = False
    processes_bounded: bool = False
    capabilities_dropped: bool = False
    error: str | None = None
    cgroup: str | None = None
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def filesystem(self) -> bool:
        return self.landlock_abi > 0

    @classmethod
    def parse(cls, data: bytes) -> BoxStatus:
        """The launcher's `key=value` lines (nothing: it failed before reporting)."""
        raw: dict[str, str] = {}
        for line in data.decode("utf-8", errors="replace").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                raw[key] = value
        if not raw:
            return cls(error="the sandbox launcher reported nothing")

        def number(key: str) -> int:
            try:
                return int(raw.get(key, "0"))
            except ValueError:
                return 0

        return cls(
            landlock_abi=number("landlock"),
            tcp_denied=bool(number("tcp_denied")),
            limits=bool(number("limits")),
            processes_bounded=bool(number("processes_bounded")),
            capabilities_dropped=bool(number("capabilities_dropped")),
            error=raw.get("error") or None,
            cgroup=raw.get("cgroup") or None,
            raw=raw,
        )


@functools.cache
def landlock_abi() -> int:
    """The kernel's Landlock ABI (0: none). Asking does not restrict this process."""
    return sandbox_exec.landlock_abi()


def interpreter_dirs() -> list[str]:
    """Podium's interpreter and its packages, so `python` and `pytest` work in the box."""
    dirs = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        str(Path(sys.executable).resolve().parent.parent),
    }
    return sorted(d for d in dirs if d and d != "/")


def protected_paths(extra: tuple[Path, ...] = ()) -> list[str]:
    """Never reachable from the box, even under an allowed directory: home, config, secrets."""
    from podium.config import user_config_dir

    paths = {str(Path.home()), os.environ.get("HOME", ""), str(user_config_dir()), *SYSTEM_SECRETS}
    for path in extra:
        # A SQLite project file comes with its journal files.
        paths.update({str(path), f"{path}-wal", f"{path}-shm", f"{path}-journal"})
    return sorted(p for p in paths if p and p != "/")


def launcher_argv(
    workspace: Path,
    *,
    protect: tuple[Path, ...] = (),
    deny_tcp: bool,
    limits: Limits,
    status_fd: int = -1,
    cgroup: Cgroup | None = None,
    read: tuple[Path, ...] = (),
) -> list[str]:
    """The argv prefix that boxes whatever follows it (`-I -S`: stdlib only, fast start).
    `read`: more to read than the system (a worktree's git folder in the user's repository)."""
    argv = [sys.executable, "-I", "-S", str(LAUNCHER)]
    for root in (*SYSTEM_DIRS, *interpreter_dirs(), *map(str, read)):
        argv += ["--read", root]
    for device in DEVICES:
        argv += ["--device", device]
    argv += ["--write", str(workspace)]
    for path in protected_paths(protect):
        argv += ["--protect", path]
    if deny_tcp:
        argv.append("--deny-tcp")
    argv += ["--limits", f"{limits.cpu_seconds},{limits.memory_bytes},{limits.processes},{limits.file_bytes}"]
    if cgroup is not None:
        argv += ["--cgroup", cgroup.path, "--cgroup-fd", str(cgroup.wait_r)]
    argv += ["--status-fd", str(status_fd), "--"]
    return argv


_made = itertools.count()


class Cgroup:
    """A fresh v1 pids cgroup for one command, capped at `processes` (root only: the kernel
    ignores RLIMIT_NPROC for uid 0, and only root may make cgroups here).

    The launcher waits on `wait_r` until `join` has moved it in, so the move (an RCU grace
    period) overlaps the launcher's start instead of adding to it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.wait_r, self._wait_w = os.pipe()

    @classmethod
    def make(cls, processes: int) -> Cgroup | None:
        if not sys.platform.startswith("linux") or os.geteuid() != 0:
            return None
        root = sandbox_exec.pids_cgroup_root()
        if root is None:
            return None
        path = os.path.join(root, f"podium-{os.getpid()}-{next(_made)}")
        try:
            os.mkdir(path)
        except OSError:
            return None
        try:
            Path(path, "pids.max").write_text(str(processes))
        except OSError:
            with contextlib.suppress(OSError):
                os.rmdir(path)
            return None
        return cls(path)

    def spawned(self) -> None:
        """The launcher has its copy of the read end now."""
        os.close(self.wait_r)

    def join(self, pid: int) -> None:
        """Move the launcher in, then let it go on (told whether the move worked)."""
        ok = False
        try:
            Path(self.path, "cgroup.procs").write_text(str(pid))
            ok = True
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                os.write(self._wait_w, b"1" if ok else b"0")
            os.close(self._wait_w)

    def abandon(self) -> None:
        """The launcher never started: close both ends and remove the folder."""
        for fd in (self.wait_r, self._wait_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        release(self.path)


def release(cgroup: str | None) -> None:
    """Kill whatever the command left running in its cgroup, then remove the cgroup."""
    if not cgroup or not cgroup.startswith("/sys/fs/cgroup/") or not os.path.isdir(cgroup):
        return
    procs = Path(cgroup) / "cgroup.procs"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            pids = [int(p) for p in procs.read_text().split()]
        except (OSError, ValueError):
            return
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    with contextlib.suppress(OSError):
        os.rmdir(cgroup)
