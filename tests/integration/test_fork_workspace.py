"""A fork's folder, through the real `podium` command on the scripted model: the files its reused
subtasks wrote are in it before anything runs again (an agent that runs again reads one with
read_file), the files of what runs again are not carried over from the parent, a fork of a run on
the user's git repository works on a worktree of its own branch from the parent's base (the
user's checkout untouched, `podium workspace FORK --diff` showing reused and re-run changes), and a
fork killed with kill -9 resumes with its folder as it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli
from tests.integration.run_helpers import events_of, rows, subtasks
from tests.integration.test_run_resume import kill_when
from tests.support.git_repo import git, make_repo

SECRET = "The secret word is BANANA-42."


def _script(path: Path, t2_writes: str, *, latency_ms: int = 0) -> str:
    """t1 (developer) writes notes.md; t2 (tester, after t1) reads it with read_file, then writes
    `t2_writes`, and its output says what it read. Models without tool calling: the read's result
    comes back as the next user turn, which a rule matches (anchored at its start: the file's
    text, not a brief that quotes t1's call)."""
    def fenced(tool: str, **arguments: str) -> str:
        return "```json\n" + json.dumps({"action": "tool", "name": tool, "arguments": arguments}) + "\n```"

    def done(text: str) -> str:
        return text + "\n```json\n{\"action\": \"done\"}\n```"

    rules = [
        {"phase": "planning", "structured": True,
         "json": {"rationale": "notes, then a check", "subtasks": [
             {"id": "t1", "agent": "developer", "description": "Write notes.md"},
             {"id": "t2", "agent": "tester", "description": "Read notes.md and record a check",
              "depends_on": ["t1"]}]}},
        {"phase": "execution", "subtask": "t1", "times": 1,
         "reply": fenced("write_file", path="notes.md", content=SECRET + "\n")},
        {"phase": "execution", "subtask": "t1", "reply": done("t1 wrote the notes.")},
        {"phase": "execution", "subtask": "t2", "times": 1, "match": r"\A" + SECRET.replace(".", r"\."),
         "reply": fenced("write_file", path=t2_writes, content="checked\n")},
        {"phase": "execution", "subtask": "t2", "match": r"\Awrote \d+ bytes",
         "reply": done(f"t2 read notes.md: {SECRET}")},
        {"phase": "execution", "subtask": "t2", "times": 1, "latency_ms": latency_ms,
         "reply": fenced("read_file", path="notes.md")},
        {"phase": "execution", "subtask": "t2", "reply": done("t2 could not read notes.md.")},
    ]
    path.write_text("supports_tools = false\ndefault_reply = \"Noted ({agent}, {phase}).\"\n"
                    + "".join(_rule(r) for r in rules), encoding="utf-8")
    return f"scripted:{path}"


def _rule(rule: dict[str, object]) -> str:
    # TOML by hand (tomllib reads only): JSON strings are valid TOML basic strings.
    lines = ["\n[[rules]]"]
    for key, value in rule.items():
        if key == "json":
            continue
        lines.append(f"{key} = {json.dumps(value) if not isinstance(value, bool) else str(value).lower()}")
    if "json" in rule:
        lines.append(f"json = {_inline(rule['json'])}")
    return "\n".join(lines) + "\n"


def _inline(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return json.dumps(value)


def _repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"app.py": "print('app')\n"})


