"""The shell's box: escape attempts are refused, ordinary work still works.

Each escape test plants something outside the workspace (or inside a
protected path), runs a command that goes for it, and checks both the
command's own words and the file system afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from podium.tools import sandbox_exec
from podium.tools.builtins import BUILTINS, CommandArgs, Env
from podium.tools.sandbox import BoxStatus, Limits, landlock_abi
from podium.tools.shell import CommandResult, run_command
from podium.tools.types import ToolContext
from podium.tools.workspace import Workspace

needs_landlock = pytest.mark.skipif(
    landlock_abi() == 0, reason="this kernel has no Landlock (or it is disabled): no filesystem box"
)
DENIED = "permission denied"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the workspace holding a planted secret."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_text("PLANTED-outside-secret")
    return path


@needs_landlock
async def test_ordinary_work_still_works(ws: Path) -> None:
    result = await run_command(
        "echo hello > a.txt && mkdir -p pkg && printf 'x = 41\\n' > pkg/m.py && "
        "python -c 'import pkg.m; print(pkg.m.x + 1)' && cat a.txt && ls /usr/bin | head -1 && "
        "mv a.txt pkg/b.txt && rm pkg/m.py && echo tmp > $TMPDIR/t && ls -d .tmp",
        ws,
    )
    assert result.exit_code == 0, result.output
    assert "42" in result.output and "hello" in result.output
    assert (ws / "pkg" / "b.txt").read_text() == "hello\n" and not (ws / "pkg" / "m.py").exists()
    assert result.box.filesystem and result.box.landlock_abi == landlock_abi()
    assert "filesystem not confined" not in result.notes


@needs_landlock
async def test_pytest_runs_in_the_workspace(ws: Path) -> None:
    (ws / "test_ok.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    result = await run_command("python -m pytest -q -p no:cacheprovider", ws, timeout=120)
    assert result.exit_code == 0, result.output
    assert "1 passed" in result.output


@needs_landlock
async def test_reading_outside_the_workspace_is_refused(ws: Path, outside: Path) -> None:
    result = await run_command(f"cat {outside / 'secret.txt'}; ls {outside} && echo LISTED", ws)
    assert "PLANTED" not in result.output and "LISTED" not in result.output
    assert result.output.lower().count(DENIED) == 2


@needs_landlock
async def test_a_planted_file_in_the_home_directory_is_unreachable(ws: Path) -> None:
    home = Path.home()
    if not os.access(home, os.W_OK):
        pytest.skip(f"cannot plant a file in the home directory {home}")
    planted = home / f".podium-sandbox-test-{uuid.uuid4().hex}"
    planted.write_text("PLANTED-home-secret")
    try:
        result = await run_command(f"cat {planted}; cat ~/{planted.name}; ls {home} && echo LISTED", ws)
    finally:
        planted.unlink()
    assert "PLANTED" not in result.output and "LISTED" not in result.output
    assert result.output.lower().count(DENIED) == 2  # `~` is the workspace in the box


@needs_landlock
async def test_config_dir_and_project_file_are_cut_out_even_inside_the_workspace(tmp_path: Path) -> None:
    # conftest puts PODIUM_CONFIG_DIR at tmp_path/config; use tmp_path itself as the workspace.
    config = tmp_path / "config"
    config.mkdir()
    (config / "vault.key").write_text("PLANTED-vault-key")
    project = tmp_path / "project.podium"
    project.write_text("PLANTED-project")
    (tmp_path / "mine.txt").write_text("readable")
    result = await run_command(
        "cat config/vault.key; cat project.podium; echo gone > project.podium; rm -f project.podium; "
        "cat mine.txt; echo more >> mine.txt",
        tmp_path,
        protect=(project,),
    )
    assert "PLANTED" not in result.output and "readable" in result.output
    assert project.read_text() == "PLANTED-project"
    assert (tmp_path / "mine.txt").read_text() == "readablemore\n"


@needs_landlock
async def test_writing_outside_the_workspace_is_refused(ws: Path, outside: Path) -> None:
    result = await run_command(
        f"echo x > ../escaped.txt; echo x > {outside / 'escaped.txt'}; echo x >> {outside / 'secret.txt'}; "
        f"rm {outside / 'secret.txt'}; mkdir {outside / 'd'}; touch /etc/podium-escape",
        ws,
    )
    assert result.output.lower().count(DENIED) >= 5, result.output
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "PLANTED-outside-secret"
    assert not (ws.parent / "escaped.txt").exists() and not Path("/etc/podium-escape").exists()


@needs_landlock
async def test_a_symlink_out_of_the_workspace_leads_nowhere(ws: Path, outside: Path) -> None:
    (ws / "planted-link").symlink_to(outside / "secret.txt")  # one that was already there
    result = await run_command(
        f"cat planted-link; ln -s {outside} out; cat out/secret.txt; echo x > out/new.txt; "
        f"ln {outside / 'secret.txt'} hard",
        ws,
    )
    assert "PLANTED" not in result.output
    assert not (outside / "new.txt").exists() and not (ws / "hard").exists()
    assert result.output.lower().count(DENIED) >= 3, result.output


@needs_landlock
async def test_podiums_own_environment_is_not_readable_through_proc(ws: Path, monkeypatch) -> None:
    planted = f"sk-PLANTED-{uuid.uuid4().hex}"
    monkeypatch.setenv("PODIUM_TEST_SECRET", planted)
    result = await run_command(f"cat /proc/{os.getpid()}/environ | tr '\\0' '\\n'", ws)
    assert planted not in result.output and DENIED in result.output.lower()


@needs_landlock
async def test_opening_a_socket_to_a_loopback_server_fails(ws: Path) -> None:
    connected: list[bool] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.append(True)
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connect = f"socket.create_connection(('127.0.0.1', {port}), timeout=3)"
    probe = f"python -c \"import socket; {connect}; print('CONNECTED')\""
    try:
        boxed = await run_command(probe, ws)
        assert "CONNECTED" not in boxed.output and boxed.exit_code != 0 and boxed.isolated
        assert boxed.box.tcp_denied == (landlock_abi() >= 4)
        assert not connected
        # The same probe with the network allowed does connect: the refusal above is the box's.
        allowed = await run_command(probe, ws, allow_network=True)
        assert "CONNECTED" in allowed.output, allowed.output
    finally:
        server.close()
        await server.wait_closed()


async def test_a_fork_bomb_is_contained(ws: Path) -> None:
    # Bounded twice over: at most 16 processes, killed after 10 s.
    counted = await run_command(
        'python -c "\nimport os, time\nn = 0\nfor _ in range(100):\n    try:\n        pid = os.fork()\n'
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(3)\n        os._exit(0)\n"
        "    n += 1\nprint('forked', n)\n\"",
        ws,
        timeout=20,
        limits=Limits(processes=16),
    )
    if not counted.box.processes_bounded:
        pytest.skip("no process limit here (root without a writable pids cgroup)")
    forked = int(counted.output.split("forked")[1].split()[0])
    assert forked < 16, counted.output
    bomb = await run_command(
        "b() { b | b & }; b; sleep 2; echo survived", ws, timeout=5, limits=Limits(processes=16)
    )
    assert bomb.box.processes_bounded and "fork" in bomb.output.lower()
    if bomb.box.cgroup:  # everything it left running was killed and the cgroup removed
        assert not Path(bomb.box.cgroup).exists()


async def test_a_big_write_stops_at_the_file_size_limit(ws: Path) -> None:
    result = await run_command(
        "head -c 5000000 /dev/zero > big; echo rc=$?", ws, limits=Limits(file_bytes=1 << 20)
    )
    assert result.box.limits
    assert (ws / "big").stat().st_size == 1 << 20
    assert "rc=0" not in result.output


async def test_memory_is_limited(ws: Path) -> None:
    result = await run_command(
        "python -c \"b = bytearray(1 << 30); print('ALLOCATED')\"", ws, limits=Limits(memory_bytes=512 << 20)
    )
    assert result.box.limits
    assert "ALLOCATED" not in result.output and "MemoryError" in result.output


async def test_no_capabilities_left_for_root(ws: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("capabilities are dropped for root; this test runs as a normal user")
    result = await run_command("grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status", ws)
    assert result.box.capabilities_dropped
    assert result.output.split() == ["CapPrm:", "0" * 16, "CapEff:", "0" * 16, "CapBnd:", "0" * 16]


async def test_without_a_sandbox_the_result_says_so(ws: Path, monkeypatch) -> None:
    # Where the launcher does not run (not Linux), the command still runs and says it is unboxed.
    monkeypatch.setattr("podium.tools.shell.sandboxed", lambda: False)
    result = await run_command("echo ran", ws)
    assert result.exit_code == 0 and "ran" in result.output
    assert "filesystem not confined" in result.notes and not result.box.filesystem


async def test_the_agent_reads_what_was_not_confined(ws: Path, monkeypatch) -> None:
    async def unboxed(command: str, workspace: Path, **_: object) -> CommandResult:
        return CommandResult(
            exit_code=0, output="ok\n", truncated=False, timed_out=False, isolated=False, box=BoxStatus()
        )

    monkeypatch.setattr("podium.tools.builtins.run_command", unboxed)
    env = Env(workspace=Workspace(ws), ctx=ToolContext(), allow_network=False)
    text, _ = await BUILTINS["run_command"].impl(CommandArgs(command="true"), env)
    assert text.startswith("exit code 0 (network not isolated; filesystem not confined)")


@needs_landlock
def test_a_hole_is_cut_out_of_an_allowed_directory(tmp_path: Path) -> None:
    """The launcher on its own: --read a tree, --protect one folder in it (and a symlink to it)."""
    import subprocess
    import sys

    tree = tmp_path / "tree"
    (tree / "open" / "deep").mkdir(parents=True)
    (tree / "open" / "deep" / "f.txt").write_text("OPEN\n")
    (tree / "home" / ".ssh").mkdir(parents=True)
    (tree / "home" / ".ssh" / "id").write_text("HIDDEN")
    (tree / "open" / "to-home").symlink_to(tree / "home")
    reads = [arg for root in ("/usr", "/lib", "/lib64", "/bin", str(tree)) for arg in ("--read", root)]
    script = f"cat {tree}/open/deep/f.txt {tree}/home/.ssh/id {tree}/open/to-home/.ssh/id; ls {tree}"
    argv = [sys.executable, "-I", "-S", sandbox_exec.__file__, *reads, "--protect", str(tree / "home"),
            "--", "/bin/sh", "-c", script]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert "OPEN" in done.stdout and "HIDDEN" not in done.stdout
    assert done.stderr.lower().count(DENIED) == 2
    assert sorted(done.stdout.split()[1:]) == ["home", "open"]  # names are listed, never opened
