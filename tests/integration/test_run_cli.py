"""`podium teams/run/runs/show` end to end through the real CLI on the scripted model."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

from tests.conftest import run_cli
from tests.integration.run_helpers import json_lines, rows, subtasks, write_script


def test_teams_lists_presets_and_project_teams(tmp_path):
    result = run_cli("teams")
    assert result.returncode == 0, result.stderr
    for name in ("research", "software", "content"):
        assert name in result.stdout
    assert "★ analyst" in result.stdout  # the leader is marked
    (tmp_path / "teams").mkdir()
    (tmp_path / "teams" / "duo.toml").write_text(
        'leader = "boss"\n[[agents]]\nname = "boss"\nrole = "lead"\n'
        '[[agents]]\nname = "doer"\nrole = "does"\n')
    listed = json.loads(run_cli("teams", "--json").stdout)
    duo = next(t for t in listed if t["name"] == "duo")
    assert duo["source"].endswith("duo.toml") and [a["name"] for a in duo["agents"]] == ["boss", "doer"]
    (tmp_path / "teams" / "bad.toml").write_text('leader = "x"\n')
    bad = run_cli("teams")
    assert bad.returncode == 2 and "bad.toml is invalid" in bad.stderr and "Traceback" not in bad.stderr


def test_run_executes_parallel_branches_and_stores_everything(tmp_path):
    model = write_script(tmp_path, latency_ms=300)
    result = run_cli("run", "Write a short report on heat pumps", "--team", "research", "--model", model,
                     "--yes", "--json", "--concurrency", "4")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    run_id = events[0]["execution_id"]
    types = [e["type"] for e in events]
    assert types[0] == "run.created" and types[-1] == "run.status" and events[-1]["status"] == "completed"
    assert types.count("discussion.contribution") == 3 and "plan.approved" in types
    assert "stream.delta" not in types  # transient deltas are not part of the stored log
    # Exactly what was printed is what the file holds.
    stored = rows(tmp_path / "project.podium",
                  "SELECT seq, type FROM events WHERE execution_id = ? ORDER BY seq", run_id)
    assert [(r["seq"], r["type"]) for r in stored] == [(e["seq"], e["type"]) for e in events]

    st = subtasks(tmp_path / "project.podium", run_id)
    assert all(s["status"] == "done" for s in st.values())
    # t2 and t3 ran at the same time; t4 started only after both finished.
    assert st["t3"]["started_at"] < st["t2"]["finished_at"]
    assert st["t2"]["started_at"] < st["t3"]["finished_at"]
    assert st["t4"]["started_at"] >= max(st["t2"]["finished_at"], st["t3"]["finished_at"])
    assert st["t2"]["started_at"] >= st["t1"]["finished_at"]
    assert st["t1"]["output"] == "Output of researcher for t1."

    listed = json.loads(run_cli("runs", "--json").stdout)
    assert listed[0]["id"] == run_id and listed[0]["status"] == "completed" and listed[0]["tokens"] > 0
    assert run_id in run_cli("runs").stdout

    shown = json.loads(run_cli("show", run_id[:4], "--format", "json").stdout)
    assert shown["result"] == "FINAL REPORT on heat pumps."
    assert [s["id"] for s in shown["subtasks"]] == ["t1", "t2", "t3", "t4"]
    assert shown["subtasks"][0]["transcript"][0]["content"].startswith("Output of researcher for t1.")
    assert len(shown["discussion"]) == 3 and shown["plans"][0]["status"] == "approved"
    markdown = run_cli("show", run_id).stdout
    for heading in ("## Discussion", "## Plans", "### t4 · writer · done", "## Result", "FINAL REPORT"):
        assert heading in markdown


def test_headless_progress_view_prints_plan_progress_and_result(tmp_path):
    model = write_script(tmp_path)
    result = run_cli("run", "Heat pumps", "--model", model, "--yes")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in ("research team", "Plan v1", "Collect facts", "4/4 done", "tokens", "FINAL REPORT",
                 "completed"):
        assert text in out, text


def test_no_terminal_and_no_yes_is_a_clear_error(tmp_path):
    result = run_cli("run", "Heat pumps", "--model", write_script(tmp_path), input="")
    assert result.returncode == 2
    assert result.stderr.strip() == ("podium: error: no terminal to ask for plan approval: "
                                     "pass --yes to approve automatically")
    assert not (tmp_path / "project.podium").exists()
    for args in (["run", "x", "--team", "nope", "--yes"], ["show", "nothere"], ["resume", "nothere"]):
        bad = run_cli(*args)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr, args


def test_a_failing_subtask_leaves_dependents_waiting_and_the_run_ends_partial(tmp_path):
    # t2 fails on every attempt (after the gateway's retries); t3 is independent of it.
    fault = '[[rules]]\nsubtask = "t2"\nfault = "server_error"\n\n'
    model = write_script(tmp_path, extra=fault)
    result = run_cli("run", "Heat pumps", "--model", model, "--yes", "--json")
    assert result.returncode == 1, result.stderr
    run_id = json_lines(result.stdout)[0]["execution_id"]
    st = subtasks(tmp_path / "project.podium", run_id)
    # t4 waits for a person to retry, reassign, skip or edit t2 (`podium task`, then resume).
    assert {k: v["status"] for k, v in st.items()} == {"t1": "done", "t2": "failed", "t3": "done",
                                                       "t4": "pending"}
    assert "model call failed" in st["t2"]["error"]
    [execution] = rows(tmp_path / "project.podium", "SELECT * FROM executions")
    assert execution["status"] == "partial" and execution["result"] == "FINAL REPORT on heat pumps."
    reasons = [json.loads(r["payload"]).get("reason") or "" for r in rows(
        tmp_path / "project.podium", "SELECT payload FROM events WHERE type = 'run.status'")]
    assert any("t4" in reason and "podium task" in reason for reason in reasons), reasons


def test_reject_with_feedback_replans_on_the_terminal(tmp_path):
    replan = ('[[rules]]\nphase = "planning"\nmatch = "REJECTED"\n'
              'json = {subtasks = [{id = "only", agent = "writer", description = "Write it all"}]}\n\n')
    model = write_script(tmp_path, extra=replan)
    controller, terminal = pty.openpty()
    try:
        # Typed ahead: feedback as the answer to the first prompt, then approve the new plan.
        os.write(controller, b"One writer is enough\ny\n")
        result = subprocess.run([sys.executable, "-m", "podium", "run", "Heat pumps", "--model", model],
                                stdin=terminal, capture_output=True, text=True, timeout=180)
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Approve this plan?") == 2
    plans = rows(tmp_path / "project.podium", "SELECT version, status, feedback FROM plans ORDER BY version")
    assert [tuple(p) for p in plans] == [(1, "rejected", "One writer is enough"),
                                         (2, "approved", "One writer is enough")]
    [run_id] = [r[0] for r in rows(tmp_path / "project.podium", "SELECT id FROM executions")]
    assert list(subtasks(tmp_path / "project.podium", run_id)) == ["only"]
    markdown = run_cli("show", run_id).stdout
    assert "### Plan v1 — rejected" in markdown and "> Feedback: One writer is enough" in markdown
