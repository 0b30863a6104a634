"""`podium fork`, `podium diff` and `podium runs --tree` through the real CLI on the scripted model:
only the part that runs again calls the model, reused work is copied byte for byte, an edited
output reaches its dependents, archives and running runs can be forked, and a fork killed with
kill -9 is resumed by `podium resume`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli
from tests.integration.run_helpers import events_of, json_lines, rows, subtasks, write_script
from tests.integration.test_run_resume import kill_when, read_until, start_run

# t4 (the writer, after t2 and t3) says whether its prompt carried the person's edit of t2.
SEES_THE_EDIT = r'''
[[rules]]
phase = "execution"
subtask = "t4"
match = "Edited by a person: heat pumps cost 9000 EUR"
reply = "t4 built on the edited costs.\n```json\n{\"action\": \"done\"}\n```"
'''

# The diamond run's calls: 3 perspectives, the plan, 4 subtasks, the synthesis, the leader's
# review and its lessons.
PLAN_CALLS = 4


def fork(project: Path, *args: str, **kw):
    return run_cli("fork", *args, "-p", str(project), **kw)


def first_run(tmp_path: Path, extra: str = "", **kw) -> tuple[Path, str, str]:
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=extra, **kw)
    done = run_cli("run", "Write a short report on heat pumps", "--model", model, "--yes", "-p", str(project))
    assert done.returncode == 0, done.stderr
    return project, rows(project, "SELECT id FROM executions")[0][0], model


def run_row(project: Path, run_id: str):
    return rows(project, "SELECT * FROM executions WHERE id = ?", run_id)[0]


def fork_id(project: Path, parent: str) -> str:
    found = rows(project, "SELECT execution_id FROM run_forks WHERE parent_id = ? ORDER BY created_at DESC",
                 parent)
    return found[0][0]


def messages(project: Path, run_id: str, subtask: str) -> list[tuple[str, str, float]]:
    return [(r["role"], r["content"], r["created_at"]) for r in rows(
        project, "SELECT * FROM messages WHERE execution_id = ? AND subtask_id = ? ORDER BY id", run_id,
        subtask)]


def test_a_fork_reruns_only_what_changed_and_an_edit_reaches_its_dependents(tmp_path):
    project, parent, _ = first_run(tmp_path, extra=SEES_THE_EDIT)
    before = subtasks(project, parent)
    notes = tmp_path / "notes.md"
    notes.write_text("Edited by a person: heat pumps cost 9000 EUR.\n", encoding="utf-8")

    made = fork(project, parent, "--from", "t3", "--edit", f"t2={notes}", "--yes")
    assert made.returncode == 0, made.stderr
    child = fork_id(project, parent)
    assert f"fork {child} of {parent}: reused t1, t2 (edited); runs again: t3, t4" in made.stdout
    after = subtasks(project, child)
    assert {k: v["status"] for k, v in after.items()} == dict.fromkeys(("t1", "t2", "t3", "t4"), "done")
    # Reused: byte for byte, with the usage and times of the run that made it, and its transcript.
    assert after["t1"]["output"] == before["t1"]["output"]
    for column in ("prompt_tokens", "completion_tokens", "cost_usd", "calls", "started_at", "finished_at"):
        assert after["t1"][column] == before["t1"][column], column
    assert messages(project, child, "t1") == messages(project, parent, "t1")
    # Edited: the file's text exactly, and t4 (after t2) was given it.
    assert after["t2"]["output"] == notes.read_text(encoding="utf-8")
    assert after["t4"]["output"] == "t4 built on the edited costs."
    assert before["t4"]["output"] == "Output of writer for t4."
    # Only the part that runs again called the model: t3, t4, the synthesis, review and lessons,
    # none of the discussion, the plan, t1 or t2.
    parent_calls, child_calls = run_row(project, parent)["calls"], run_row(project, child)["calls"]
    assert parent_calls == PLAN_CALLS + 4 + 3
    assert child_calls == parent_calls - PLAN_CALLS - 2
    forked_at = rows(project, "SELECT created_at FROM run_forks WHERE execution_id = ?", child)[0][0]
    new = rows(project, "SELECT DISTINCT subtask_id FROM messages WHERE execution_id = ? AND created_at >= ?"
                        " AND subtask_id IS NOT NULL", child, forked_at)
    assert {r[0] for r in new} == {"t3", "t4"}
    assert after["t3"]["started_at"] > forked_at
    # The lineage, in the file and in `podium show --format json`.
    [lineage] = events_of(project, child, "run.forked")
    assert lineage == {"parent": parent, "from_subtasks": ["t3"], "edited": ["t2"], "reused": ["t1", "t2"],
                       "rerun": ["t3", "t4"], "changes": []}
    shown = json.loads(run_cli("show", child, "--format", "json", "-p", str(project)).stdout)
    assert shown["fork"]["parent"] == parent and shown["fork"]["from"] == ["t3"]
    reused = {s["id"]: s["reused_from"] for s in shown["subtasks"]}
    assert reused == {"t1": {"run": parent, "subtask": "t1", "edited": False},
                      "t2": {"run": parent, "subtask": "t2", "edited": True}, "t3": None, "t4": None}
    md = run_cli("show", child, "-p", str(project)).stdout
    assert f"Fork of {parent} from t3" in md
    assert f"t2 · analyst · done · reused from {parent} (output edited)" in md
    # The parent is untouched.
    assert subtasks(project, parent) == before

    # A fork of the fork, with another objective: everything reused but what runs again.
    again = fork(project, child[:6], "--from", "t4", "--objective", "A one-page brief on heat pumps", "--yes",
                 "--json")
    assert again.returncode == 0, again.stderr
    grandchild = fork_id(project, child)
    assert run_row(project, grandchild)["objective"] == "A one-page brief on heat pumps"
    assert subtasks(project, grandchild)["t2"]["output"] == after["t2"]["output"]
    assert events_of(project, grandchild, "run.forked")[0]["changes"] == ["objective"]
    assert run_row(project, grandchild)["calls"] == 1 + 3
    types = [e["type"] for e in json_lines(again.stdout)]
    assert types[0] == "run.created" and "run.forked" in types and types[-1] == "run.status"

    tree = run_cli("runs", "--tree", "-p", str(project))
    assert tree.returncode == 0, tree.stderr
    lines = [line for line in tree.stdout.splitlines()
             if parent in line or child in line or grandchild in line]
    assert lines[0].startswith(parent) and lines[1].startswith(f"↳ {child}")
    assert lines[2].startswith(f"  ↳ {grandchild}") and f"fork of {child} from t4" in lines[2]
    listed = json.loads(run_cli("runs", "--tree", "--json", "-p", str(project)).stdout)
    assert [(r["id"], r["parent"], r["depth"]) for r in listed] == [
        (parent, None, 0), (child, parent, 1), (grandchild, child, 2)]


def test_bad_fork_requests_are_one_line_and_write_nothing(tmp_path):
    project, parent, _ = first_run(tmp_path)
    notes = tmp_path / "notes.md"
    notes.write_text("x", encoding="utf-8")
    runs_before = len(rows(project, "SELECT id FROM executions"))
    for args, said in [
        (("--from", "t9"), "no subtask 't9'"),
        (("--edit", "t2"), "SUBTASK=FILE"),
        (("--edit", f"t3={tmp_path / 'missing.md'}"), "cannot read"),
        (("--from", "t1", "--edit", f"t2={notes}"), "t2 runs again in the fork (it depends on t1)"),
        (("--edit", f"t2={notes}", "--from", "t2"), "both edited and run again"),
        (("--team", "software", "--from", "t2"), "has no agent 'analyst'"),
    ]:
        bad = fork(project, parent, *args, "--yes")
        assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
        assert said in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, (args, bad.stderr)
    assert fork(project, "nope", "--yes").returncode == 2
    assert len(rows(project, "SELECT id FROM executions")) == runs_before
    assert rows(project, "SELECT count(*) FROM run_forks")[0][0] == 0


def test_diff_shows_plan_output_result_and_usage(tmp_path):
    project, parent, _ = first_run(tmp_path)
    notes = tmp_path / "notes.md"
    notes.write_text("New costs.\n", encoding="utf-8")
    assert fork(project, parent, "--edit", f"t2={notes}", "--yes").returncode == 0
    child = fork_id(project, parent)
    # A third run with another plan: t2 reworded, t3 gone, t5 added.
    other = write_script(tmp_path, name="other.toml", extra='''
[[rules]]
phase = "planning"
json = {rationale = "r", subtasks = [
  {id = "t1", agent = "researcher", description = "Collect facts", acceptance_criteria = ["sources"]},
  {id = "t2", agent = "writer", description = "Analyse costs twice", depends_on = ["t1"]},
  {id = "t4", agent = "writer", description = "Write the report", depends_on = ["t2"]},
  {id = "t5", agent = "fact-checker", description = "Check the report", depends_on = ["t4"]},
]}

[[rules]]
phase = "synthesis"
reply = "ANOTHER REPORT."
''')
    made = run_cli("run", "Write a short report on heat pumps", "--model", other, "--yes", "-p", str(project))
    assert made.returncode == 0, made.stderr
    third = rows(project, "SELECT id FROM executions ORDER BY created_at DESC LIMIT 1")[0][0]

    as_json = run_cli("diff", parent, child, "--format", "json", "-p", str(project))
    assert as_json.returncode == 0, as_json.stderr
    d = json.loads(as_json.stdout)
    assert d["b"]["parent"] == parent and d["added"] == [] and d["removed"] == []
    by_id = {s["id"]: s for s in d["subtasks"]}
    assert by_id["t1"]["output_same"] and by_id["t1"]["reused_from"]["run"] == parent
    assert not by_id["t2"]["output_same"] and by_id["t2"]["reused_from"]["edited"]
    assert "-Output of analyst for t2." in by_id["t2"]["output_diff"]
    assert "+New costs." in by_id["t2"]["output_diff"]
    assert d["a"]["usage"]["calls"] > d["b"]["usage"]["calls"] > 0

    plan = json.loads(run_cli("diff", parent, third, "--format", "json", "-p", str(project)).stdout)
    assert plan["added"] == ["t5"] and plan["removed"] == ["t3"]
    changed = {s["id"]: s["changed"] for s in plan["subtasks"]}
    assert changed["t2"] == {"description": ["Analyse costs", "Analyse costs twice"],
                             "agent": ["analyst", "writer"]}
    assert changed["t4"] == {"depends_on": [["t2", "t3"], ["t2"]]}
    assert not plan["result_same"] and "+ANOTHER REPORT." in plan["result_diff"]

    md = run_cli("diff", parent, third, "-p", str(project))
    assert md.returncode == 0, md.stderr
    assert "- added t5" in md.stdout and "- removed t3" in md.stdout
    assert "- t2 agent: analyst → writer" in md.stdout and "## Result" in md.stdout
    assert "| tokens |" in md.stdout and "```diff" in md.stdout
    assert run_cli("diff", parent, "nope", "-p", str(project)).returncode == 2
    assert run_cli("diff", parent, child, "--format", "xml", "-p", str(project)).returncode == 2


def test_fork_a_run_of_an_archive_into_another_project(tmp_path):
    project, parent, _ = first_run(tmp_path)
    archive = tmp_path / "run.podium"
    assert run_cli("export", str(project), "-o", str(archive)).returncode == 0
    refused = fork(archive, parent, "--yes")
    assert refused.returncode == 2 and "--archive" in refused.stderr
    elsewhere = tmp_path / "elsewhere" / "mine.podium"
    elsewhere.parent.mkdir()
    made = fork(elsewhere, parent[:6], "--archive", str(archive), "--from", "t4", "--yes")
    assert made.returncode == 0, made.stderr
    child = fork_id(elsewhere, parent)
    original = subtasks(project, parent)
    imported = subtasks(elsewhere, parent)  # the run came along whole, as it was
    assert {k: dict(v) for k, v in imported.items()} == {k: dict(v) for k, v in original.items()}
    assert events_of(elsewhere, parent, "subtask.status") == events_of(project, parent, "subtask.status")
    forked = subtasks(elsewhere, child)
    for sid in ("t1", "t2", "t3"):
        assert forked[sid]["output"] == original[sid]["output"]
    assert run_row(elsewhere, child)["calls"] == 1 + 3  # t4, then synthesis, review, lessons
    # Again: the run is already in the project (imported once), and the archive is unchanged.
    assert fork(elsewhere, parent, "--archive", str(archive), "--from", "t4", "--yes").returncode == 0
    assert len(rows(elsewhere, "SELECT id FROM executions WHERE id = ?", parent)) == 1
    assert len(rows(archive, "SELECT id FROM executions")) == 1


def test_fork_a_run_another_process_is_still_running(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, latency_ms=1500)
    proc = start_run(tmp_path, model, "--concurrency", "1")
    try:
        seen = read_until(proc, lambda e: e["type"] == "subtask.status" and e["status"] == "done")
        parent = seen[0]["execution_id"]
        assert seen[-1]["subtask_id"] == "t1"
        made = fork(project, parent, "--yes")  # while t2 runs over there
        assert made.returncode == 0, made.stderr
        proc.wait(90)
    finally:
        if proc.poll() is None:
            proc.kill()
    child = fork_id(project, parent)
    [lineage] = events_of(project, child, "run.forked")
    # The snapshot: what was finished when the fork was made (t1), the rest ran again here.
    assert lineage["reused"] == ["t1"] and lineage["rerun"] == ["t2", "t3", "t4"]
    assert run_row(project, parent)["status"] == "completed" == run_row(project, child)["status"]
    assert subtasks(project, child)["t1"]["output"] == subtasks(project, parent)["t1"]["output"]
    assert {r[0] for r in rows(project, "SELECT DISTINCT subtask_id FROM messages WHERE execution_id = ?"
                                        " AND subtask_id IS NOT NULL", child)} == {"t1", "t2", "t3", "t4"}


def test_kill_9_during_a_fork_then_resume_finishes_it(tmp_path):
    project, parent, _ = first_run(tmp_path)
    slow = write_script(tmp_path, latency_ms=1500, name="slow.toml")
    proc = subprocess.Popen(
        [sys.executable, "-m", "podium", "fork", parent, "--from", "t2", "--model", slow, "--yes", "--json",
         "-p", str(project)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    kill_when(proc, lambda e: e["type"] == "subtask.status" and e["status"] == "running")
    assert proc.returncode == -signal.SIGKILL
    # The fork was made whole before anything ran: lineage, plan, the reused work, all there.
    child = fork_id(project, parent)
    assert run_row(project, child)["status"] == "running"
    assert subtasks(project, child)["t1"]["status"] == "done"
    assert rows(project, "SELECT count(*) FROM fork_reuse WHERE execution_id = ?", child)[0][0] == 2
    resumed = run_cli("resume", child, "--yes", "-p", str(project))
    assert resumed.returncode == 0, resumed.stderr
    final = subtasks(project, child)
    assert {s["status"] for s in final.values()} == {"done"}
    first = subtasks(project, parent)
    assert final["t1"]["output"] == first["t1"]["output"]
    assert final["t1"]["started_at"] == first["t1"]["started_at"]
    assert final["t3"]["output"] == first["t3"]["output"]
    assert rows(project, "PRAGMA integrity_check")[0][0] == "ok"
