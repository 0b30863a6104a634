"""The app's entry points through the real `podium` command (what can run without a terminal)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli


def test_open_and_tui_refuse_a_directory_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    for args in (["open", "folder"], ["folder"]):
        out = run_cli(*args)
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith("podium: error:") and out.stderr.count("\n") == 1
        assert "directory" in out.stderr and "Traceback" not in out.stderr


def test_commands_are_registered() -> None:
    out = run_cli("--help")
    assert out.returncode == 0 and "open" in out.stdout
    bench = run_cli("bench", "tui", "--help")
    assert bench.returncode == 0 and "--agents" in bench.stdout
