"""The project board through the real `podium` command on the scripted model: cards people add,
cards agents propose, and `podium work` working To do, alone and as several competing processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import eventually_sync, run_cli
from tests.integration.run_helpers import rows, write_script

PROJECT = Path("project.podium")


def _board() -> dict[str, dict]:
    out = run_cli("board", "--json")
    assert out.returncode == 0, out.stderr
    return {c["id"]: c for c in json.loads(out.stdout)}


def _add(title: str, *options: str) -> str:
    out = run_cli("board", "add", title, *options)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()[0]


def _event_count() -> int:
    return rows(PROJECT, "SELECT count(*) AS n FROM events")[0]["n"]


def test_people_manage_cards_and_bad_input_changes_nothing():
    first = _add("Compare heat-pump models under 10 kW", "--priority", "high", "--criteria", "a table",
                 "--criteria", "prices in NOK")
    second = _add("Summarise the comparison", "--after", first, "--team", "content")
    idea = _add("Look at ground-source pumps", "--backlog")
    board = _board()
    assert (first, second, idea) == ("c1", "c2", "c3")
    assert board["c1"]["column"] == "todo" and board["c1"]["priority"] == "high"
    assert board["c1"]["criteria"] == ["a table", "prices in NOK"] and board["c1"]["created_by"] == "user"
    assert board["c2"]["depends_on"] == ["c1"] and board["c2"]["team"] == "content"
    assert board["c3"]["column"] == "backlog" and board["c3"]["runs"] == []

    before = _event_count()
    for args, message in [
        (("board", "add", "x", "--after", "c9"), "no card c9"),
        (("board", "add", "x", "--priority", "huge"), "no priority 'huge'"),
        (("board", "add", "x", "--team", "nope"), "nope"),
        (("board", "edit", "c1", "--after", "c2"), "a cycle"),
        (("board", "move", "c3", "sideways"), "no column 'sideways'"),
        (("board", "move", "c42", "done"), "no card c42"),
        (("board", "edit", "c1"), "nothing to change"),
        (("board", "archive", "banana"), "not a card id"),
    ]:
        out = run_cli(*args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
    assert _event_count() == before

    assert run_cli("board", "move", "c3", "To do").returncode == 0
    assert run_cli("board", "edit", "c2", "--no-after", "--priority", "low").returncode == 0
    assert run_cli("board", "archive", "c1").returncode == 0
    board = _board()
    assert set(board) == {"c2", "c3"} and board["c3"]["column"] == "todo"
    assert board["c2"]["depends_on"] == [] and board["c2"]["priority"] == "low"
    assert "c1" in {c["id"] for c in json.loads(run_cli("board", "--json", "--archived").stdout)}
    listing = run_cli("board").stdout
    assert "To do (2)" in listing and "Look at ground-source pumps" in listing
    changes = rows(PROJECT, "SELECT payload FROM events WHERE type = 'card.changed' ORDER BY seq")
    actions = [json.loads(r["payload"])["action"] for r in changes]
    assert actions == ["added", "added", "added", "moved", "edited", "archived"]


def test_work_takes_ready_cards_by_priority_and_dependency_until_to_do_is_empty(tmp_path):
    model = write_script(tmp_path)
    _add("Gather the heat-pump facts")
    _add("Write the summary", "--after", "c1")
    _add("Fix the urgent typo", "--priority", "urgent")
    _add("Someday maybe", "--backlog")
    out = run_cli("work", "--model", model, "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    # Urgent first; the summary only once the facts were done; Backlog is never taken.
    assert [w["card"] for w in summary["worked"]] == ["c3", "c1", "c2"]
    assert all(w["column"] == "done" and w["status"] == "completed" for w in summary["worked"])
    board = _board()
    assert board["c4"]["column"] == "backlog" and board["c4"]["runs"] == []
    for ref in ("c1", "c2", "c3"):
        [run_id] = board[ref]["runs"]
        assert board[ref]["column"] == "done" and "FINAL REPORT" in board[ref]["result"]
        [run] = rows(PROJECT, "SELECT objective, status FROM executions WHERE id = ?", run_id)
        assert run["status"] == "completed" and board[ref]["title"] in run["objective"]
    # Nothing ready: a second worker takes nothing and says so.
    again = run_cli("work", "--model", model)
    assert again.returncode == 0 and "worked 0 cards" in again.stdout


def test_a_failing_card_lands_in_needs_help_and_the_others_carry_on(tmp_path):
    broken = """
