"""End to end through the real `podium` command: a scripted software team writes a module and a
test, the tester runs the test with the shell tool, the files are stored, exported and restored;
approvals pause and resume a run; a planted secret never reaches the archive."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import eventually_sync, run_cli

SERVER = str(Path(__file__).resolve().parents[1] / "tools_mcp_server.py")
MODULE = (
    "def fizzbuzz(n: int) -> str:\\n    if n % 15 == 0:\\n        return 'FizzBuzz'\\n"
    "    if n % 3 == 0:\\n        return 'Fizz'\\n    if n % 5 == 0:\\n        return 'Buzz'\\n"
    "    return str(n)\\n"
)
TEST = (
    "from fizzbuzz import fizzbuzz\\n\\n\\ndef test_fizzbuzz():\\n"
    "    assert [fizzbuzz(i) for i in (1, 3, 5, 15)] == ['1', 'Fizz', 'Buzz', 'FizzBuzz']\\n"
)
SCRIPT = f"""
supports_tools = true
default_reply = "Noted ({{agent}}, {{phase}})."

[[rules]]
phase = "planning"
structured = true
[rules.json]
rationale = "Write the module with its test, then run the test."
[[rules.json.subtasks]]
id = "t1"
agent = "developer"
description = "Write fizzbuzz.py and test_fizzbuzz.py"
[[rules.json.subtasks]]
id = "t2"
agent = "tester"
description = "Run the tests with pytest"
depends_on = ["t1"]

[[rules]]
phase = "execution"
agent = "developer"
times = 1
[[rules.tool_calls]]
name = "write_file"
arguments = {{ path = "fizzbuzz.py", content = "{MODULE}" }}
[[rules.tool_calls]]
name = "write_file"
arguments = {{ path = "test_fizzbuzz.py", content = "{TEST}" }}
[[rules.tool_calls]]
name = "write_file"
arguments = {{ path = "../outside.py", content = "x = 1" }}

[[rules]]
phase = "execution"
agent = "developer"
reply = "Wrote fizzbuzz.py and test_fizzbuzz.py."

[[rules]]
phase = "execution"
agent = "tester"
times = 1
[[rules.tool_calls]]
name = "run_command"
arguments = {{ command = "python -m pytest -q test_fizzbuzz.py" }}
[[rules.tool_calls]]
name = "tiny__echo_env"
arguments = {{ name = "TINY_SECRET" }}

[[rules]]
phase = "execution"
agent = "tester"
reply = "All tests pass."
"""
PLANTED = "sk-PLANTED-archive-secret-31337"


def _setup(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "software.toml").write_text(SCRIPT)
    env = {"PODIUM_VAULT": "file"}
    assert run_cli("vault", "set", "TINY_SECRET", input=PLANTED + "\n", env=env).returncode == 0
    added = run_cli(
        "mcp", "add", "tiny", "--secret", "TINY_SECRET", "--no-check", "--", sys.executable, SERVER, env=env
    )
    assert added.returncode == 0, added.stderr
    return env


def _events(db: Path, run_id: str, type_: str) -> list[dict]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT payload FROM events WHERE execution_id = ? AND type = ? ORDER BY seq", (run_id, type_)
        ).fetchall()
    finally:
        conn.close()
    return [json.loads(r[0]) for r in rows]


def _run_id(tmp_path: Path) -> str:
    out = run_cli("runs", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)[0]["id"]



def _wait_for_approval_request(tmp_path: Path) -> tuple[str, list[dict]]:
    """Poll the project file (written by another process) until a tool approval is requested."""
    db = tmp_path / "project.podium"

    def requested() -> tuple[str, list[dict]] | None:
        if not db.exists():
            return None
        try:
            run_id = _run_id(tmp_path)
            waiting = _events(db, run_id, "tool.approval_requested")
        except (AssertionError, IndexError, json.JSONDecodeError, sqlite3.Error):
            return None
        return (run_id, waiting) if waiting else None

    return eventually_sync(requested, what="a tool approval request", timeout=120, interval=0.2)

def test_software_run_writes_tests_runs_and_exports_its_files(tmp_path):
    env = _setup(tmp_path)
    out = run_cli(
        "run",
        "Write and test a fizzbuzz module",
        "--team",
        "software",
        "--yes",
        "--model",
        f"scripted:{tmp_path / 'software.toml'}",
        "--allow-tools",
        "run_command,tiny__*",
        env=env,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    run_id = _run_id(tmp_path)

    calls = {c["tool"]: c for c in _events(tmp_path / "project.podium", run_id, "tool.called")}
    assert "1 passed" in calls["run_command"]["result"] and calls["run_command"]["agent"] == "tester"
    assert calls["tiny__echo_env"]["result"] == "[secret TINY_SECRET]"
    escape = [
        c
        for c in _events(tmp_path / "project.podium", run_id, "tool.called")
        if c["arguments"].get("path") == "../outside.py"
    ]
    assert "'..' would leave the workspace" in escape[0]["error"]
    assert not (tmp_path / "project-workspace" / "outside.py").exists()

    listing = run_cli("workspace", run_id, "--json")
    files = {f["path"]: f for f in json.loads(listing.stdout)}
    assert set(files) == {"fizzbuzz.py", "test_fizzbuzz.py"}
    assert files["fizzbuzz.py"]["subtask_id"] == "t1" and files["fizzbuzz.py"]["agent"] == "developer"

    # The archive carries the files: restore them from it alone and run the tests again.
    assert run_cli("export", "-o", "archive.podium").returncode == 0
    restored = run_cli("workspace", run_id, "--project", "archive.podium", "--export", "restored")
    assert restored.returncode == 0 and "exported 2 files" in restored.stdout, restored.stderr
    again = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_fizzbuzz.py"],
        cwd=tmp_path / "restored",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "1 passed" in again.stdout, again.stdout + again.stderr

    # The planted secret reached the MCP server, yet is nowhere in the project file or the archive.
    for name in ("project.podium", "archive.podium"):
        assert PLANTED.encode() not in (tmp_path / name).read_bytes(), name
    show = run_cli("show", run_id)
    assert PLANTED not in show.stdout and PLANTED not in out.stdout + out.stderr


def test_ask_pauses_the_agent_until_approved_from_another_terminal(tmp_path):
    env = _setup(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "podium",
            "run",
            "Write and test a fizzbuzz module",
            "--team",
            "software",
            "--yes",
            "--json",
            "--model",
            f"scripted:{tmp_path / 'software.toml'}",
            "--allow-tools",
            "tiny__*",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, **env},
    )
    try:
        db = tmp_path / "project.podium"
        run_id, waiting = _wait_for_approval_request(tmp_path)
        assert waiting and waiting[0]["tool"] == "run_command" and waiting[0]["subtask_id"] == "t2"
        statuses = [e["status"] for e in _events(db, run_id, "subtask.status") if e["subtask_id"] == "t2"]
        assert statuses[-1] == "needs_help"

        listed = run_cli("approve", run_id)
        assert f"#{waiting[0]['id']}" in listed.stdout and "run_command" in listed.stdout
        # A whole `podium approve` later, the request is still listed and the run still waits for it.
        assert proc.poll() is None, "the run must wait for the decision"
        decided = run_cli("approve", run_id, str(waiting[0]["id"]))
        assert decided.returncode == 0 and "approved" in decided.stdout, decided.stderr
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    decisions = _events(db, run_id, "tool.approval_decided")
    assert any(d["tool"] == "run_command" and d["approved"] and d["by"] == "cli" for d in decisions)
    result = [c for c in _events(db, run_id, "tool.called") if c["tool"] == "run_command"]
    assert "1 passed" in result[0]["result"]
    statuses = [e["status"] for e in _events(db, run_id, "subtask.status") if e["subtask_id"] == "t2"]
    # Then, once done, it waits in Review for the leader's check and is done again.
    assert statuses[-5:] == ["needs_help", "running", "done", "review", "done"]
    again = run_cli("approve", run_id, str(waiting[0]["id"]))
    assert again.returncode == 2 and "already approved" in again.stderr


FENCED = r"""
supports_tools = false
default_reply = "Noted ({agent}, {phase})."

