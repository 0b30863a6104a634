"""Durability through the real CLI: budget halts, Ctrl-C, and kill -9 at different moments, then resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import run_cli
from tests.integration.run_helpers import json_lines, rows, subtasks, write_script


def transcript_counts(project: Path, run_id: str) -> dict[str, int]:
    found = rows(project, "SELECT subtask_id, count(*) FROM messages WHERE execution_id = ?"
                          " AND subtask_id IS NOT NULL GROUP BY subtask_id", run_id)
    return {r[0]: r[1] for r in found}


def start_run(tmp_path: Path, model: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "podium", "run", "Write a short report on heat pumps", "--model", model,
         "--yes", "--json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=os.environ.copy())


def read_until(proc: subprocess.Popen[str], stop: Callable[[dict[str, Any]], bool], *,
               timeout: float = 60.0) -> list[dict[str, Any]]:
    """Events from a running `podium run --json` up to and including the first matching one.

    Bounded: when it has not come within `timeout` seconds the run is killed (its output then
    ends, so the read cannot hang) and the test fails saying so."""
    seen = []
    assert proc.stdout is not None and proc.stderr is not None
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        proc.kill()

    timer = threading.Timer(timeout, expire)
    timer.start()
    try:
        for line in proc.stdout:
            event = json.loads(line)
            seen.append(event)
            if stop(event):
                return seen
    finally:
        timer.cancel()
    if expired.is_set():
        raise AssertionError(f"timed out after {timeout:g}s waiting for an event; last seen: {seen[-3:]}")
    raise AssertionError(f"the run ended before the expected event; stderr: {proc.stderr.read()}")


def kill_when(proc: subprocess.Popen[str], stop: Callable[[dict[str, Any]], bool], *,
              after: float = 0.0) -> list[dict[str, Any]]:
    """kill -9 the run `after` seconds past the first event matching `stop`; the events seen."""
    try:
        seen = read_until(proc, stop)
        threading.Event().wait(after)
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    return seen


def test_budget_exhaustion_halts_resumably_and_resume_does_not_rerun_done_work(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path)
    # 3 perspectives + 1 plan + t1 + t2/t3 = 6-7 calls: the budget runs out before t4.
    halted = run_cli("run", "Heat pumps", "--model", model, "--yes", "--budget-steps", "6",
                     "--concurrency", "2")
    assert halted.returncode == 3, halted.stderr
    assert "step budget exhausted" in halted.stdout and "podium resume" in halted.stdout
    [execution] = rows(project, "SELECT * FROM executions")
    run_id = execution["id"]
    assert execution["status"] == "halted"
    before = subtasks(project, run_id)
    assert before["t1"]["status"] == "done" and before["t4"]["status"] == "pending"
    counts = transcript_counts(project, run_id)

    again = run_cli("resume", run_id)  # same budget: refused again, cleanly, before any call
    assert again.returncode == 3 and transcript_counts(project, run_id) == counts

    resumed = run_cli("resume", run_id, "--budget-steps", "50", "--json")
    assert resumed.returncode == 0, resumed.stderr
    after = subtasks(project, run_id)
    assert all(s["status"] == "done" for s in after.values())
    for sid, row in before.items():
        if row["status"] == "done":
            assert after[sid]["started_at"] == row["started_at"] and after[sid]["output"] == row["output"]
            assert transcript_counts(project, run_id)[sid] == counts[sid]
    types = [e["type"] for e in json_lines(resumed.stdout)]
    assert types[-2:] == ["run.result", "run.status"]
    assert json.loads(run_cli("runs", "--json").stdout)[0]["status"] == "completed"


def test_kill_9_mid_execution_then_resume_completes_without_redoing_done_subtasks(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, latency_ms=600)
    proc = start_run(tmp_path, model, "--concurrency", "2")
    seen = read_until(proc, lambda e: e["type"] == "subtask.status" and e["status"] == "done")
    # t2 and t3 start the moment t1 is done; give them time to be in flight, then kill hard.
    kill_when(proc, lambda e: e["type"] == "subtask.status" and e["status"] == "running")
    assert proc.returncode == -signal.SIGKILL
    run_id = seen[0]["execution_id"]
    [execution] = rows(project, "SELECT status, result FROM executions")
    assert execution["status"] == "running" and execution["result"] is None
    before = subtasks(project, run_id)
    assert before["t1"]["status"] == "done"
    in_flight = {sid for sid, s in before.items() if s["status"] == "running"}
    assert in_flight, {k: v["status"] for k, v in before.items()}
    counts = transcript_counts(project, run_id)

    resumed = run_cli("resume", run_id[:6], "--yes", "--json")
    assert resumed.returncode == 0, resumed.stderr
    after = subtasks(project, run_id)
    assert {s["status"] for s in after.values()} == {"done"}
    assert after["t1"]["started_at"] == before["t1"]["started_at"]
    assert after["t1"]["output"] == before["t1"]["output"] == "Output of researcher for t1."
    assert transcript_counts(project, run_id)["t1"] == counts["t1"]
    restarted = {e["subtask_id"] for e in json_lines(resumed.stdout)
                 if e["type"] == "subtask.status" and e.get("reason") == "restarted"}
    assert restarted == in_flight
    assert rows(project, "SELECT result FROM executions")[0]["result"] == "FINAL REPORT on heat pumps."
    integrity = rows(project, "PRAGMA integrity_check")[0][0]
    assert integrity == "ok"


def test_kill_9_during_the_discussion_then_resume_plans_and_finishes(tmp_path):
    project = tmp_path / "project.podium"
    slow_talk = '[[rules]]\nphase = "discussion"\nlatency_ms = 400\nreply = "{agent} has a view."\n\n'
    model = write_script(tmp_path, extra=slow_talk)
    proc = start_run(tmp_path, model)
    seen = kill_when(proc, lambda e: e["type"] == "discussion.contribution")
    run_id = seen[0]["execution_id"]
    assert rows(project, "SELECT status FROM executions")[0][0] == "planning"
    resumed = run_cli("resume", run_id, "--yes")
    assert resumed.returncode == 0, resumed.stderr
    talk = rows(project, "SELECT agent FROM messages WHERE phase = 'discussion' ORDER BY id")
    assert [r[0] for r in talk] == ["researcher", "fact-checker", "writer"]  # nobody spoke twice
    assert rows(project, "SELECT status FROM executions")[0][0] == "completed"


def test_ctrl_c_halts_cleanly_and_resume_finishes(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, latency_ms=2000)
    proc = start_run(tmp_path, model)
    try:
        seen = read_until(proc, lambda e: e["type"] == "subtask.status" and e["status"] == "running")
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err
    events = seen + json_lines(rest)
    assert any(e["type"] == "intervention" and e["kind"] == "halt" for e in events)
    run_id = seen[0]["execution_id"]
    assert rows(project, "SELECT status FROM executions")[0][0] == "halted"
    assert subtasks(project, run_id)["t1"]["status"] == "pending"  # in flight: put back, not lost
    resumed = run_cli("resume", run_id, "--yes")
    assert resumed.returncode == 0, resumed.stderr
    assert rows(project, "SELECT status FROM executions")[0][0] == "completed"


def test_kill_9_at_any_moment_never_shows_a_subtask_started_before_what_it_depends_on_ended(tmp_path):
    """Subtask starts and ends are queued on the store without waiting (ProjectStore.write_behind):
    whenever the process dies, the file holds no subtask running or done while one it depends
    on is not done, and no message of a subtask that never started; a resume finishes the run."""
    for attempt, delay in enumerate((0.0, 0.09, 0.14, 0.2)):
        folder = tmp_path / f"attempt{attempt}"
        folder.mkdir()
        project = folder / "project.podium"
        model = write_script(folder, latency_ms=40)
        proc = start_run(folder, model, "--concurrency", "2")
        seen = kill_when(proc, lambda e: e["type"] == "subtask.status" and e["status"] == "running",
                         after=delay)
        run_id = seen[0]["execution_id"]
        found = subtasks(project, run_id)
        plan = {sid: json.loads(s["depends_on"]) for sid, s in found.items()}
        for sid, s in found.items():
            if s["status"] in ("running", "done"):
                assert all(found[d]["status"] == "done" for d in plan[sid]), (attempt, sid, dict(s))
        talked = set(transcript_counts(project, run_id))
        assert talked <= {sid for sid, s in found.items() if s["started_at"] is not None}
        if rows(project, "SELECT status FROM executions")[0][0] != "completed":  # killed in time
            resumed = run_cli("resume", run_id[:6], "--yes", "--json", cwd=folder)
            assert resumed.returncode == 0, resumed.stderr
        assert {s["status"] for s in subtasks(project, run_id).values()} == {"done"}
        assert rows(project, "PRAGMA integrity_check")[0][0] == "ok"
