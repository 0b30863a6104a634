"""The launcher that puts one shell command in its box, then becomes that command.

    python -I -S sandbox_exec.py [--read DIR]... [--write DIR]... [--device PATH]...
        [--protect PATH]... [--deny-tcp] [--limits CPU,DATA,PROCS,FSIZE]
        [--status-fd FD] [--cgroup PATH --cgroup-fd FD] -- /bin/sh -c CMD

Run as a file with `-I -S` (no site-packages, no user environment), so it
imports the standard library only and starts in a few milliseconds (no json
or argparse either: they pull in `re`, 10 ms more per command). In order,
before it execs the command:

1. waits until Podium has moved it into a fresh pids cgroup (`--cgroup-fd`:
   one byte, 1 when it worked): the only process limit the kernel enforces
   for root. Podium does the move (an RCU grace period, 5-20 ms) while this
   interpreter starts, instead of after;
2. sets hard and soft resource limits: CPU seconds, data memory, processes
   (counted per user namespace, so `unshare -r` makes it a per-command
   budget), file size, no core dumps;
3. builds a Landlock ruleset (the highest ABI the kernel offers): read and
   execute on the system's directories and Podium's interpreter, read-write
   on the workspace, nothing anywhere else; the protected paths (home, the
   config dir, the project file) are cut out even where they sit under an
   allowed directory; TCP bind/connect denied when the network must be off;
   signals and abstract UNIX sockets scoped to the box;
4. sets no_new_privs and drops every capability (root keeps uid 0 but no
   power over the kernel: no modules, raw I/O, mounts or raised limits);
5. enforces the ruleset, writes `key=value` lines to the status fd (what
   was actually applied, read back by Podium for the agent and `podium
   doctor`), closes it and execs.

Nothing here fails the command: what could not be applied is reported in
the status and the command runs anyway, as the network namespace does today.
"""

from __future__ import annotations

import ctypes
import os
import resource
import stat
import sys

# Syscall numbers are the same on every Linux architecture (added after the unified table).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

# Filesystem rights, by the ABI that introduced them.
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2: link/rename across directories
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

# Rights a rule on a file (not a directory) may carry; anything else is EINVAL.
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
WRITE = (
    READ
    | FS_WRITE_FILE
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SOCK
    | FS_MAKE_FIFO
    | FS_MAKE_SYM
    | FS_REFER
    | FS_TRUNCATE
)
DEVICE_RW = FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV

PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
# NOROOT: uid 0 gains no capabilities on exec; NO_SETUID_FIXUP, KEEP_CAPS off; all locked.
SECUREBITS_LOCKED_NOROOT = 0x01 | 0x02 | 0x04 | 0x08 | 0x20
LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel struct is packed: u64 then s32
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers, 0 when it has none (or it is disabled)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        abi = _libc().syscall(
            SYS_LANDLOCK_CREATE_RULESET,
            None,
            ctypes.c_size_t(0),
            ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION),
        )
    except (OSError, AttributeError):
        return 0
    return max(int(abi), 0)


