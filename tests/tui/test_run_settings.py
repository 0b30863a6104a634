"""The app goes on with the settings a run was started with, and records its own for new runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.run_helpers import rows, subtasks
from tests.integration.test_run_settings import capped_script, kill_when, most_running_at_once, start
from tests.tui.conftest import RESEARCH, make_app, run_status, wait_for


async def test_a_run_killed_headless_resumes_in_the_app_as_it_was_started(project: Path,
                                                                         tmp_path: Path) -> None:
    model = capped_script(tmp_path, latency_ms=300, tool=True)
    proc = start(tmp_path, "--model", model, "--concurrency", "1", "--max-tokens", "77",
                 "--allow-tools", "run_command")
    run_id = kill_when(proc, lambda e: e["type"] == "subtask.status" and e["status"] == "done",
                       lambda e: e["type"] == "subtask.status" and e["status"] == "running")
    last = rows(project, "SELECT max(seq) FROM events")[0][0]

    app = make_app(project)  # its own model (another script), review by a person, concurrency 4
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.session.is_open, what="store")
        app.resume(run_id)
        assert app.session.is_open
        done = {"completed", "partial", "failed", "review"}
        await wait_for(pilot, lambda: app.is_live(run_id), timeout=10, what="resumed")
        await wait_for(pilot, lambda: not app.is_live(run_id), timeout=90, what="the run's end")
        assert await run_status(app, run_id) in done

    # Started with the default review (the leader's check, then accepted): it completed rather
    # than wait for a person as the app's own runs do.
    assert rows(project, "SELECT status FROM executions WHERE id = ?", run_id)[0][0] == "completed"
    after = subtasks(project, run_id)
    for sid in ("t2", "t3", "t4"):  # the run's scripted model and reply cap, not the app's
        assert after[sid]["output"].startswith(f"Output of {after[sid]['agent']} for {sid}, cap 77."), \
            after[sid]["output"]
    events = [{"type": r["type"], **json.loads(r["payload"])} for r in rows(
        project, "SELECT type, payload FROM events WHERE execution_id = ? AND seq > ? ORDER BY seq",
        run_id, last)]
    assert most_running_at_once(events) == 1
    decided = [(e["approved"], e["by"]) for e in events if e["type"] == "tool.approval_decided"]
    assert decided == [(True, "--allow-tools")]


async def test_a_run_started_in_the_app_records_the_apps_settings(project: Path) -> None:
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.session.is_open, what="store")
        app.start_run("Brief on heat pumps", "research", RESEARCH)
        row = await wait_for(pilot, lambda: rows(project, "SELECT id, settings_json FROM executions"),
                             what="run created")
        run_id = row[0]["id"]
        await wait_for(pilot, lambda: app.is_live(run_id), timeout=10, what="planning")
        await wait_for(pilot, lambda: not app.is_live(run_id), timeout=90, what="the plan")
    settings = json.loads(row[0]["settings_json"])
    script = RESEARCH.removeprefix("scripted:")
    assert settings["model"] == f"scripted:{Path(script).resolve()}"
    assert settings["review"] == "human" and settings["concurrency"] == 4
    assert settings["allow_tools"] == [] and settings["approve_plans"] is False
