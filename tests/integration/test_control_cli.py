"""Steering through the real CLI: a second process against a headless `podium run` subprocess."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conftest import eventually_sync, run_cli
from tests.integration.run_helpers import events_of, json_lines, rows, subtasks, write_script
from tests.integration.test_run_resume import read_until, start_run

ASK = r'''
[[rules]]
phase = "execution"
subtask = "t2"
match = "The human answered"
reply = "Costs in metric units.\n```json\n{\"action\": \"done\"}\n```"

[[rules]]
phase = "execution"
subtask = "t2"
reply = "Which units?\n```json\n{\"action\": \"ask_human\", \"question\": \"Metric or imperial?\"}\n```"

'''

CONSULT = r'''
[[rules]]
phase = "consultation"
agent = "fact-checker"
reply = "Plausible for air-to-water; cite the NVE study."

[[rules]]
phase = "execution"
subtask = "t2"
match = "Answer from fact-checker"
reply = "Costs checked with the fact-checker.\n```json\n{\"action\": \"done\"}\n```"

[[rules]]
phase = "execution"
subtask = "t2"
reply = """```json
{"action": "consult", "peer": "fact-checker", "question": "Is COP 3.1 plausible?"}
```"""

'''

REVIEW = r'''
[[rules]]
phase = "review"
[rules.json]
result_ok = false
reasons = "costs are vague"
[[rules.json.verdicts]]
subtask_id = "t2"
ok = false
reasons = "no cost table"
[[rules.json.verdicts]]
subtask_id = "t1"
ok = true
reasons = "sources given"

[[rules]]
phase = "execution"
match = "sent your previous result back|runs again because"
reply = "Reworked {subtask} with a cost table.\n```json\n{\"action\": \"done\"}\n```"

[[rules]]
phase = "synthesis"
match = "sent your previous result back"
reply = "FINAL REPORT v2 with a cost table."

'''


def status(project: Path) -> str:
    return rows(project, "SELECT status FROM executions")[0][0]


def assert_no_turn_while_paused(project: Path, run_id: str, *, latency_s: float) -> None:
    """From the event log: between the pause and the resume at most the one turn that was in flight
    landed, and the first turn after the resume started after it (it took the script's whole latency
    from the resume on). A turn started while paused would land before the resume, or less than
    `latency_s` after it (a `podium resume` process takes longer than that margin to start)."""
    log = rows(project, "SELECT seq, type, payload, created_at FROM events WHERE execution_id = ?"
                        " AND type IN ('intervention.applied', 'message.added') ORDER BY seq", run_id)
    applied = {json.loads(r["payload"])["kind"]: r for r in log if r["type"] == "intervention.applied"}
    pause, resume = applied["pause"], applied["resume"]
    turns = [r for r in log
             if r["type"] == "message.added" and json.loads(r["payload"])["role"] == "assistant"]
    assert len([t for t in turns if pause["seq"] < t["seq"] < resume["seq"]]) <= 1
    after = [t for t in turns if t["seq"] > resume["seq"]]
    assert after, "no turn landed after the resume"
    assert after[0]["created_at"] - resume["created_at"] >= latency_s * 0.9


def test_guide_pause_resume_halt_from_a_second_process(tmp_path):
    project = tmp_path / "project.podium"
    # Turns long enough that the run is still going when each command's process starts, on a busy
    # machine too (a `podium` process takes up to ~1 s to start under load).
    model = write_script(tmp_path, latency_ms=2500)
    proc = start_run(tmp_path, model, "--concurrency", "1")
    try:
        seen = read_until(proc, lambda e: e["type"] == "subtask.status" and e["status"] == "running")
        run_id = seen[0]["execution_id"]

        guided = run_cli("guide", run_id, "Focus on residential installs")
        assert guided.returncode == 0, guided.stderr
        assert "guidance delivered" in guided.stdout and "next turn" in guided.stdout

        paused = run_cli("pause", run_id)
        assert paused.returncode == 0, paused.stderr
        assert "paused run" in paused.stdout and "applied by" in paused.stdout
        assert json.loads(run_cli("runs", "--json").stdout)[0]["status"] == "paused"
        # The turn in flight when the pause took effect lands; the next one waits for the resume
        # (checked from the event log below).
        read_until(proc, lambda e: e["type"] == "intervention.applied" and e["kind"] == "pause")
        read_until(proc, lambda e: e["type"] == "message.added" and e["role"] == "assistant")
        assert proc.poll() is None

        resumed = run_cli("resume", run_id)
        assert resumed.returncode == 0, resumed.stderr
        assert "resumed run" in resumed.stdout and status(project) == "running"
        read_until(proc, lambda e: e["type"] == "message.added" and e["role"] == "assistant")

        halted = run_cli("halt", run_id)
        assert halted.returncode == 0, halted.stderr
        assert "halted run" in halted.stdout
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3  # stopped, resumable
    assert status(project) == "halted" and "halted" in run_cli("runs").stdout
    applied = [e["kind"] for e in events_of(project, run_id, "intervention.applied")]
    assert applied == ["guidance", "pause", "resume", "halt"]
    assert_no_turn_while_paused(project, run_id, latency_s=2.5)
    assert {s["status"] for s in subtasks(project, run_id).values()} <= {"done", "pending"}

    again = run_cli("pause", run_id)  # nobody runs it now
    assert again.returncode == 2 and "is halted, not running" in again.stderr

    finished = run_cli("resume", run_id, "--yes")  # nobody holds it: driven here, as before
    assert finished.returncode == 0, finished.stderr
    assert status(project) == "completed"
    later = rows(project, "SELECT subtask_id FROM messages WHERE role = 'human' AND content LIKE ?",
                 "%Guidance from the human (cli): Focus on residential installs%")
    assert {"t3", "t4"} <= {r[0] for r in later}  # every later agent got it at its next turn


def test_help_request_is_answered_from_a_second_process(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, latency_ms=200, extra=ASK)
    proc = start_run(tmp_path, model, "--concurrency", "2")
    try:
        seen = read_until(proc, lambda e: e["type"] == "help.requested")
        run_id = seen[0]["execution_id"]
        assert seen[-1]["subtask_id"] == "t2" and seen[-1]["question"] == "Metric or imperial?"
        assert subtasks(project, run_id)["t2"]["status"] == "needs_help"

        wrong = run_cli("answer", run_id, "t1", "Metric")
        assert wrong.returncode == 2 and "has not asked for anything" in wrong.stderr
        unknown = run_cli("answer", run_id, "t9", "Metric")
        assert unknown.returncode == 2 and "no subtask 't9'" in unknown.stderr
        # Independent work goes on while t2 waits; its dependent waits.
        read_until(proc, lambda e: e["type"] == "subtask.status" and e["subtask_id"] == "t3"
                   and e["status"] == "done")
        assert subtasks(project, run_id)["t4"]["status"] == "pending"

        answered = run_cli("answer", run_id, "t2", "Use metric units")
        assert answered.returncode == 0, answered.stderr
        assert "answer for t2 delivered" in answered.stdout
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    st = subtasks(project, run_id)
    assert st["t2"]["output"] == "Costs in metric units." and st["t4"]["status"] == "done"
    asked = rows(project, "SELECT content FROM messages WHERE subtask_id = 't2' AND role = 'tool'")
    told = "The human answered your question (Metric or imperial?): Use metric units"
    assert any(told in r[0] for r in asked)


def test_consultation_by_signal_through_the_cli_and_show(tmp_path):
    model = write_script(tmp_path, extra=CONSULT)
    result = run_cli("run", "Heat pumps", "--model", model, "--yes", "--json")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    run_id = events[0]["execution_id"]
    started = next(e for e in events if e["type"] == "consultation.started")
    finished = next(e for e in events if e["type"] == "consultation.finished")
    assert (started["asker"], started["peer"], started["question"]) == ("analyst", "fact-checker",
                                                                       "Is COP 3.1 plausible?")
    assert finished["answer"] == "Plausible for air-to-water; cite the NVE study."
    shown = run_cli("show", run_id).stdout
    assert "## Consultations" in shown and "t2 · analyst → fact-checker: Is COP 3.1 plausible?" in shown
    assert "> **fact-checker** (assistant): Plausible for air-to-water" in shown
    report = json.loads(run_cli("show", run_id, "--format", "json").stdout)
    [c] = report["consultations"]
    assert c["prompt_tokens"] > 0 and c["finished_at"] >= c["started_at"]


def test_review_rework_reruns_only_what_was_sent_back(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=REVIEW)
    held = run_cli("run", "Heat pumps", "--model", model, "--yes", "--review")
    assert held.returncode == 3, held.stderr
    assert "awaits your review" in held.stdout
    [run_id] = [r[0] for r in rows(project, "SELECT id FROM executions")]
    assert status(project) == "review"

    shown = run_cli("review", run_id)
    assert shown.returncode == 0, shown.stderr
    assert "needs work: t2" in shown.stdout and "✘ t2: no cost table" in shown.stdout
    before = subtasks(project, run_id)

    reworked = run_cli("review", run_id, "--rework", "Add a cost table", "--subtask", "t2")
    assert reworked.returncode == 0, reworked.stderr
    after = subtasks(project, run_id)
    for sid in ("t1", "t3"):  # not sent back, not depending on t2: untouched
        assert after[sid]["started_at"] == before[sid]["started_at"]
        assert after[sid]["output"] == before[sid]["output"]
    for sid in ("t2", "t4"):  # sent back, and what depends on it
        assert after[sid]["started_at"] > before[sid]["started_at"]
        assert after[sid]["output"] == f"Reworked {sid} with a cost table."
    assert status(project) == "review"
    assert rows(project, "SELECT result FROM executions")[0][0] == "FINAL REPORT v2 with a cost table."

    accepted = run_cli("review", run_id, "--accept")
    assert accepted.returncode == 0 and "completed" in accepted.stdout
    decisions = rows(project, "SELECT round, decision, subtasks_json, feedback FROM reviews ORDER BY round")
    assert [tuple(r) for r in decisions] == [(1, "rework", '["t2"]', "Add a cost table"),
                                             (2, "accept", "[]", None)]
    markdown = run_cli("show", run_id).stdout
    assert "## Review, round 1 — needs work: t2" in markdown and "**Decision:** rework (t2)" in markdown


def test_bad_input_is_one_line_exit_2_and_changes_nothing(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path)
    assert run_cli("run", "Heat pumps", "--model", model, "--yes").returncode == 0
    [run_id] = [r[0] for r in rows(project, "SELECT id FROM executions")]
    count = rows(project, "SELECT count(*) FROM events")[0][0]
    assert run_cli("export", "-o", "archive.podium").returncode == 0
    digest = hashlib.sha256((tmp_path / "archive.podium").read_bytes()).hexdigest()
    cases = {
        ("guide", "nope", "x"): "no run 'nope'",
        ("guide", run_id, "x"): "already completed",
        ("halt", run_id): "already completed",
        ("answer", run_id, "t1", "yes"): "already completed",
        ("review", run_id, "--accept"): "no result awaits review",
        ("guide", run_id, "x", "--project", "archive.podium"): "exported archive",
        ("pause", run_id, "--project", "archive.podium"): "exported archive",
        ("guide", run_id, "x", "--project", "missing.podium"): "does not exist",
    }
    for args, message in cases.items():
        bad = run_cli(*args)
        assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
        assert bad.stderr.count("\n") == 1 and message in bad.stderr and "Traceback" not in bad.stderr, args
    assert rows(project, "SELECT count(*) FROM events")[0][0] == count
    assert hashlib.sha256((tmp_path / "archive.podium").read_bytes()).hexdigest() == digest


SLOW_SYNTHESIS = r'''
[[rules]]
phase = "synthesis"
latency_ms = 2000
reply = "FINAL REPORT on heat pumps."

'''
# Long enough for three `podium` commands to land while the call is in flight, on a busy machine too.
SLOWER_SYNTHESIS = SLOW_SYNTHESIS.replace("latency_ms = 2000", "latency_ms = 8000")


def statuses(project: Path, run_id: str) -> list[str]:
    return [e["status"] for e in events_of(project, run_id, "run.status")]


def test_pause_during_synthesis_from_a_second_process_holds_until_resume(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=SLOW_SYNTHESIS)
    proc = start_run(tmp_path, model, "--review")
    try:
        seen = read_until(proc, lambda e: e["type"] == "run.status" and e["status"] == "synthesising")
        run_id = seen[0]["execution_id"]

        paused = run_cli("pause", run_id)  # the synthesis call is in flight
        assert paused.returncode == 0, paused.stderr
        assert "pause requested" in paused.stdout and "when the synthesis call returns" in paused.stdout
        read_until(proc, lambda e: e["type"] == "run.status" and e["status"] == "paused")
        # Held once the synthesis call returns: the synthesis is stored, the review call does not start.
        eventually_sync(lambda: status(project) == "paused", what="the run to hold at the pause", timeout=30)
        assert proc.poll() is None
        assert rows(project, "SELECT count(*) FROM messages WHERE phase = 'synthesis'")[0][0] == 1
        assert rows(project, "SELECT count(*) FROM messages WHERE phase = 'review'")[0][0] == 0
        assert rows(project, "SELECT count(*) FROM reviews")[0][0] == 0

        resumed = run_cli("resume", run_id)
        assert resumed.returncode == 0, resumed.stderr
        assert "resumed run" in resumed.stdout
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3  # the result awaits the human's review, as without the pause
    # The pause was taken up while the synthesis call ran and took effect when it returned.
    order = [r[0] for r in rows(
        project, "SELECT CASE type WHEN 'message.added' THEN json_extract(payload, '$.phase')"
                 " ELSE json_extract(payload, '$.kind') END FROM events WHERE execution_id = ?"
                 " AND type IN ('intervention.applied', 'message.added') ORDER BY seq", run_id)]
    assert order[-4:] == ["pause", "synthesis", "resume", "review"]
    assert statuses(project, run_id)[-5:] == ["synthesising", "paused", "running", "synthesising", "review"]
    assert [e["kind"] for e in events_of(project, run_id, "intervention.applied")] == ["pause", "resume"]
    # Nothing lost or done twice: one synthesis, one review round, the result kept.
    assert rows(project, "SELECT count(*) FROM messages WHERE phase = 'synthesis'")[0][0] == 1
    assert rows(project, "SELECT count(*) FROM messages WHERE phase = 'review'")[0][0] == 1
    assert rows(project, "SELECT count(*) FROM reviews")[0][0] == 1
    assert rows(project, "SELECT result FROM executions")[0][0] == "FINAL REPORT on heat pumps."
    accepted = run_cli("review", run_id, "--accept")
    assert accepted.returncode == 0 and "completed" in accepted.stdout


def test_resume_before_a_synthesis_pause_takes_effect_cancels_it(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=SLOWER_SYNTHESIS)
    proc = start_run(tmp_path, model)
    try:
        seen = read_until(proc, lambda e: e["type"] == "run.status" and e["status"] == "synthesising")
        run_id = seen[0]["execution_id"]
        assert run_cli("pause", run_id).returncode == 0
        again = run_cli("pause", run_id)
        assert again.returncode == 0 and "already requested" in again.stdout, again.stderr
        resumed = run_cli("resume", run_id)  # the synthesis call is still in flight
        assert resumed.returncode == 0, resumed.stderr
        assert "resumed run" in resumed.stdout
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and status(project) == "completed"
    assert "paused" not in statuses(project, run_id)  # it never held
    assert [e["kind"] for e in events_of(project, run_id, "intervention.applied")] == ["pause", "resume"]
    assert rows(project, "SELECT count(*) FROM reviews")[0][0] == 1
    assert rows(project, "SELECT count(*) FROM messages WHERE phase = 'review'")[0][0] == 1
