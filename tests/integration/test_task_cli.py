"""The living plan through the real CLI: `podium task ...` on a run nobody drives (then
`podium resume`), and from a second process while a headless `podium run` executes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.integration.run_helpers import events_of, rows, starts, subtasks, write_script
from tests.integration.test_run_resume import read_until, start_run

# t2 fails (its agent reports it is blocked) until a person retries it; what a retried or
# re-run agent was told is echoed in its output, so the test sees it reached the prompt.
FAILS_UNTIL_RETRIED = r'''
[[rules]]
phase = "execution"
subtask = "t2"
match = "retried this subtask after it failed: use the 2023 figures"
reply = "Costs from the 2023 figures.\n```json\n{\"action\": \"done\"}\n```"

[[rules]]
phase = "execution"
subtask = "t2"
latency_ms = 0
reply = "```json\n{\"action\": \"blocked\", \"reason\": \"no cost data\"}\n```"

[[rules]]
phase = "execution"
match = "Your input changed"
reply = "Redone {subtask} with the new input.\n```json\n{\"action\": \"done\"}\n```"

[[rules]]
phase = "execution"
match = "was skipped by user"
reply = "{subtask} went on without the skipped input.\n```json\n{\"action\": \"done\"}\n```"

'''


def task(project: Path, *args: str):
    return run_cli("task", *args, "-p", str(project))


def status(project: Path) -> str:
    return rows(project, "SELECT status FROM executions")[0][0]


def test_changes_on_a_run_nobody_drives_then_resume_carries_on(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=FAILS_UNTIL_RETRIED)
    first = run_cli("run", "Write a short report on heat pumps", "--model", model, "--yes",
                    "-p", str(project))
    run_id = rows(project, "SELECT id FROM executions")[0][0]
    # The failure does not end the work's hopes: t4 waits on t2 (pending, not blocked), and the
    # run ends partial saying what waits.
    st = {k: v["status"] for k, v in subtasks(project, run_id).items()}
    assert st == {"t1": "done", "t2": "failed", "t3": "done", "t4": "pending"}, first.stdout
    assert status(project) == "partial"
    assert "waiting: t2, t4" in rows(project, "SELECT payload FROM events WHERE type = 'run.status'"
                                              " ORDER BY seq DESC LIMIT 1")[0][0]

    # Bad input: one line, exit 2, nothing written.
    plans_before = len(rows(project, "SELECT * FROM plans"))
    for args, said in [
        (("add", run_id, "Check", "--agent", "nobody"), "no agent 'nobody'"),
        (("add", run_id, "Check", "--agent", "writer", "--after", "t9"), "no subtask 't9'"),
        (("edit", run_id, "t1", "--description", "again"), "t1 is done"),
        (("edit", run_id, "t2", "--after", "t4"), "cycle"),
        (("retry", run_id, "t1"), "only a failed or blocked subtask"),
        (("skip", run_id, "t2", "--dependents", "maybe"), "proceed or block"),
        (("output", run_id, "t2", "--file", str(tmp_path / "missing.md")), "cannot read"),
    ]:
        bad = task(project, *args)
        assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
        assert said in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert len(rows(project, "SELECT * FROM plans")) == plans_before

    retried = task(project, "retry", run_id, "t2", "--note", "use the 2023 figures")
    assert retried.returncode == 0, retried.stderr
    assert "t2 will run again" in retried.stdout and "podium resume" in retried.stdout
    assert status(project) == "halted"  # re-opened: resume carries on
    added = task(project, "add", run_id, "Check the figures", "--agent", "fact-checker", "--after", "t2",
                 "--criteria", "every figure sourced")
    assert added.returncode == 0 and "added t5 (fact-checker, after t2)" in added.stdout, added.stderr
    assert task(project, "add", run_id, "Appendix", "--agent", "writer", "--after", "t5").returncode == 0
    skipped = task(project, "skip", run_id, "t5")
    assert skipped.returncode == 0 and "skipped t5" in skipped.stdout, skipped.stderr
    notes = tmp_path / "notes.md"
    notes.write_text("Facts, corrected by a person.", encoding="utf-8")
    replaced = task(project, "output", run_id, "t1", "--file", str(notes))
    assert replaced.returncode == 0, replaced.stderr
    assert "t3 will run again" in replaced.stdout

    resumed = run_cli("resume", run_id, "--yes", "-p", str(project))
    # Partial, not failed: everything ran but t5, which a person skipped (exit 1: partial).
    assert resumed.returncode == 1 and "1 skipped" in resumed.stdout, resumed.stderr
    assert status(project) == "partial"
    final = subtasks(project, run_id)
    assert final["t1"]["output"] == "Facts, corrected by a person."  # kept, not re-run
    assert final["t2"]["output"].startswith("Costs from the 2023 figures")
    assert final["t3"]["output"] == "Redone t3 with the new input."
    assert final["t5"]["status"] == "skipped"
    assert final["t6"]["output"] == "t6 went on without the skipped input."
    assert final["t4"]["status"] == "done"
    changes = events_of(project, run_id, "plan.changed")
    assert [(c["action"], c["subtask_id"], c["by"]) for c in changes] == [
        ("retry", "t2", "user"), ("add", "t5", "user"), ("add", "t6", "user"), ("skip", "t5", "user"),
        ("output", "t1", "user")]
    versions = [c["version"] for c in changes]
    assert versions == sorted(versions) and len(set(versions)) == 5
    latest = json.loads(rows(project, "SELECT plan_json FROM plans ORDER BY version DESC LIMIT 1")[0][0])
    assert [s["id"] for s in latest["subtasks"]] == ["t1", "t2", "t3", "t4", "t5", "t6"]
    shown = run_cli("show", run_id, "-p", str(project))
    assert shown.returncode == 0 and "t6" in shown.stdout, shown.stderr


def test_add_and_cancel_from_a_second_process_while_the_run_executes(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, latency_ms=2500, extra=FAILS_UNTIL_RETRIED)
    proc = start_run(tmp_path, model, "--concurrency", "1")
    try:
        seen = read_until(proc, lambda e: e["type"] == "subtask.status" and e["status"] == "running")
        run_id = seen[0]["execution_id"]
        added = task(project, "add", run_id, "Summarise sources", "--agent", "writer", "--after", "t1")
        assert added.returncode == 0, added.stderr
        assert "added t5" in added.stdout and "applied by" in added.stdout
        cancelled = task(project, "cancel", run_id, "t3", "--dependents", "proceed")
        assert cancelled.returncode == 0 and "cancelled t3" in cancelled.stdout, cancelled.stderr
        refused = task(project, "edit", run_id, "t3", "--description", "too late")
        assert refused.returncode == 2 and "t3 is cancelled" in refused.stderr
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    final = {k: v["status"] for k, v in subtasks(project, run_id).items()}
    # t5 ran in the same session; t2 failed, so t4 waits on it and the run ends partial.
    assert final == {"t1": "done", "t2": "failed", "t3": "cancelled", "t4": "pending", "t5": "done"}
    assert status(project) == "partial"
    applied = events_of(project, run_id, "intervention.applied")
    assert [a["kind"] for a in applied] == ["plan_change", "plan_change"]
    assert all(a["applied"] for a in applied)


def test_kill_9_right_after_a_change_then_resume_keeps_it_and_every_finished_output(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, latency_ms=1500)
    proc = start_run(tmp_path, model, "--concurrency", "1")
    try:
        seen = read_until(proc, lambda e: e["type"] == "subtask.status" and e["status"] == "done")
        run_id = seen[0]["execution_id"]
        done_before = {k: v["output"] for k, v in subtasks(project, run_id).items() if v["status"] == "done"}
        assert done_before
        added = task(project, "add", run_id, "Summarise sources", "--agent", "writer", "--after", "t1")
        assert added.returncode == 0 and "applied by" in added.stdout, added.stderr
        proc.kill()  # SIGKILL: no cleanup, the lease dies with the process
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    resumed = run_cli("resume", run_id, "--yes", "-p", str(project))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final = subtasks(project, run_id)
    assert {k: v["status"] for k, v in final.items()} == dict.fromkeys(["t1", "t2", "t3", "t4", "t5"], "done")
    started = starts(project, run_id)
    for sid, output in done_before.items():  # finished before the kill: kept, not re-run
        assert final[sid]["output"] == output and started.count(sid) == 1
    assert [c["subtask_id"] for c in events_of(project, run_id, "plan.changed")] == ["t5"]
    assert status(project) == "completed"