def _parent(tmp_path: Path, *extra: str) -> tuple[Path, str]:
    project = tmp_path / "project.podium"
    model = _script(tmp_path / "parent.toml", "t2.txt")
    done = run_cli("run", "Write notes and check them", "--team", "software", "--model", model, "--yes",
                   "-p", str(project), *extra, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return project, rows(project, "SELECT id FROM executions")[0][0]


def _fork_id(project: Path, parent: str) -> str:
    return rows(project, "SELECT execution_id FROM run_forks WHERE parent_id = ?", parent)[0][0]


def test_a_rerun_subtask_reads_a_file_a_reused_subtask_wrote(tmp_path):
    project, parent = _parent(tmp_path)
    assert subtasks(project, parent)["t2"]["output"] == f"t2 read notes.md: {SECRET}"
    folder = tmp_path / "project-workspace"
    assert (folder / parent / "t2.txt").exists()

    model = _script(tmp_path / "fork.toml", "t2-fork.txt")
    made = run_cli("fork", parent, "--from", "t2", "--model", model, "--yes", "-p", str(project), timeout=240)
    assert made.returncode == 0, made.stdout + made.stderr
    child = _fork_id(project, parent)
    after = subtasks(project, child)
    # t2 ran again in the fork and read what the reused t1 wrote in the parent.
    assert after["t2"]["output"] == f"t2 read notes.md: {SECRET}"
    assert after["t2"]["started_at"] > subtasks(project, parent)["t2"]["finished_at"]
    assert (folder / child / "notes.md").read_text() == SECRET + "\n"
    assert (folder / child / "t2-fork.txt").exists()
    # What t2 wrote in the parent is not the fork's: it ran again and wrote something else.
    assert not (folder / child / "t2.txt").exists()
    files = {f["path"]: f["subtask_id"] for f in json.loads(
        run_cli("workspace", child, "--json", "-p", str(project)).stdout)}
    assert files == {"notes.md": "t1", "t2-fork.txt": "t2"}
    [restored] = events_of(project, child, "fork.files_restored")
    assert restored == {"subtasks": ["t1"], "files": ["notes.md"], "skipped": [], "commit": None}
    assert rows(project, "SELECT files_restored_at FROM run_forks WHERE execution_id = ?", child)[0][0]


def test_a_fork_of_a_run_on_a_git_repository_gets_its_own_worktree_and_branch(tmp_path):
    repo = _repo(tmp_path)
    (repo / "app.py").write_text("print('mine, uncommitted')\n")  # the user's work in progress
    base, status = git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")
    project, parent = _parent(tmp_path, "--workspace", str(repo))
    parent_head = git(repo, "rev-parse", f"podium/run-{parent}")
    # The user moves on after the parent run: the fork still starts from the parent's base.
    (repo / "later.txt").write_text("later\n")
    git(repo, "add", "later.txt")
    git(repo, "commit", "-q", "-m", "later")
    head, status = git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")

    model = _script(tmp_path / "fork.toml", "t2-fork.txt")
    made = run_cli("fork", parent, "--from", "t2", "--model", model, "--yes", "-p", str(project), timeout=240)
    assert made.returncode == 0, made.stdout + made.stderr
    child = _fork_id(project, parent)
    assert subtasks(project, child)["t2"]["output"] == f"t2 read notes.md: {SECRET}"

    worktree = tmp_path / "project-workspace" / child
    assert git(worktree, "symbolic-ref", "--short", "HEAD") == f"podium/run-{child}"
    assert (worktree / "notes.md").read_text() == SECRET + "\n"
    assert (worktree / "t2-fork.txt").exists() and not (worktree / "t2.txt").exists()
    assert not (worktree / "later.txt").exists()  # the parent's base, not today's HEAD
    recorded = rows(project, "SELECT * FROM run_workspaces WHERE execution_id = ?", child)[0]
    assert recorded["kind"] == "git" and recorded["base_commit"] == base
    assert recorded["branch"] == f"podium/run-{child}"
    # The reused files were committed on the fork's branch before t2 ran again.
    [restored] = events_of(project, child, "fork.files_restored")
    assert restored["files"] == ["notes.md"] and restored["commit"]
    assert git(repo, "merge-base", "--is-ancestor", restored["commit"], f"podium/run-{child}") == ""
    # The user's checkout and the parent's branch: untouched.
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == status
    assert (repo / "app.py").read_text() == "print('mine, uncommitted')\n"
    assert not (repo / "notes.md").exists()
    assert git(repo, "rev-parse", f"podium/run-{parent}") == parent_head

    diff = run_cli("workspace", child, "--diff", "-p", str(project))
    assert diff.returncode == 0, diff.stderr
    assert "+++ b/notes.md" in diff.stdout and f"+{SECRET}" in diff.stdout
    assert "+++ b/t2-fork.txt" in diff.stdout
    assert "t2.txt" not in diff.stdout.replace("t2-fork.txt", "") and "later.txt" not in diff.stdout
    kept = run_cli("workspace", child, "--apply", "--branch-only", "-p", str(project))
    assert kept.returncode == 0 and f"branch podium/run-{child}" in kept.stdout, kept.stderr


def test_a_fork_on_a_repository_killed_with_kill_9_resumes_with_its_worktree_consistent(tmp_path):
    repo = _repo(tmp_path)
    project, parent = _parent(tmp_path, "--workspace", str(repo))
    head = git(repo, "rev-parse", "HEAD")
    slow = _script(tmp_path / "slow.toml", "t2-fork.txt", latency_ms=1500)
    proc = subprocess.Popen(
        [sys.executable, "-m", "podium", "fork", parent, "--from", "t2", "--model", slow, "--yes", "--json",
         "-p", str(project)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    kill_when(proc, lambda e: e["type"] == "subtask.status" and e["status"] == "running"
              and e.get("subtask_id") == "t2")
    assert proc.returncode == -signal.SIGKILL
    child = _fork_id(project, parent)
    worktree = tmp_path / "project-workspace" / child
    # Killed while t2 ran again: its worktree already held the reused file, committed on its branch.
    assert (worktree / "notes.md").read_text() == SECRET + "\n"
    assert "notes.md" in git(repo, "show", "--name-only", "--format=", f"podium/run-{child}")

    resumed = run_cli("resume", child, "--yes", "-p", str(project), timeout=240)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert subtasks(project, child)["t2"]["output"] == f"t2 read notes.md: {SECRET}"
    # Restored once (a resume does not write them again), one workspace, the user's HEAD as it was.
    assert len(events_of(project, child, "fork.files_restored")) == 1
    assert rows(project, "SELECT count(*) FROM run_workspaces WHERE execution_id = ?", child)[0][0] == 1
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""
    diff = run_cli("workspace", child, "--diff", "-p", str(project))
    assert "+++ b/notes.md" in diff.stdout and "+++ b/t2-fork.txt" in diff.stdout, diff.stdout
    assert rows(project, "PRAGMA integrity_check")[0][0] == "ok"


def test_a_fork_of_a_run_on_a_plain_folder_gets_a_fresh_copy_with_the_reused_files(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "app.py").write_text("print('app')\n")
    project, parent = _parent(tmp_path, "--workspace", str(folder))
    model = _script(tmp_path / "fork.toml", "t2-fork.txt")
    made = run_cli("fork", parent, "--from", "t2", "--model", model, "--yes", "-p", str(project), timeout=240)
    assert made.returncode == 0, made.stdout + made.stderr
    child = _fork_id(project, parent)
    assert subtasks(project, child)["t2"]["output"] == f"t2 read notes.md: {SECRET}"
    copy = tmp_path / "project-workspace" / child
    assert (copy / "app.py").exists() and (copy / "notes.md").read_text() == SECRET + "\n"
    assert not (copy / "t2.txt").exists() and not (folder / "notes.md").exists()
    recorded = rows(project, "SELECT kind, manifest_json FROM run_workspaces WHERE execution_id = ?",
                    child)[0]
    assert recorded["kind"] == "dir" and set(json.loads(recorded["manifest_json"])) == {"app.py"}
    diff = run_cli("workspace", child, "--diff", "-p", str(project))
    assert "+++ b/notes.md" in diff.stdout and "+++ b/t2-fork.txt" in diff.stdout, diff.stdout
    applied = run_cli("workspace", child, "--apply", "-p", str(project))
    assert applied.returncode == 0, applied.stderr
    assert (folder / "notes.md").read_text() == SECRET + "\n" and (folder / "t2-fork.txt").exists()
    assert not (folder / "t2.txt").exists()
