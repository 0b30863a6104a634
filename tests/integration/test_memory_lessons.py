"""End of a run through the real `podium` command: the final result and the leader's lessons
go to long-term memory (and the transcript), and run 2 recalls a lesson from run 1.

The scripted model answers the lessons call (phase "lessons") from a rule; the rest of
the run uses the diamond plan of run_helpers.
"""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.integration.run_helpers import json_lines, rows, write_script

PROJECT = "project.podium"
ANALYST_LESSON = "Check Norwegian electricity prices per kWh before estimating heat pump running costs."
TEAM_LESSON = "Agree on the report's outline before splitting the research."

def _json_script(tmp_path, lessons_rule: dict | None, name: str = "model.json") -> str:
    """The diamond script as JSON, so a rule can carry a real null."""
    import tomllib

    model = write_script(tmp_path, name="base.toml")
    with open(model.split(":", 1)[1], encoding="utf-8") as f:
        data = tomllib.loads(f.read())
    if lessons_rule is not None:
        data["rules"].insert(0, lessons_rule)
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return f"scripted:{path}"


LESSONS_RULE = {"phase": "lessons", "json": {"lessons": [
    {"agent": "analyst", "text": ANALYST_LESSON},
    {"agent": None, "text": TEAM_LESSON},
]}}


def _run(model: str, objective: str = "Write a short report on heat pumps", *extra: str):
    out = run_cli("run", objective, "--team", "research", "--model", model, "--yes", "--json", *extra)
    assert out.returncode == 0, out.stderr
    events = json_lines(out.stdout)
    return events[0]["execution_id"], events


