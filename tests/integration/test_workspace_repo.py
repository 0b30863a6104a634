"""A run on the user's own folder, through the real `podium` command: a scripted software team
changes a file and adds one in a temporary git repository (or a plain folder); the user's branch,
index and working tree are untouched until `podium workspace RUN --apply`, `--diff` shows the
change (also from an archive), and bad folders are refused before anything starts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import run_cli
from tests.support.git_repo import git, make_repo

ORIGINAL = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\\n    return a + b\\n"
TEST = "from calc import add\\n\\n\\ndef test_add():\\n    assert add(2, 3) == 5\\n"
SCRIPT = f"""
supports_tools = true
default_reply = "Noted ({{agent}}, {{phase}})."

[[rules]]
phase = "planning"
structured = true
[rules.json]
rationale = "Fix add and test it."
[[rules.json.subtasks]]
id = "t1"
agent = "developer"
description = "Fix calc.add and add a test"

[[rules]]
phase = "execution"
agent = "developer"
times = 1
[[rules.tool_calls]]
name = "write_file"
arguments = {{ path = "calc.py", content = "{FIXED}" }}
[[rules.tool_calls]]
name = "write_file"
arguments = {{ path = "test_calc.py", content = "{TEST}" }}

[[rules]]
phase = "execution"
agent = "developer"
reply = "Fixed add and wrote test_calc.py."
"""


def _repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"calc.py": ORIGINAL, "notes.txt": "mine\n"})


def _run(tmp_path: Path, folder: str) -> tuple[subprocess.CompletedProcess[str], str]:
    (tmp_path / "software.toml").write_text(SCRIPT)
    out = run_cli("run", "Fix add", "--team", "software", "--yes", "--model",
                  f"scripted:{tmp_path / 'software.toml'}", "--workspace", folder, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    runs = json.loads(run_cli("runs", "--json").stdout)
    return out, runs[0]["id"]


def test_a_run_on_a_git_repository_leaves_the_checkout_alone_until_applied(tmp_path):
    repo = _repo(tmp_path)
    # The user has work in progress: an uncommitted change and an untracked file.
    (repo / "notes.txt").write_text("mine, edited\n")
    (repo / "scratch.txt").write_text("untracked\n")
    head, status = git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")

    out, run_id = _run(tmp_path, "repo")
    assert f"branch podium/run-{run_id}" in out.stdout and "2 files changed" in out.stdout, out.stdout

    # The user's checkout: same branch, same commit, same uncommitted state, same files.
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == status
    assert (repo / "calc.py").read_text() == ORIGINAL and not (repo / "test_calc.py").exists()
    # The agents worked in a worktree on the run's branch, next to the project file.
    worktree = tmp_path / "project-workspace" / run_id
    assert "a + b" in (worktree / "calc.py").read_text()
    assert git(repo, "branch", "--list", f"podium/run-{run_id}")

    diff = run_cli("workspace", run_id, "--diff")
    assert diff.returncode == 0, diff.stderr
    assert "-    return a - b" in diff.stdout and "+    return a + b" in diff.stdout
    assert "new file mode" in diff.stdout and "+++ b/test_calc.py" in diff.stdout
    assert "notes.txt" not in diff.stdout  # the user's uncommitted edit is not the run's

    # Files are recorded like any workspace's, and an archive carries them and the diff.
    files = {f["path"] for f in json.loads(run_cli("workspace", run_id, "--json").stdout)}
    assert files == {"calc.py", "test_calc.py"}
    assert run_cli("export", "-o", "archive.podium").returncode == 0
    archived = run_cli("workspace", run_id, "--diff", "--project", "archive.podium")
    assert archived.returncode == 0 and archived.stdout == diff.stdout, archived.stderr
    refused = run_cli("workspace", run_id, "--apply", "--project", "archive.podium")
    assert refused.returncode == 2 and "archive" in refused.stderr

    applied = run_cli("workspace", run_id, "--apply")
    assert applied.returncode == 0, applied.stderr
    assert f"merged podium/run-{run_id} into main (fast-forward)" in applied.stdout
    assert "a + b" in (repo / "calc.py").read_text() and (repo / "test_calc.py").exists()
    # The user's own uncommitted work is still there, still uncommitted.
    assert (repo / "notes.txt").read_text() == "mine, edited\n"
    assert git(repo, "diff", "--name-only") == "notes.txt" and not git(repo, "diff", "--cached")
    assert (repo / "scratch.txt").exists()


def test_apply_refuses_when_the_users_uncommitted_changes_are_in_the_way(tmp_path):
    repo = _repo(tmp_path)
    _, run_id = _run(tmp_path, str(repo))
    (repo / "calc.py").write_text("def add(a, b):\n    return b + a  # mine\n")
    head = git(repo, "rev-parse", "HEAD")

    refused = run_cli("workspace", run_id, "--apply")
    assert refused.returncode == 2, refused.stdout
    assert "refused to merge" in refused.stderr and "calc.py" in refused.stderr
    assert f"podium/run-{run_id}" in refused.stderr
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return b + a  # mine\n"
    assert git(repo, "rev-parse", "HEAD") == head

    kept = run_cli("workspace", run_id, "--apply", "--branch-only")
    assert kept.returncode == 0 and f"on branch podium/run-{run_id}" in kept.stdout, kept.stderr
    assert git(repo, "rev-parse", "HEAD") == head


def test_a_plain_folder_is_copied_diffed_and_written_back(tmp_path):
    folder = tmp_path / "plain"
    (folder / "node_modules").mkdir(parents=True)
    (folder / "calc.py").write_text(ORIGINAL)
    (folder / "node_modules" / "big.js").write_text("x")
    _, run_id = _run(tmp_path, "plain")
    assert (folder / "calc.py").read_text() == ORIGINAL and not (folder / "test_calc.py").exists()
    copy = tmp_path / "project-workspace" / run_id
    assert not (copy / "node_modules").exists()

    diff = run_cli("workspace", run_id, "--diff")
    assert diff.returncode == 0, diff.stderr
    assert "+    return a + b" in diff.stdout and "+++ b/test_calc.py" in diff.stdout

    applied = run_cli("workspace", run_id, "--apply")
    assert applied.returncode == 0 and "wrote 2 changes" in applied.stdout, applied.stderr
    assert "a + b" in (folder / "calc.py").read_text()
    assert "def test_add" in (folder / "test_calc.py").read_text()
    assert (folder / "node_modules" / "big.js").read_text() == "x"


def test_apply_to_a_folder_that_changed_since_the_copy_needs_force(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "calc.py").write_text(ORIGINAL)
    _, run_id = _run(tmp_path, "plain")
    (folder / "calc.py").write_text("# edited meanwhile\n")

    refused = run_cli("workspace", run_id, "--apply")
    assert refused.returncode == 2 and "calc.py (changed in the original)" in refused.stderr
    assert (folder / "calc.py").read_text() == "# edited meanwhile\n"
    assert not (folder / "test_calc.py").exists()  # nothing at all was written

    forced = run_cli("workspace", run_id, "--apply", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "a + b" in (folder / "calc.py").read_text() and (folder / "test_calc.py").exists()


def test_bad_workspace_folders_are_refused_before_anything_starts(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    empty = tmp_path / "empty-repo"
    empty.mkdir()
    git(empty, "init", "-q")
    cases = {"missing": "no such folder", "file.txt": "not a folder", "empty-repo": "no commit yet"}
    for path, said in cases.items():
        out = run_cli("run", "Fix add", "--team", "software", "--yes", "--model", "scripted",
                      "--workspace", path)
        assert out.returncode == 2, (path, out.stdout, out.stderr)
        assert said in out.stderr and "Traceback" not in out.stderr, (path, out.stderr)
    assert not (tmp_path / "project.podium").exists() or json.loads(run_cli("runs", "--json").stdout) == []

    # A run that was not started on a folder has no diff to show.
    (tmp_path / "software.toml").write_text(SCRIPT)
    plain = run_cli("run", "Fix add", "--team", "software", "--yes", "--model",
                    f"scripted:{tmp_path / 'software.toml'}", timeout=240)
    assert plain.returncode == 0, plain.stderr
    run_id = json.loads(run_cli("runs", "--json").stdout)[0]["id"]
    none = run_cli("workspace", run_id, "--diff")
    assert none.returncode == 2 and "not started on a folder" in none.stderr