def handled_fs(abi: int) -> int:
    """Every filesystem right this ABI knows: all of them are denied unless a rule grants them."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class _Ruleset:
    def __init__(self, libc: ctypes.CDLL, abi: int, deny_tcp: bool) -> None:
        self.libc, self.abi = libc, abi
        self.handled = handled_fs(abi)
        attr = _RulesetAttr(self.handled, 0, 0)
        size = 8  # ABI 1-3 know handled_access_fs only; a longer struct with zeros is fine but older
        if abi >= 4:
            attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP if deny_tcp else 0
            size = 16
        if abi >= 6:
            attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
            size = 24
        self.fd = libc.syscall(
            SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)
        )
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "landlock_create_ruleset")

    def allow(self, path: str, access: int) -> None:
        """Grant `access` beneath `path` (a file gets only the file rights among them)."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return  # absent on this system: nothing to grant
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                access &= FILE_RIGHTS
            rule = _PathBeneathAttr(access & self.handled, fd)
            if (
                self.libc.syscall(
                    SYS_LANDLOCK_ADD_RULE,
                    ctypes.c_int(self.fd),
                    ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                    ctypes.byref(rule),
                    ctypes.c_uint32(0),
                )
                < 0
            ):
                raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
        finally:
            os.close(fd)

    def allow_except(self, root: str, access: int, holes: list[str]) -> None:
        """Grant `root` minus the holes beneath it: walk down the holes' ancestors and grant
        every sibling instead (Landlock has no deny rule, so a hole is made by not granting it).
        A hole around `root` itself does not count: a path granted by name (the workspace in
        the home directory) is meant."""
        root = os.path.realpath(root)
        self._allow_except(root, access, [h for h in holes if _within(h, root) and h != root], holes)

    def _allow_except(self, root: str, access: int, inner: list[str], holes: list[str]) -> None:
        if not inner:
            self.allow(root, access)
            return
        try:
            entries = list(os.scandir(root))
        except OSError:
            return
        # Its own listing (names only: READ_DIR beneath lets `ls` show a hole, never open it).
        self.allow(root, access & FS_READ_DIR)
        for entry in entries:
            child = entry.path
            if child in inner:
                continue
            if entry.is_symlink():
                # Follow it only where it stays clear of every hole (e.g. /etc/foo -> /root).
                target = os.path.realpath(child)
                if any(_within(target, h) or _within(h, target) for h in holes):
                    continue
            below = [h for h in inner if _within(h, child)]
            if below and not entry.is_symlink():
                self._allow_except(child, access, below, holes)
            else:
                self.allow(child, access)

    def restrict_self(self) -> None:
        if self.libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(self.fd), ctypes.c_uint32(0)) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
        os.close(self.fd)


def pids_cgroup_root() -> str | None:
    """The v1 pids hierarchy folder this process is in (where a command's cgroup is made)."""
    try:
        with open("/proc/self/cgroup") as f:
            mine = next((line.split(":", 2)[2].strip() for line in f if line.split(":")[1] == "pids"), None)
    except (OSError, IndexError):
        return None
    return None if mine is None else os.path.join("/sys/fs/cgroup/pids", mine.lstrip("/"))


def _wait_for_cgroup(fd: int) -> bool:
    """Block until Podium says whether it moved this process into the cgroup."""
    try:
        return os.read(fd, 1) == b"1"
    except OSError:
        return False
    finally:
        os.close(fd)


def _user_process_count() -> int:
    """Processes this real uid has now: RLIMIT_NPROC counts them all outside a user namespace."""
    uid = os.getuid()
    return sum(1 for name in os.listdir("/proc") if name.isdigit() and _owner(f"/proc/{name}") == uid)


def _owner(path: str) -> int | None:
    try:
        return os.stat(path).st_uid
    except OSError:  # the process ended meanwhile
        return None


def _in_new_user_namespace() -> bool:
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def _set_limits(limits: dict[str, int], cgroup: str | None, status: dict[str, object]) -> None:
    procs = int(limits["processes"])
    if cgroup:
        status["cgroup"] = cgroup
    # The kernel does not apply RLIMIT_NPROC to uid 0 (counting is then wasted time); elsewhere
    # it counts per user namespace: a new one (unshare -r) starts from zero.
    nproc = procs if os.getuid() == 0 or _in_new_user_namespace() else procs + _user_process_count()
    wanted = {
        resource.RLIMIT_CPU: int(limits["cpu_seconds"]),
        resource.RLIMIT_DATA: int(limits["memory_bytes"]),
        resource.RLIMIT_FSIZE: int(limits["file_bytes"]),
        resource.RLIMIT_NPROC: nproc,
        resource.RLIMIT_CORE: 0,
    }
    applied = []
    for which, value in wanted.items():
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            resource.setrlimit(which, (value, value))
            applied.append(which)
        except (OSError, ValueError):
            pass
    status["limits"] = len(applied) == len(wanted)
    status["processes_bounded"] = bool(cgroup) or (os.getuid() != 0 and resource.RLIMIT_NPROC in applied)


