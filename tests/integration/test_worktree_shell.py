"""git in the shell's box, in a run's worktree of the user's repository (`--workspace`).

The worktree's git folders are in the user's repository, outside the workspace: the box lets
`run_command` read them, so `git status`, `git diff`, `git log` and `git show` work, and nothing
of the repository is writable: `git commit` is refused and the repository's refs and objects stay
as they were, and the user's own checkout still cannot be written."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.app.session import ProjectSession
from podium.tools.sandbox import landlock_abi
from podium.tools.types import ToolContext
from tests.support.git_repo import git, make_repo

pytestmark = pytest.mark.skipif(landlock_abi() == 0, reason="this kernel has no Landlock: no box")


def _repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"calc.py": "def add(a, b):\n    return a - b\n"})


def _state(repo: Path) -> tuple[str, list[str]]:
    """The repository's refs, and every file in its object store."""
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    store = repo / ".git" / "objects"
    objects = sorted(str(p.relative_to(store)) for p in store.rglob("*"))
    return refs, objects


async def test_read_only_git_works_in_a_worktree_and_nothing_of_the_repository_is_writable(
        tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (tmp_path / "model.toml").write_text('default_reply = "ok"\n')
    model = f"scripted:{tmp_path / 'model.toml'}"
    async with ProjectSession(tmp_path / "project.podium", model=model) as session:
        run = await session.create_run("Fix add", "software", workspace=repo)
        tools = session.tools
        assert tools is not None
        tools.allow_tools = ["run_command"]
        ctx = ToolContext(execution_id=run.id, agent="developer", agent_tools=[])
        worktree = tmp_path / "project-workspace" / run.id
        (worktree / "calc.py").write_text("def add(a, b):\n    return a + b\n")
        before = _state(repo)

        async def shell(command: str) -> str:
            result = await tools.call("run_command", {"command": command}, ctx=ctx)
            assert result.ok, result.error
            assert "filesystem not confined" not in result.content
            return result.content

        status = await shell("git status --short --branch")
        assert status.startswith("exit code 0"), status
        assert f"## podium/run-{run.id}" in status and " M calc.py" in status
        diff = await shell("git diff")
        assert diff.startswith("exit code 0") and "-    return a - b" in diff and "+    return a + b" in diff
        log = await shell("git log --oneline && git show --stat HEAD")
        assert log.startswith("exit code 0") and "initial" in log and "calc.py" in log

        commit = await shell("git commit -qam x; echo rc=$?; git branch mine; echo rc=$?")
        assert "rc=0" not in commit and commit.count("rc=128") == 2, commit
        assert _state(repo) == before
        assert git(repo, "rev-parse", f"podium/run-{run.id}") == git(repo, "rev-parse", "main")

        # The user's own checkout and the repository's git folder stay out of reach for writing.
        touch = await shell(f"echo x > {repo / 'new.txt'}; echo rc=$?; echo x > {repo / '.git' / 'x'}; "
                            "echo rc=$?")
        assert "rc=0" not in touch and "Permission denied" in touch, touch
        assert not (repo / "new.txt").exists() and not (repo / ".git" / "x").exists()
        assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"

        # Podium's own commit of the agents' work still goes on the run's branch.
        review = await session.run_workspaces.review(run.id)
        assert review.files == ["M calc.py"]
        assert git(repo, "rev-parse", "main") != git(repo, "rev-parse", f"podium/run-{run.id}")


async def test_git_outside_a_worktree_workspace_is_still_refused(tmp_path: Path) -> None:
    """A run on an empty workspace gets nothing of any repository: git finds none it may read."""
    repo = _repo(tmp_path)
    (tmp_path / "model.toml").write_text('default_reply = "ok"\n')
    model = f"scripted:{tmp_path / 'model.toml'}"
    async with ProjectSession(tmp_path / "project.podium", model=model) as session:
        run = await session.create_run("Fix add", "software")
        tools = session.tools
        assert tools is not None
        tools.allow_tools = ["run_command"]
        ctx = ToolContext(execution_id=run.id, agent="developer", agent_tools=[])
        command = f"git -C {repo} log --oneline; echo rc=$?"
        result = await tools.call("run_command", {"command": command}, ctx=ctx)
        assert result.ok and "initial" not in result.content and "rc=0" not in result.content, result.content
