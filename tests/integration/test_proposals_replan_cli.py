"""Agents propose work and failure leads somewhere, through the real CLI on the scripted model:
`propose_subtask` under each `--proposals` policy (bounded), decided from a second process with
`podium task proposals`; `--on-failure replan` keeping finished outputs byte-for-byte, bounded,
and resumed correctly after a kill -9 in the middle of the leader's replan call."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.integration.run_helpers import events_of, rows, starts, subtasks, write_script
from tests.integration.test_run_resume import read_until, start_run


# t2's agent proposes a glossary (after t1), t3's a list of sources; each hears the outcome, then
# finishes at its next turn (the default rule).
def _proposing(subtask: str, prose: str, signal: dict) -> str:
    reply = f"{prose}\n```json\n{json.dumps(signal)}\n```"
    return (f'[[rules]]\nphase = "execution"\nsubtask = "{subtask}"\ntimes = 1\nlatency_ms = {{latency}}\n'
            f"reply = {json.dumps(reply).replace('{', '{{').replace('}', '}}')}\n\n")


PROPOSES = _proposing("t2", "Costs analysed.", {
    "action": "propose_subtask", "description": "Write a glossary", "agent": "writer", "after": ["t1"],
    "reason": "readers need the terms"}) + _proposing("t3", "Claims checked.", {
    "action": "propose_subtask", "description": "List the sources", "agent": "researcher",
    "reason": "traceability"})

LEADER_ACCEPTS_GLOSSARY = r'''
[[rules]]
phase = "proposal"
match = "proposes a new subtask for writer: Write a glossary"
json = {accept = true, reason = "the report needs it"}

[[rules]]
phase = "proposal"
json = {accept = false, reason = "the report cites its sources already"}
'''

# t2 fails (its agent is blocked); the leader's replan drops it for a new t5 and rewires t4.
FAILS = r'''
[[rules]]
phase = "execution"
subtask = "t2"
reply = "```json\n{\"action\": \"blocked\", \"reason\": \"no cost data\"}\n```"
'''

REPLAN = r'''
[[rules]]
phase = "replan"
latency_ms = {latency}
json = {{rationale = "no cost data: estimate from the facts", subtasks = [
  {{id = "t5", agent = "researcher", description = "Estimate costs from the facts", depends_on = ["t1"]}},
  {{id = "t4", agent = "writer", description = "Write the report", depends_on = ["t5", "t3"]}},
]}}
'''

# A replan that only retries t2 (which fails again): the bound is what ends it.
REPLAN_RETRY = r'''
[[rules]]
phase = "replan"
json = {rationale = "try the costs again", subtasks = [
  {id = "t2", agent = "analyst", description = "Analyse costs", depends_on = ["t1"]},
  {id = "t4", agent = "writer", description = "Write the report", depends_on = ["t2", "t3"]},
]}
'''


def run_id_of(project: Path) -> str:
    return rows(project, "SELECT id FROM executions")[0][0]


def proposals(project: Path, run_id: str) -> list[dict]:
    out = run_cli("task", "proposals", run_id, "--json", "-p", str(project))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def transcript(project: Path, run_id: str, subtask: str) -> str:
    return "\n".join(r[0] for r in rows(project, "SELECT content FROM messages WHERE execution_id = ? AND "
                                                 "subtask_id = ? ORDER BY id", run_id, subtask))


def test_auto_accepts_at_once_and_the_bound_says_no(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=PROPOSES.format(latency=0))
    done = run_cli("run", "Report on heat pumps", "--model", model, "--yes", "--proposals", "auto",
                   "--max-proposals", "1", "--concurrency", "1", "-p", str(project))
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = run_id_of(project)
    final = subtasks(project, run_id)
    # The first proposal (t2's: t2 runs before t3 in plan order) joined the graph and ran.
    assert final["t5"]["description"] == "Write a glossary" and final["t5"]["status"] == "done"
    assert final["t5"]["agent"] == "writer" and json.loads(final["t5"]["depends_on"]) == ["t1"]
    assert "t6" not in final
    listed = proposals(project, run_id)
    assert [(p["number"], p["status"], p["decided_by"], p["proposed_by"]) for p in listed] == [
        (1, "accepted", "auto", "analyst")]
    changed = events_of(project, run_id, "plan.changed")
    assert [(c["action"], c["subtask_id"], c["by"], c["accepted_by"], c["proposal"]) for c in changed] == [
        ("add", "t5", "analyst", "auto", 1)]
    # The second agent was told no: the run's bound.
    assert "this run has had 1 proposals already" in transcript(project, run_id, "t3")
    assert json.loads(rows(project, "SELECT settings_json FROM executions")[0][0])["proposals"] == "auto"


def test_leader_accepts_one_and_declines_another_with_reasons(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=LEADER_ACCEPTS_GLOSSARY + PROPOSES.format(latency=0))
    done = run_cli("run", "Report on heat pumps", "--model", model, "--yes", "-p", str(project))
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = run_id_of(project)
    listed = {p["number"]: p for p in proposals(project, run_id)}
    by_what = {p["changes"][0]["description"]: p for p in listed.values()}
    glossary, sources = by_what["Write a glossary"], by_what["List the sources"]
    assert (glossary["status"], glossary["decided_by"], glossary["decision"]) == (
        "accepted", "analyst", "the report needs it")  # analyst leads the research team
    assert (sources["status"], sources["decision"]) == ("declined", "the report cites its sources already")
    final = subtasks(project, run_id)
    assert [s["description"] for s in final.values()].count("Write a glossary") == 1
    assert "List the sources" not in [s["description"] for s in final.values()]
    assert "declined your proposal" in transcript(project, run_id, "t3")
    decided = events_of(project, run_id, "proposal.decided")
    assert sorted(d["decision"] for d in decided) == ["accepted", "declined"]


def test_human_proposals_wait_and_are_decided_from_a_second_process(tmp_path):
    project = tmp_path / "project.podium"
    # Slow subtasks, one at a time: the run is still executing when the person decides.
    model = write_script(tmp_path, latency_ms=1500, extra=PROPOSES.format(latency=300))
    proc = start_run(tmp_path, model, "--concurrency", "1", "--proposals", "human")
    try:
        seen = read_until(proc, lambda e: e["type"] == "proposal.made")
        run_id = seen[0]["execution_id"]
        assert seen[-1]["status"] == "pending"
        bad = run_cli("task", "proposals", run_id, "--accept", "9", "-p", str(project))
        assert bad.returncode == 2 and "no proposal 9" in bad.stderr and len(bad.stderr.splitlines()) == 1
        accepted = run_cli("task", "proposals", run_id, "--accept", "1", "-p", str(project))
        assert accepted.returncode == 0, accepted.stderr
        assert "accepted proposal 1" in accepted.stdout and "applied by" in accepted.stdout
        again = run_cli("task", "proposals", run_id, "--decline", "1", "-p", str(project))
        assert again.returncode == 2 and "already accepted" in again.stderr
        read_until(proc, lambda e: e["type"] == "proposal.made" and e["number"] == 2)
        declined = run_cli("task", "proposals", run_id, "--decline", "2", "--reason", "not needed",
                           "-p", str(project))
        assert declined.returncode == 0 and "declined proposal 2" in declined.stdout, declined.stderr
        assert proc.wait(90) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    final = subtasks(project, run_id)
    assert final["t5"]["description"] == "Write a glossary" and final["t5"]["status"] == "done"
    listed = proposals(project, run_id)
    assert [(p["status"], p["decided_by"]) for p in listed] == [("accepted", "user"), ("declined", "user")]
    assert listed[1]["decision"] == "not needed"
    changed = events_of(project, run_id, "plan.changed")
    assert [(c["subtask_id"], c["by"], c["accepted_by"]) for c in changed] == [("t5", "analyst", "user")]
    applied = events_of(project, run_id, "intervention.applied")
    assert [a["kind"] for a in applied] == ["plan_change"] and applied[0]["applied"]


def test_replan_keeps_finished_outputs_byte_for_byte(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=REPLAN.format(latency=0) + FAILS)
    done = run_cli("run", "Report on heat pumps", "--model", model, "--yes", "--on-failure", "replan",
                   "--concurrency", "1", "-p", str(project))
    run_id = run_id_of(project)
    final = subtasks(project, run_id)
    assert {k: v["status"] for k, v in final.items()} == {
        "t1": "done", "t2": "skipped", "t3": "done", "t4": "done", "t5": "done"}, done.stdout + done.stderr
    # Finished before the replan: the output recorded when each finished is the output now, and
    # each ran once.
    finished: dict[str, str] = {}
    for e in events_of(project, run_id, "subtask.status"):
        if e["status"] == "done" and e.get("output") is not None:
            finished.setdefault(e["subtask_id"], e["output"])
    finished = {k: v for k, v in finished.items() if k in ("t1", "t3")}
    assert finished == {"t1": final["t1"]["output"], "t3": final["t3"]["output"]}
    started = starts(project, run_id)
    assert started.count("t1") == 1 and started.count("t3") == 1
    assert json.loads(final["t4"]["depends_on"]) == ["t5", "t3"]
    replans = proposals(project, run_id)
    assert [(p["kind"], p["status"], p["decided_by"], p["version"]) for p in replans] == [
        ("replan", "accepted", "auto", 2)]
    changed = events_of(project, run_id, "plan.changed")
    assert [(c["action"], c["subtask_id"], c["by"], c["version"]) for c in changed] == [
        ("add", "t5", "analyst", 2), ("edit", "t4", "analyst", 2), ("skip", "t2", "analyst", 2)]
    plan_v2 = json.loads(rows(project, "SELECT plan_json FROM plans WHERE version = 2")[0][0])
    assert [s["id"] for s in plan_v2["subtasks"]] == ["t1", "t2", "t3", "t4", "t5"]


def test_replans_are_bounded_then_the_failure_waits(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=REPLAN_RETRY + FAILS)
    done = run_cli("run", "Report on heat pumps", "--model", model, "--yes", "--on-failure", "replan",
                   "--max-replans", "1", "-p", str(project))
    assert done.returncode == 1, done.stdout + done.stderr  # partial: t2 failed, t4 waits on it
    run_id = run_id_of(project)
    final = {k: v["status"] for k, v in subtasks(project, run_id).items()}
    assert final == {"t1": "done", "t2": "failed", "t3": "done", "t4": "pending"}
    assert len(proposals(project, run_id)) == 1  # one replan (a retry of t2), then no more
    started = starts(project, run_id)
    assert started.count("t2") == 2
    said = [e.get("reason") or "" for e in events_of(project, run_id, "run.status")]
    assert any("no replan left (1 of 1 made)" in r for r in said), said


def test_kill_9_during_the_replan_call_then_resume(tmp_path):
    project = tmp_path / "project.podium"
    model = write_script(tmp_path, extra=REPLAN.format(latency=4000) + FAILS)
    proc = start_run(tmp_path, model, "--on-failure", "replan", "--concurrency", "1")
    try:
        seen = read_until(proc, lambda e: e["type"] == "run.status"
                          and "replanning" in (e.get("reason") or ""))
        run_id = seen[0]["execution_id"]
        before = {k: v["output"] for k, v in subtasks(project, run_id).items() if v["status"] == "done"}
        assert set(before) == {"t1", "t3"}
        proc.kill()  # in the middle of the leader's (slow) replan call
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proposals(project, run_id) == []  # nothing of the call was kept
    # Without --yes now: the new replan waits for a person, and the run ends partial saying so.
    waits = run_cli("resume", run_id, "--ask", "-p", str(project))
    assert waits.returncode == 1, waits.stdout + waits.stderr
    pending = proposals(project, run_id)
    assert [(p["kind"], p["status"]) for p in pending] == [("replan", "pending")]
    said = [e.get("reason") or "" for e in events_of(project, run_id, "run.status")]
    assert any(f"podium task proposals {run_id} --accept 1" in r for r in said), said
    accepted = run_cli("task", "proposals", run_id, "--accept", "1", "-p", str(project))
    assert accepted.returncode == 0 and "podium resume" in accepted.stdout, accepted.stderr
    resumed = run_cli("resume", run_id, "-p", str(project))
    assert resumed.returncode in (0, 1), resumed.stdout + resumed.stderr
    final = subtasks(project, run_id)
    assert {k: v["status"] for k, v in final.items()} == {
        "t1": "done", "t2": "skipped", "t3": "done", "t4": "done", "t5": "done"}
    for sid, output in before.items():  # kept byte-for-byte, never re-run
        assert final[sid]["output"] == output
    started = starts(project, run_id)
    assert started.count("t1") == 1 and started.count("t3") == 1
    assert [(p["status"], p["decided_by"]) for p in proposals(project, run_id)] == [("accepted", "user")]