def _drop_capabilities(libc: ctypes.CDLL) -> bool:
    """Lose every capability for good (as root: uid 0 with no power over the kernel)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 40
    libc.prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED_NOROOT, 0, 0, 0)  # fails harmlessly unprivileged
    for cap in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    return bool(libc.capset(ctypes.byref(header), data) == 0)


class Spec:
    """The box, as the command line describes it."""

    def __init__(self) -> None:
        self.read: list[str] = []
        self.write: list[str] = []
        self.devices: list[str] = []
        self.protect: list[str] = []
        self.deny_tcp = False
        self.limits: dict[str, int] | None = None
        self.status_fd = -1
        self.cgroup: str | None = None
        self.cgroup_fd = -1


LIMIT_NAMES = ("cpu_seconds", "memory_bytes", "processes", "file_bytes")


def parse(argv: list[str]) -> tuple[Spec, list[str]]:
    """Options up to `--`, then the command; ValueError on anything else."""
    spec, lists = (
        Spec(),
        {"--read": "read", "--write": "write", "--device": "devices", "--protect": "protect"},
    )
    i = 0
    while i < len(argv) and argv[i] != "--":
        opt = argv[i]
        if opt == "--deny-tcp":
            spec.deny_tcp, i = True, i + 1
            continue
        if i + 1 >= len(argv):
            raise ValueError(f"{opt} needs a value")
        value = argv[i + 1]
        if opt in lists:
            getattr(spec, lists[opt]).append(value)
        elif opt == "--limits":
            numbers = [int(v) for v in value.split(",")]
            if len(numbers) != len(LIMIT_NAMES):
                raise ValueError("--limits takes CPU,DATA,PROCS,FSIZE")
            spec.limits = dict(zip(LIMIT_NAMES, numbers, strict=True))
        elif opt == "--status-fd":
            spec.status_fd = int(value)
        elif opt == "--cgroup":
            spec.cgroup = value
        elif opt == "--cgroup-fd":
            spec.cgroup_fd = int(value)
        else:
            raise ValueError(f"unknown option {opt}")
        i += 2
    command = argv[i + 1 :]
    if not command:
        raise ValueError("no command after --")
    return spec, command


def confine(spec: Spec) -> dict[str, object]:
    """Apply the box to this process; what was applied, for the status lines."""
    status: dict[str, object] = {"landlock": 0}
    linux = sys.platform.startswith("linux")
    abi = landlock_abi() if linux else 0
    libc = _libc() if linux else None
    ruleset: _Ruleset | None = None
    if libc is not None and abi >= 1:
        try:
            ruleset = _build_ruleset(libc, abi, spec)
        except OSError as exc:
            status["error"] = f"landlock: {exc}"
    cgroup = spec.cgroup if spec.cgroup_fd >= 0 and _wait_for_cgroup(spec.cgroup_fd) else None
    if spec.limits is not None:
        _set_limits(spec.limits, cgroup, status)
    if libc is None:
        return status
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        status["error"] = "no_new_privs refused"
        return status
    status["capabilities_dropped"] = _drop_capabilities(libc)
    if ruleset is not None:
        try:
            ruleset.restrict_self()
            status["landlock"] = abi
            status["tcp_denied"] = abi >= 4 and spec.deny_tcp
        except OSError as exc:
            status["error"] = f"landlock: {exc}"
    return status


def _build_ruleset(libc: ctypes.CDLL, abi: int, spec: Spec) -> _Ruleset:
    ruleset = _Ruleset(libc, abi, spec.deny_tcp)
    holes = [os.path.realpath(p) for p in spec.protect]
    for root in spec.read:
        ruleset.allow_except(root, READ, holes)
    for device in spec.devices:
        ruleset.allow(device, DEVICE_RW)
    for root in spec.write:
        ruleset.allow_except(root, WRITE, holes)
    return ruleset


def format_status(status: dict[str, object]) -> str:
    """One `key=value` line each; values are ints, booleans (0/1) or one-line text."""
    lines = []
    for key, value in status.items():
        text = str(int(value)) if isinstance(value, bool) else str(value)
        lines.append(f"{key}={text.replace(chr(10), ' ')}\n")
    return "".join(lines)


def main(argv: list[str]) -> int:
    try:
        spec, command = parse(argv)
    except ValueError as exc:
        print(f"podium sandbox: {exc}", file=sys.stderr)
        return 2
    status = confine(spec)
    if spec.status_fd >= 0:
        try:
            os.write(spec.status_fd, format_status(status).encode())
        finally:
            os.close(spec.status_fd)
    try:
        os.execv(command[0], command)
    except OSError as exc:
        print(f"podium sandbox: cannot run {command[0]}: {exc}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