[[rules]]
phase = "planning"
structured = true
[rules.json]
rationale = "One step."
[[rules.json.subtasks]]
id = "t1"
agent = "developer"
description = "Write hello.py"

[[rules]]
phase = "execution"
agent = "developer"
times = 1
reply = '''I will write it.
```json
{"action": "tool", "name": "write_file", "arguments": {"path": "hello.py", "content": "print('hello')\n"}}
```'''

[[rules]]
phase = "execution"
agent = "developer"
times = 1
match = "wrote"
reply = '''```json
{"action": "tool", "name": "read_file", "arguments": {"path": "/etc/passwd"}}
```'''

[[rules]]
phase = "execution"
agent = "developer"
reply = "Done: hello.py written. ```json\n{\"action\": \"done\"}\n```"
"""


def test_models_without_tool_calling_use_the_fenced_json_signal(tmp_path):
    (tmp_path / "fenced.toml").write_text(FENCED)
    out = run_cli("run", "Say hello", "--team", "software", "--yes", "--model",
                  f"scripted:{tmp_path / 'fenced.toml'}", timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    run_id = _run_id(tmp_path)
    calls = _events(tmp_path / "project.podium", run_id, "tool.called")
    assert [c["tool"] for c in calls] == ["write_file", "read_file"]
    assert calls[0]["result"] == "wrote 15 bytes to hello.py"
    assert "absolute paths are outside the workspace" in calls[1]["error"]
    assert (tmp_path / "project-workspace" / run_id / "hello.py").read_text() == "print('hello')\n"


def test_approvals_left_pending_by_a_killed_process_expire_when_the_run_resumes(tmp_path):
    env = _setup(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "podium", "run", "Write and test a fizzbuzz module", "--team", "software",
         "--yes", "--json", "--model", f"scripted:{tmp_path / 'software.toml'}", "--allow-tools", "tiny__*"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        env={**__import__("os").environ, **env},
    )
    db = tmp_path / "project.podium"
    try:
        run_id, waiting = _wait_for_approval_request(tmp_path)
        assert waiting and waiting[0]["tool"] == "run_command"
        proc.kill()  # kill -9 while the request waits: nobody will ever decide it
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    old = waiting[0]["id"]
    assert f"#{old}" in run_cli("approve", run_id).stdout  # still shown as waiting

    resumed = run_cli("resume", run_id, "--yes", "--allow-tools", "run_command,tiny__*", env=env, timeout=240)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # The old request is settled (denied, with the usual event) instead of waiting forever.
    decided = [d for d in _events(db, run_id, "tool.approval_decided") if d["id"] == old]
    assert len(decided) == 1 and not decided[0]["approved"] and decided[0]["by"] == "podium"
    assert decided[0]["reason"].startswith("expired")
    listed = run_cli("approve", run_id)
    assert listed.returncode == 0 and "nothing waits for approval" in listed.stdout, listed.stdout
    again = run_cli("approve", run_id, str(old))
    assert again.returncode == 2 and "already denied by podium" in again.stderr
    # The resumed run asked again and went on: the test ran.
    result = [c for c in _events(db, run_id, "tool.called") if c["tool"] == "run_command"]
    assert "1 passed" in result[-1]["result"]
