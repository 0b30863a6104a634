"""Workspace paths: everything an agent names must stay inside the run's folder."""

from __future__ import annotations

import os

import pytest

from podium.tools.types import ToolError
from podium.tools.workspace import Workspace, describe_file, workspace_root_for


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path / "runs" / "r1")


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../secret.txt",
        "a/../../b",
        "..",
        "~/x",
        "C:/windows",
        "a\\..\\..\\b",
        "",
        "   ",
        "bad\x00name",
    ],
)
def test_escapes_are_refused(ws, path):
    with pytest.raises(ToolError) as err:
        ws.resolve(path)
    assert "refused" in str(err.value) or "path" in str(err.value)


def test_symlink_out_of_the_workspace_is_refused(ws, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.txt").write_text("private")
    ws.ensure()
    os.symlink(outside, ws.root / "link")
    with pytest.raises(ToolError, match="symlink"):
        ws.resolve("link/data.txt")
    os.symlink(outside / "data.txt", ws.root / "file-link")
    with pytest.raises(ToolError, match="symlink"):
        ws.resolve("file-link")


def test_nested_paths_resolve_inside(ws):
    target = ws.resolve("pkg/sub/module.py")
    assert target.is_relative_to(ws.root.resolve())
    assert ws.relative(target) == "pkg/sub/module.py"
    assert ws.resolve("./a/./b.txt") == ws.root.resolve() / "a" / "b.txt"
    with pytest.raises(ToolError, match="no such file"):
        ws.resolve("missing.txt", must_exist=True)


def test_snapshot_finds_new_and_changed_files_but_not_caches(ws):
    ws.ensure()
    (ws.root / "a.txt").write_text("1")
    before = ws.snapshot()
    (ws.root / "b.txt").write_text("2")
    (ws.root / "a.txt").write_text("longer")
    (ws.root / "__pycache__").mkdir()
    (ws.root / "__pycache__" / "x.pyc").write_bytes(b"\x00")
    assert Workspace.changed(before, ws.snapshot()) == ["a.txt", "b.txt"]


def test_describe_file_keeps_text_and_flags_binary(ws):
    ws.ensure()
    (ws.root / "t.txt").write_text("héllo")
    (ws.root / "b.bin").write_bytes(b"\x00\x01\x02")
    text = describe_file(ws.root, "t.txt")
    assert text.is_text and text.content == "héllo".encode() and text.size == 6 and len(text.sha256) == 64
    assert not describe_file(ws.root, "b.bin").is_text


def test_workspace_root_sits_next_to_the_project(tmp_path):
    assert workspace_root_for(tmp_path / "p.podium") == tmp_path.resolve() / "p-workspace"
