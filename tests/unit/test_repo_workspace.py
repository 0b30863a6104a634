"""tools.repo_workspace on its own: a conflicting merge is undone, a copy leaves out what it must,
a folder too large is refused without a half copy, a detached HEAD is not merged into."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from podium.errors import PodiumError
from podium.tools import repo_workspace as rw
from tests.support.git_repo import git, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"calc.py": "x = 1\n"})


def _where(made: rw.Attached) -> rw.Where:
    return rw.Where(kind=made.kind, source=made.source, path=made.path, base_commit=made.base_commit,
                    branch=made.branch, git_dir=made.git_dir)


def test_a_conflicting_merge_is_undone_and_the_branch_kept(repo: Path, tmp_path: Path) -> None:
    made = rw.attach(rw.inspect(repo), tmp_path / "ws" / "r1", "r1", git_dir=tmp_path / "g")
    (made.path / "calc.py").write_text("x = 2\n")
    head = rw.commit(_where(made), "the agents' change")
    # Meanwhile the user committed another change to the same line.
    (repo / "calc.py").write_text("x = 3\n")
    git(repo, "commit", "-q", "-am", "mine")
    mine = git(repo, "rev-parse", "HEAD")

    with pytest.raises(PodiumError, match=r"conflicts in calc\.py: the merge was undone"):
        rw.merge(_where(made), head)
    assert git(repo, "rev-parse", "HEAD") == mine and git(repo, "status", "--porcelain") == ""
    assert (repo / "calc.py").read_text() == "x = 3\n"
    assert git(repo, "rev-parse", "podium/run-r1") == head


def test_a_detached_head_is_not_merged_into(repo: Path, tmp_path: Path) -> None:
    made = rw.attach(rw.inspect(repo), tmp_path / "ws" / "r1", "r1", git_dir=tmp_path / "g")
    (made.path / "new.py").write_text("y = 1\n")
    head = rw.commit(_where(made), "the agents' change")
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(PodiumError, match="detached HEAD"):
        rw.merge(_where(made), head)
    assert not (repo / "new.py").exists()


def test_a_copy_leaves_out_the_project_caches_and_vcs_folders(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    for sub in ("src", "node_modules", ".hg", "project-workspace/old"):
        (folder / sub).mkdir(parents=True)
    (folder / "src" / "a.py").write_text("a = 1\n")
    (folder / "node_modules" / "m.js").write_text("m")
    (folder / ".hg" / "store").write_text("h")
    (folder / "project.podium").write_text("db")
    (folder / "project-workspace" / "old" / "f").write_text("f")
    (folder / "link").symlink_to("src/a.py")
    (folder / "outside").symlink_to(tmp_path)  # a link to a folder: copied as the link, not followed
    skip = [folder / "project.podium", folder / "project-workspace"]
    made = rw.attach(rw.inspect(folder), tmp_path / "ws" / "r1", "r1", git_dir=tmp_path / "g" / "r1.git",
                     skip=skip)
    copied = sorted(p.relative_to(made.path).as_posix() for p in made.path.rglob("*")
                    if p.is_symlink() or not p.is_dir())
    assert copied == ["link", "outside", "src/a.py"]
    assert (made.path / "link").is_symlink() and (made.path / "outside").is_symlink()
    assert set(made.manifest or {}) == {"link", "outside", "src/a.py"}
    # The baseline lives outside the copy: the agents cannot rewrite it.
    assert not (made.path / ".git").exists() and (tmp_path / "g" / "r1.git" / "HEAD").exists()


def test_a_folder_too_large_to_copy_is_refused_without_a_half_copy(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(3):
        (folder / f"f{i}.txt").write_text(str(i))
    monkeypatch.setattr(rw, "MAX_COPY_FILES", 2)
    dest = tmp_path / "ws" / "r1"
    with pytest.raises(PodiumError, match="too large to copy"):
        rw.attach(rw.inspect(folder), dest, "r1", git_dir=tmp_path / "g")
    assert not dest.exists()


def test_a_folder_inside_a_repository_is_copied_not_worktreed(repo: Path) -> None:
    (repo / "pkg").mkdir()
    assert rw.inspect(repo / "pkg").kind == "dir"
    assert rw.inspect(repo).kind == "git"


def test_a_git_file_written_by_an_agent_cannot_redirect_podiums_commits(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    made = rw.attach(rw.inspect(repo), tmp_path / "ws" / "r1", "r1", git_dir=tmp_path / "g")
    assert made.git_dir is not None and made.git_dir.is_relative_to(repo / ".git")
    # An agent (told so by a page it read) points the worktree's .git at another repository.
    (made.path / ".git").write_text(f"gitdir: {other / '.git'}\n")
    (made.path / "calc.py").write_text("x = 2\n")
    head = rw.commit(_where(made), "the agents' change")
    assert git(repo, "rev-parse", "podium/run-r1") == head
    assert "+x = 2" in rw.diff(_where(made), head)
    empty = subprocess.run(["git", "-C", str(other), "rev-parse", "-q", "--verify", "HEAD"],
                           capture_output=True, text=True)
    assert empty.returncode != 0  # nothing was ever committed there


def test_a_missing_worktree_is_added_back_on_the_runs_branch(repo: Path, tmp_path: Path) -> None:
    import shutil

    made = rw.attach(rw.inspect(repo), tmp_path / "ws" / "r1", "r1", git_dir=tmp_path / "g")
    (made.path / "kept.txt").write_text("k\n")
    rw.commit(_where(made), "work so far")
    assert rw.ensure(_where(made)) is None  # there: nothing to do
    shutil.rmtree(made.path)
    again = rw.ensure(_where(made))
    assert again is not None and again.git_dir is not None
    assert (made.path / "kept.txt").read_text() == "k\n"
    assert git(made.path, "symbolic-ref", "--short", "HEAD") == "podium/run-r1"