[[rules]]
phase = "execution"
match = "BROKEN"
reply = "I cannot do this.\\n```json\\n{\\"action\\": \\"blocked\\", \\"reason\\": \\"no data\\"}\\n```"
"""
    model = write_script(tmp_path, extra=broken)
    _add("A BROKEN card")
    _add("A fine card")
    _add("After the broken one", "--after", "c1")
    out = run_cli("work", "--model", model, "--parallel", "2")
    assert out.returncode == 1, out.stderr
    board = _board()
    assert board["c1"]["column"] in ("needs_help", "failed")
    assert board["c2"]["column"] == "done"
    # Its dependant waits in To do for a person to sort c1 out; nothing ran it.
    assert board["c3"]["column"] == "todo" and board["c3"]["runs"] == []


def test_agents_file_follow_up_cards_into_backlog(tmp_path):
    propose = """
[[rules]]
phase = "execution"
agent = "researcher"
times = 1
reply = '''Found a gap.
```json
{"action": "propose_card", "title": "Check grid tariffs", "reason": "prices depend on them"}
```'''
"""
    model = write_script(tmp_path, extra=propose)
    _add("Compare heat pumps")
    out = run_cli("work", "--model", model)
    assert out.returncode == 0, out.stderr
    board = _board()
    [run_id] = board["c1"]["runs"]
    proposed = board["c2"]
    assert proposed["column"] == "backlog" and proposed["title"] == "Check grid tariffs"
    assert proposed["created_by"] == "researcher" and proposed["source_execution"] == run_id
    assert proposed["reason"] == "prices depend on them"
    assert board["c1"]["column"] == "done"


def _worker(model: str, *extra: str, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "podium", "work", "--model", model, *extra],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


def _claims() -> dict[str, list[str]]:
    """Who claimed each card (by host:pid), from the events."""
    claims: dict[str, list[str]] = {}
    for r in rows(PROJECT, "SELECT payload FROM events WHERE type = 'card.changed' ORDER BY seq"):
        payload = json.loads(r["payload"])
        if payload["action"] == "claimed":
            claims.setdefault(payload["card"], []).append(payload["by"])
    return claims


def _wait_for_a_subtask(status: str) -> None:
    eventually_sync(lambda: PROJECT.exists() and rows(
        PROJECT, "SELECT count(*) AS n FROM subtasks WHERE status = ?", status)[0]["n"] >= 1,
        timeout=120, what=f"a subtask {status}")


def _competing_workers(tmp_path: Path, workers: int, cards: int) -> None:
    model = write_script(tmp_path, latency_ms=50)
    for i in range(cards):
        _add(f"Card number {i + 1}")
    procs = [_worker(model, log=tmp_path / f"w{n}.log") for n in range(workers)]
    for proc in procs:
        assert proc.wait(timeout=240) == 0, (tmp_path / "w0.log").read_text()
    board = _board()
    assert all(c["column"] == "done" and len(c["runs"]) == 1 for c in board.values()), {
        k: (c["column"], c["runs"], c["result"]) for k, c in board.items()}
    claims = _claims()
    assert sorted(claims) == sorted(board) and all(len(by) == 1 for by in claims.values()), claims
    runs = rows(PROJECT, "SELECT count(*) AS n FROM executions")[0]["n"]
    assert runs == cards  # no card was run twice


def test_two_workers_claim_disjoint_cards(tmp_path):
    _competing_workers(tmp_path, workers=2, cards=6)


def test_four_workers_claim_disjoint_cards(tmp_path):
    _competing_workers(tmp_path, workers=4, cards=8)


def test_a_killed_worker_card_is_taken_over_and_its_run_resumed(tmp_path):
    model = write_script(tmp_path, latency_ms=1500)
    _add("A slow card")
    proc = _worker(model, log=tmp_path / "w.log")
    _wait_for_a_subtask("done")  # kill -9 once the card's run has finished some work
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    [card] = _board().values()
    assert card["column"] == "in_progress" and len(card["runs"]) == 1
    run_id = card["runs"][0]
    done_before = {r["id"]: r["output"] for r in rows(
        PROJECT, "SELECT id, output FROM subtasks WHERE execution_id = ? AND status = 'done'", run_id)}

    out = run_cli("work", "--model", model, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "taken over" in out.stdout and f"resumes run {run_id}" in out.stdout
    [card] = _board().values()
    assert card["column"] == "done" and card["runs"] == [run_id]
    after = {r["id"]: r["output"] for r in rows(
        PROJECT, "SELECT id, output FROM subtasks WHERE execution_id = ?", run_id)}
    assert all(after[k] == v for k, v in done_before.items())  # finished work kept, not redone


def test_ctrl_c_stops_cleanly_and_the_next_worker_resumes(tmp_path):
    model = write_script(tmp_path, latency_ms=1500)
    _add("A slow card")
    _add("Another card")
    proc = _worker(model, log=tmp_path / "w.log")
    _wait_for_a_subtask("running")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 3, (tmp_path / "w.log").read_text()
    board = _board()
    assert board["c1"]["column"] == "in_progress" and board["c2"]["column"] == "todo"
    [run] = rows(PROJECT, "SELECT status FROM executions WHERE id = ?", board["c1"]["runs"][0])
    assert run["status"] == "halted"
    out = run_cli("work", "--model", model, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    board = _board()
    assert board["c1"]["column"] == "done" and len(board["c1"]["runs"]) == 1
    assert board["c2"]["column"] == "done"


def test_board_bench_prints_its_figures():
    out = run_cli("bench", "board", "--cards", "4", "--parallel", "2", "--claimers", "2",
                  "--claim-cards", "10", timeout=300)
    assert out.returncode == 0, out.stderr
    assert "cards per minute" in out.stdout and "ideal" in out.stdout
    assert "10 of 10, 10 distinct (no card twice)" in out.stdout


def test_a_lesson_from_one_card_is_recalled_by_a_later_card(tmp_path):
    from tests.integration.test_memory_lessons import ANALYST_LESSON, LESSONS_RULE, _json_script

    model = _json_script(tmp_path, LESSONS_RULE)
    _add("Write a short report on heat pumps")
    _add("Estimate heat pump running costs from Norwegian electricity prices", "--after", "c1")
    out = run_cli("work", "--model", model)
    assert out.returncode == 0, out.stdout + out.stderr
    board = _board()
    [first], [second] = board["c1"]["runs"], board["c2"]["runs"]
    lessons = rows(PROJECT, "SELECT source_execution FROM memories WHERE kind = 'lesson' AND text = ?",
                   ANALYST_LESSON)
    assert [r["source_execution"] for r in lessons] == [first]
    recalled = [json.loads(r["payload"]) for r in rows(
        PROJECT, "SELECT payload FROM events WHERE type = 'memory.recalled' AND execution_id = ?", second)]
    assert any(item["text"] == ANALYST_LESSON for e in recalled for item in e["items"]), recalled


def test_export_carries_the_board_and_the_archive_is_read_only(tmp_path):
    model = write_script(tmp_path)
    _add("Gather the heat-pump facts")
    _add("Later", "--backlog")
    assert run_cli("work", "--model", model).returncode == 0
    before = _board()
    assert run_cli("export", "-o", "arch.podium").returncode == 0
    archived = run_cli("board", "--json", "--project", "arch.podium")
    assert archived.returncode == 0, archived.stderr
    assert {c["id"]: c for c in json.loads(archived.stdout)} == before
    size = Path("arch.podium").read_bytes()
    refused = run_cli("board", "move", "c2", "todo", "--project", "arch.podium")
    assert refused.returncode == 2 and "read-only" in refused.stderr
    assert Path("arch.podium").read_bytes() == size  # listing and refusing changed nothing


def test_the_total_budget_stops_taking_cards(tmp_path):
    model = write_script(tmp_path)
    for i in range(3):
        _add(f"Card {i + 1}")
    out = run_cli("work", "--model", model, "--total-tokens", "10", "--json")
    assert out.returncode == 3, out.stderr
    summary = json.loads(out.stdout)
    assert len(summary["worked"]) == 1 and summary["stopped"] == "the total budget is spent"
    assert [c["column"] for c in _board().values()] == ["done", "todo", "todo"]


def test_watch_takes_cards_added_while_it_waits(tmp_path):
    model = write_script(tmp_path)
    _add("First card")
    proc = _worker(model, "--watch", log=tmp_path / "w.log")
    try:
        eventually_sync(lambda: _board()["c1"]["column"] == "done", timeout=120, what="c1 done")
        _add("Added while it watches")
        eventually_sync(lambda: _board()["c2"]["column"] == "done", timeout=120, what="c2 done",
                        detail=lambda: (tmp_path / "w.log").read_text())
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 3  # stopped by the person, not because To do ran dry


def test_the_leader_files_follow_ups_from_its_review(tmp_path):
    review = """
[[rules]]
phase = "review"
json = {verdicts = [], result_ok = true, reasons = "fine", follow_ups = [
  {title = "Survey local installers", reason = "prices vary by installer"}]}
"""
    model = write_script(tmp_path, extra=review)
    out = run_cli("run", "Write a short report on heat pumps", "--model", model, "--yes")
    assert out.returncode == 0, out.stdout + out.stderr
    [run] = rows(PROJECT, "SELECT id FROM executions")
    [card] = _board().values()
    assert card["title"] == "Survey local installers" and card["column"] == "backlog"
    assert card["created_by"] == "analyst" and card["source_execution"] == run["id"]
    assert card["reason"] == "prices vary by installer"
