"""The leader's verdict acts (review="auto"): failing subtasks go back for rework, bounded; a run whose
criteria are still unmet ends partial with them listed, never completed."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.integration.run_helpers import events_of, rows, subtasks, write_script

FAILS_T2 = r'''
[[rules]]
phase = "review"
{times}
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
phase = "review"
[rules.json]
result_ok = true
reasons = "fine now"
[[rules.json.verdicts]]
subtask_id = "t2"
ok = true

[[rules]]
phase = "execution"
match = "leader's review sent your previous result back"
reply = "Reworked {subtask} with a cost table.\n```json\n{\"action\": \"done\"}\n```"

'''


def statuses_of(project, run_id: str, sid: str) -> list[str]:
    return [p["status"] for p in events_of(project, run_id, "subtask.status") if p["subtask_id"] == sid]


def test_a_verdict_still_failing_after_the_rounds_ends_partial_with_the_unmet_criteria(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=FAILS_T2.replace("{times}", "times = 99"))
    ran = run_cli("run", "Heat pumps", "--model", model, "--yes", "--review-rounds", "2")
    assert ran.returncode == 1, ran.stderr  # partial
    run_id = rows(project, "SELECT id FROM executions")[0][0]
    assert rows(project, "SELECT status FROM executions")[0][0] == "partial"
    assert "criteria unmet after 2 rework rounds: t2: does what its description says — no cost table" \
        in ran.stdout.replace("\n", "")

    reviews = rows(project, "SELECT round, decision, decided_by, subtasks_json FROM reviews ORDER BY round")
    assert [(r["round"], r["decision"], r["decided_by"]) for r in reviews] == [
        (1, "rework", "leader"), (2, "rework", "leader"), (3, "accept", "auto")]
    assert json.loads(reviews[0]["subtasks_json"]) == ["t2"]
    # t2 and what depends on it (t4) ran three times; t1 and t3 once. Each round waited in Review.
    agents = rows(project, "SELECT subtask_id, count(*) FROM messages WHERE phase = 'execution' AND"
                           " role = 'assistant' GROUP BY subtask_id")
    assert dict((r[0], r[1]) for r in agents) == {"t1": 1, "t2": 3, "t3": 1, "t4": 3}
    assert statuses_of(project, run_id, "t2").count("review") == 3
    assert statuses_of(project, run_id, "t1")[-2:] == ["review", "done"]
    assert all(s["status"] == "done" for s in subtasks(project, run_id).values())

    shown = json.loads(run_cli("show", run_id, "--format", "json").stdout)
    assert shown["status"] == "partial"
    assert shown["unmet"] == ["t2: does what its description says — no cost table",
                              "result: meets the objective — costs are vague"]
    markdown = run_cli("show", run_id).stdout
    assert "## Unmet criteria" in markdown
    assert "- t2: does what its description says — no cost table" in markdown


def test_a_verdict_that_passes_after_a_rework_completes(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=FAILS_T2.replace("{times}", "times = 1"))
    ran = run_cli("run", "Heat pumps", "--model", model, "--yes")
    assert ran.returncode == 0, ran.stderr
    assert rows(project, "SELECT status FROM executions")[0][0] == "completed"
    reviews = rows(project, "SELECT decision, decided_by FROM reviews ORDER BY round")
    assert [tuple(r) for r in reviews] == [("rework", "leader"), ("accept", "auto")]
    t2 = rows(project, "SELECT output FROM subtasks WHERE id = 't2'")[0][0]
    assert t2 == "Reworked t2 with a cost table."
    run_id = rows(project, "SELECT id FROM executions")[0][0]
    assert json.loads(run_cli("show", run_id, "--format", "json").stdout)["unmet"] == []


def test_no_rework_rounds_ends_partial_at_once(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=FAILS_T2.replace("{times}", "times = 99"))
    ran = run_cli("run", "Heat pumps", "--model", model, "--yes", "--review-rounds", "0")
    assert ran.returncode == 1, ran.stderr
    assert rows(project, "SELECT status FROM executions")[0][0] == "partial"
    assert [r[0] for r in rows(project, "SELECT decision FROM reviews")] == ["accept"]
    settings = json.loads(rows(project, "SELECT settings_json FROM executions")[0][0])
    assert settings["review_rounds"] == 0