def test_run_stores_result_and_leader_lessons(tmp_path):
    run_id, events = _run(_json_script(tmp_path, LESSONS_RULE))
    # The final status stays the last event: memory and lessons come before it.
    assert events[-1]["type"] == "run.status" and events[-1]["status"] == "completed"
    stored = [e for e in events if e["type"] == "memory.stored"]
    assert {(e["kind"], e["agent"]) for e in stored} >= {("result", None), ("lesson", "analyst"),
                                                         ("lesson", None)}

    listed = run_cli("memory", "list", "--kind", "lesson", "--json")
    assert listed.returncode == 0, listed.stderr
    lessons = {(m["agent"], m["text"]) for m in json.loads(listed.stdout)}
    assert lessons == {("analyst", ANALYST_LESSON), (None, TEAM_LESSON)}
    assert all(m["source_execution"] == run_id for m in json.loads(listed.stdout))

    found = run_cli("memory", "search", "final report heat pumps", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert any(h["kind"] == "result" and h["text"] == "FINAL REPORT on heat pumps." for h in hits), hits
    results = rows(tmp_path / PROJECT, "SELECT text FROM memories WHERE kind = 'result'")
    assert [r["text"] for r in results] == ["FINAL REPORT on heat pumps."]

    # In the transcript: the leader's closing message, in phase synthesis (after the CLI's
    # default automatic review), also in `podium show`.
    msgs = rows(tmp_path / PROJECT, "SELECT agent, phase, content FROM messages WHERE execution_id = ?"
                " AND content LIKE 'Lessons learned%'", run_id)
    assert [(m["agent"], m["phase"]) for m in msgs] == [("analyst", "synthesis")]
    assert ANALYST_LESSON in msgs[0]["content"] and "(team) " + TEAM_LESSON in msgs[0]["content"]
    show = run_cli("show", run_id, "--format", "json")
    assert show.returncode == 0, show.stderr
    assert any(ANALYST_LESSON in m["content"] for m in json.loads(show.stdout)["synthesis"])


def test_lessons_are_best_effort_when_the_budget_is_spent(tmp_path):
    model = _json_script(tmp_path, LESSONS_RULE)
    first, _ = _run(model)
    calls = rows(tmp_path / PROJECT, "SELECT calls FROM executions WHERE id = ?", first)[0]["calls"]
    # Exactly enough steps for everything but the lessons call.
    run_id, events = _run(model, "Write a short report on heat pumps", "--budget-steps", str(calls - 1))
    assert events[-1]["type"] == "run.status" and events[-1]["status"] == "completed"
    skipped = [e for e in events if e["type"] == "memory.lessons_skipped"]
    assert len(skipped) == 1 and skipped[0]["reason"].startswith("budget exhausted"), skipped
    lessons = rows(tmp_path / PROJECT, "SELECT count(*) AS n FROM memories WHERE kind = 'lesson'"
                   " AND source_execution = ?", run_id)
    assert lessons[0]["n"] == 0
    spent = rows(tmp_path / PROJECT, "SELECT calls FROM executions WHERE id = ?", run_id)[0]["calls"]
    assert spent == calls - 1


def test_a_lessons_reply_that_is_not_json_is_skipped_and_the_run_completes(tmp_path):
    model = _json_script(tmp_path, {"phase": "lessons", "reply": "I learned a lot today."})
    _, events = _run(model)
    assert events[-1]["status"] == "completed"
    skipped = [e for e in events if e["type"] == "memory.lessons_skipped"]
    assert len(skipped) == 1 and "lessons call failed" in skipped[0]["reason"]
    # The result is stored all the same; the failed call (and its repair round) still cost.
    assert rows(tmp_path / PROJECT, "SELECT count(*) AS n FROM memories WHERE kind = 'result'")[0]["n"] == 1


def test_run_two_recalls_a_lesson_from_run_one(tmp_path):
    model = _json_script(tmp_path, LESSONS_RULE)
    first, _ = _run(model)
    # Run 2: the analyst estimates running costs (needs the lesson), then writes a haiku (does not).
    plan = {"phase": "planning", "match": "quarterly", "json": {"rationale": "two steps", "subtasks": [
        {"id": "c1", "agent": "analyst",
         "description": "Estimate heat pump running costs from Norwegian electricity prices"},
        {"id": "c2", "agent": "analyst", "description": "Compose a haiku about autumn leaves"},
    ]}}
    second_model = _json_script(tmp_path, plan, name="second.json")
    # The objective is part of every subtask's recall query: keep it off the lesson's topic.
    second, events = _run(second_model, "Prepare notes for the quarterly meeting")
    recalled = {e["subtask_id"]: [(i["kind"], i["text"]) for i in e["items"]]
                for e in events if e["type"] == "memory.recalled"}
    assert ("lesson", ANALYST_LESSON) in recalled["c1"], recalled
    assert all(text != ANALYST_LESSON for _, text in recalled.get("c2", []))
    assert first != second


def test_with_human_review_only_the_accepted_result_is_remembered(tmp_path):
    rework_rule = {"phase": "synthesis", "match": "sent your previous result back",
                   "reply": "REVISED REPORT on heat pumps, with costs."}
    model = _json_script(tmp_path, LESSONS_RULE)
    data = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))
    data["rules"].insert(0, rework_rule)
    (tmp_path / "model.json").write_text(json.dumps(data), encoding="utf-8")

    out = run_cli("run", "Write a short report on heat pumps", "--team", "research", "--model", model,
                  "--yes", "--json", "--review")
    assert out.returncode == 3, out.stderr
    run_id = json_lines(out.stdout)[0]["execution_id"]
    memories = "SELECT kind, text FROM memories WHERE kind IN ('result', 'lesson') ORDER BY id"
    assert rows(tmp_path / PROJECT, memories) == []  # nothing is final while it awaits review

    sent = run_cli("review", run_id, "--rework", "Add the running costs")
    assert sent.returncode == 0, sent.stderr
    assert rows(tmp_path / PROJECT, memories) == []

    accepted = run_cli("review", run_id, "--accept")
    assert accepted.returncode == 0, accepted.stderr
    stored = [tuple(r) for r in rows(tmp_path / PROJECT, memories)]
    assert stored == [("result", "REVISED REPORT on heat pumps, with costs."), ("lesson", ANALYST_LESSON),
                      ("lesson", TEAM_LESSON)]
    last = rows(tmp_path / PROJECT, "SELECT type FROM events WHERE execution_id = ?"
                " ORDER BY seq DESC LIMIT 1", run_id)
    assert last[0]["type"] == "run.status"
    lessons = rows(tmp_path / PROJECT, "SELECT count(*) AS n FROM messages WHERE execution_id = ?"
                   " AND content LIKE 'Lessons learned%'", run_id)
    assert lessons[0]["n"] == 1
