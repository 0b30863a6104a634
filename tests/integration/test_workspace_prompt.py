"""Agents of a run on the user's own folder (`--workspace`) are told so in their system prompt:
whose code it is (a worktree of their repository on the run's branch from its base commit, or a
copy of their folder), that the person reviews the diff, and to read before writing. The scripted
model answers with a marker only when its system message says all that, so a missing line fails."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.integration.run_helpers import rows
from tests.support.git_repo import git, make_repo

SCRIPT = """
supports_tools = true
default_reply = "Noted ({{agent}}, {{phase}})."

[[rules]]
phase = "planning"
structured = true
[rules.json]
rationale = "One step."
[[rules.json.subtasks]]
id = "t1"
agent = "developer"
description = "Fix calc.add"

[[rules]]
phase = "execution"
agent = "developer"
match_system = '''{where}.*as a diff.*read the relevant files before you write'''
reply = "TOLD-ABOUT-THE-WORKSPACE"

[[rules]]
phase = "execution"
agent = "developer"
reply = "NOT-TOLD"
"""


def _output(tmp_path: Path, where: str, folder: Path) -> tuple[str, str]:
    """Run the one-subtask plan on `folder`; the run id and the subtask's output."""
    (tmp_path / "software.toml").write_text(SCRIPT.replace("{where}", where).replace("{{", "{")
                                            .replace("}}", "}"))
    out = run_cli("run", "Fix add", "--team", "software", "--yes", "--model",
                  f"scripted:{tmp_path / 'software.toml'}", "--workspace", str(folder), timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    run_id = json.loads(run_cli("runs", "--json").stdout)[0]["id"]
    found = rows(tmp_path / "project.podium", "SELECT output FROM subtasks WHERE execution_id = ?", run_id)
    return run_id, found[0]["output"]


def test_agents_are_told_their_workspace_is_a_worktree_of_the_users_repository(tmp_path):
    repo = make_repo(tmp_path / "calculator", {"calc.py": "def add(a, b):\n    return a - b\n"})
    short = git(repo, "rev-parse", "--short=8", "HEAD")

    where = (r"git worktree of the user's repository calculator \(branch podium/run-[0-9a-f]+, from commit "
             + short + r"\)")
    _, output = _output(tmp_path, where, repo)
    assert output == "TOLD-ABOUT-THE-WORKSPACE"


def test_agents_are_told_their_workspace_is_a_copy_of_the_users_folder(tmp_path):
    folder = tmp_path / "plainfolder"
    folder.mkdir()
    (folder / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    _, output = _output(tmp_path, r"a copy of the user's folder plainfolder", folder)
    assert output == "TOLD-ABOUT-THE-WORKSPACE"


def test_agents_of_a_run_in_an_empty_workspace_are_not_told_of_a_users_folder(tmp_path):
    (tmp_path / "software.toml").write_text(SCRIPT.replace("{where}", "Your workspace is").replace("{{", "{")
                                            .replace("}}", "}"))
    out = run_cli("run", "Fix add", "--team", "software", "--yes", "--model",
                  f"scripted:{tmp_path / 'software.toml'}", timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    run_id = json.loads(run_cli("runs", "--json").stdout)[0]["id"]
    found = rows(tmp_path / "project.podium", "SELECT output FROM subtasks WHERE execution_id = ?", run_id)
    assert [r["output"] for r in found] == ["NOT-TOLD"]
