"""`podium bench plans` on the scripted model: the counts follow what the leaders reply."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.integration.run_helpers import write_script

# research (analyst): a valid plan, first try.
# software (architect): a duplicate id, mended without a second call.
# content (strategist): no plan at all; the first repair round gets a valid plan, the second does not.
SCRIPT = """
[[rules]]
phase = "planning"
agent = "analyst"
json = { subtasks = [{ id = "t1", agent = "researcher", description = "Collect sources" },
                     { id = "t2", agent = "writer", description = "Write it", depends_on = ["t1"] }] }

[[rules]]
phase = "planning"
agent = "architect"
json = { subtasks = [{ id = "t1", agent = "developer", description = "Build it" },
                     { id = "t1", agent = "tester", description = "Test it", depends_on = ["t1"] }] }

[[rules]]
phase = "planning"
agent = "strategist"
match = "not valid"
times = 1
json = { subtasks = [{ id = "t1", agent = "writer", description = "Draft it" }] }

[[rules]]
phase = "planning"
agent = "strategist"
json = { nonsense = true }
"""


def bench(tmp_path, *args: str):
    script = tmp_path / "leaders.toml"
    script.write_text(SCRIPT)
    return run_cli("bench", "plans", "--model", f"scripted:{script}", "--objectives", "2", *args)


def test_counts_follow_the_replies(tmp_path):
    out = bench(tmp_path, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    teams = {row["name"]: row for row in report["teams"]}
    assert teams["research"]["counts"] == {"first_try": 2, "mended": 0, "repaired": 0, "fallback": 0}
    assert teams["software"]["counts"] == {"first_try": 0, "mended": 2, "repaired": 0, "fallback": 0}
    assert teams["content"]["counts"] == {"first_try": 0, "mended": 0, "repaired": 1, "fallback": 1}
    overall = report["overall"]
    assert overall["plans"] == 6 and abs(overall["usable"] - 5 / 6) < 1e-9
    assert overall["calls_per_plan"] == (1 + 1 + 1 + 1 + 2 + 2) / 6
    mended = [r for r in report["results"] if r["stage"] == "mended"]
    assert mended[0]["mends"] == ["subtask 2: duplicate id t1, renamed t2"]
    [fallback] = [r for r in report["results"] if r["stage"] == "fallback"]
    assert fallback["errors"] == ["subtasks: Field required"] and fallback["subtasks"] == 4


def test_the_table_and_one_team(tmp_path):
    out = bench(tmp_path, "--teams", "software")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("podium bench plans · model scripted:")
    assert "2 plans from 1 team leaders" in lines[0]
    assert "mended: subtask 2: duplicate id t1, renamed t2" in out.stdout
    header = next(line for line in lines if line.startswith("team"))
    assert header.split() == ["team", "plans", "first", "try", "mended", "repaired", "fallback", "usable",
                              "s/plan", "calls/plan"]
    row = next(line for line in lines if line.startswith("software")).split()
    assert row[:7] == ["software", "2", "0%", "100%", "0%", "0%", "100%"]
    assert next(line for line in lines if line.startswith("overall")).split()[:2] == ["overall", "2"]


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    out = bench(tmp_path, "--teams", "legal")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "legal" in out.stderr and "research" in out.stderr
    out = run_cli("bench", "plans", "--model", f"scripted:{tmp_path / 'missing.toml'}")
    assert out.returncode == 2 and out.stderr.count("\n") == 1


MENDABLE = """
[[rules]]
phase = "planning"
json = { subtasks = [{ id = "t1", agent = "Researcher", description = "Collect facts" },
                     { id = "t1", agent = "writer", description = "Write the report", depends_on = ["t1"] }] }
"""


def test_podium_run_shows_the_mends_and_show_keeps_them(tmp_path):
    model = write_script(tmp_path, extra=MENDABLE)
    out = run_cli("run", "A short report on heat pumps", "--team", "research", "--model", model, "--yes")
    assert out.returncode == 0, out.stderr
    assert "mended: 2 fixable problems in the leader's plan" in out.stdout
    assert "mended: t1: agent 'Researcher' read as researcher" in out.stdout
    assert "mended: subtask 2: duplicate id t1, renamed t2" in out.stdout
    run_id = json.loads(run_cli("runs", "--json").stdout)[0]["id"]
    shown = run_cli("show", run_id, "--format", "md").stdout
    assert "(mended)" in shown and "- mended: subtask 2: duplicate id t1, renamed t2" in shown
