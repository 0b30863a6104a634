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


def test_the_tui_benchmark_runs_and_prints_its_figures() -> None:
    out = run_cli("bench", "tui", "--agents", "2", "--rate", "20", "--presses", "2")
    assert out.returncode == 0, out.stderr
    for figure in ("time to first frame", "help screen over the run", "plan graph selection"):
        line = next(line for line in out.stdout.splitlines() if figure in line)
        assert "ms" in line or " s " in line, line
    assert "no key was seen" not in out.stdout
