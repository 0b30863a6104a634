"""A run records how it was started, and `podium resume` goes on that way: through the real CLI,
with runs killed by a real `kill -9`, a resume's flags overriding (and recorded), an endpoint
recorded and called again, no secret in the file, and a project file from before the settings."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from podium.store.schema import SCHEMA_VERSION
from tests.conftest import run_cli
from tests.integration.run_helpers import json_lines, rows, subtasks, write_script
from tests.support.openai_server import FakeOpenAIServer

OBJECTIVE = "Write a short report on heat pumps"
# t4's agent runs a shell command first (it waits for approval unless --allow-tools covers it).
TOOL = """
[[rules]]
phase = "execution"
subtask = "t4"
times = 1
reply = '''Running the check.
```json
{"action": "tool", "name": "run_command", "arguments": {"command": "echo checked-t4"}}
```'''
"""
# Each execution reply says which script answered and the reply cap the call asked for.
CAPPED = """
[[rules]]
phase = "execution"
latency_ms = {latency}
reply = '''{tag} of {{agent}} for {{subtask}}, cap {{max_tokens}}.
```json
{{"action": "done"}}
```'''

"""


def capped_script(folder: Path, tag: str = "Output", latency_ms: int = 0, name: str = "model.toml",
                  tool: bool = False) -> str:
    extra = (TOOL if tool else "") + CAPPED.format(latency=latency_ms, tag=tag)
    return write_script(folder, extra=extra, name=name)


def start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "podium", "run", OBJECTIVE, "--yes", "--json", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, **(env or {})})


def kill_when(proc: subprocess.Popen[str], *stops: Callable[[dict[str, Any]], bool]) -> str:
    """Read `podium run --json` events until each stop matched in turn, then kill -9; the run id."""
    assert proc.stdout is not None
    run_id = None
    try:
        for stop in stops:
            for line in proc.stdout:
                event = json.loads(line)
                run_id = event["execution_id"]
                if stop(event):
                    break
            else:
                left = proc.stderr.read() if proc.stderr else ""
                raise AssertionError(f"the run ended early; stderr: {left}")
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert run_id is not None
    return run_id


def most_running_at_once(events: list[dict[str, Any]]) -> int:
    running: set[str] = set()
    most = 0
    for e in events:
        if e["type"] == "subtask.status":
            if e["status"] == "running":
                running.add(e["subtask_id"])
            else:
                running.discard(e["subtask_id"])
            most = max(most, len(running))
    return most


def settings_of(run_id: str) -> dict[str, Any]:
    shown = run_cli("show", run_id, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_a_killed_run_resumes_with_the_model_and_settings_it_was_started_with(tmp_path):
    project = tmp_path / "project.podium"
    capped_script(tmp_path, latency_ms=400, tool=True)
    # A path relative to where the run started: recorded as an absolute one.
    proc = start(tmp_path, "--model", "scripted:model.toml",
                 "--concurrency", "1", "--max-tokens", "77", "--review", "--allow-tools", "run_command")
    done = lambda e: e["type"] == "subtask.status" and e["status"] == "done"  # noqa: E731
    running = lambda e: e["type"] == "subtask.status" and e["status"] == "running"  # noqa: E731
    run_id = kill_when(proc, done, running)
    before = subtasks(project, run_id)
    assert before["t1"]["output"].startswith("Output of researcher for t1, cap 77.")
    assert {s["status"] for s in before.values()} == {"done", "running", "pending"}

    # Another folder, no flags, a different model in the environment: the recorded ones win.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resumed = run_cli("resume", run_id, "--json", "--project", str(project), cwd=elsewhere,
                      env={"PODIUM_MODEL": "local"}, timeout=180)
    events = json_lines(resumed.stdout)
    assert resumed.returncode == 3, resumed.stderr  # --review: the result waits for a person
    assert rows(project, "SELECT status FROM executions")[0][0] == "review"
    after = subtasks(project, run_id)
    assert {s["status"] for s in after.values()} == {"review"}  # finished, awaiting the person's review
    for sid in ("t2", "t3", "t4"):  # same scripted model, same reply cap
        assert after[sid]["output"].startswith(f"Output of {after[sid]['agent']} for {sid}, cap 77."), \
            after[sid]["output"]
    assert most_running_at_once(events) == 1  # --concurrency 1 (t2 and t3 were both ready)
    # --allow-tools run_command: the tool ran without anyone asking.
    called = [e for e in events if e["type"] == "tool.called" and e["tool"] == "run_command"]
    assert called and "checked-t4" in called[0]["result"], called
    decided = [(e["approved"], e["by"]) for e in events if e["type"] == "tool.approval_decided"]
    assert decided == [(True, "--allow-tools")]
    approvals = rows(project, "SELECT decided_by, status FROM tool_approvals WHERE execution_id = ?", run_id)
    assert [tuple(r) for r in approvals] == [("--allow-tools", "approved")]

    settings = settings_of(run_id)["settings"]
    assert settings["model"] == f"scripted:{tmp_path / 'model.toml'}"
    assert set(settings["agents"]) == {"researcher", "analyst", "fact-checker", "writer"}
    assert (settings["concurrency"], settings["max_tokens"], settings["review"]) == (1, 77, "human")
    assert settings["approve_plans"] is True and settings["allow_tools"] == ["run_command"]
    assert settings["api_base"] is None
    shown = run_cli("show", run_id).stdout
    assert "## Settings" in shown and "Concurrency: 1 · max tokens per reply: 77" in shown
    assert "(--allow-tools): run_command" in shown


def test_resume_flags_override_are_recorded_and_kept_by_the_next_resume(tmp_path):
    project = tmp_path / "project.podium"
    model = capped_script(tmp_path)
    other = capped_script(tmp_path, tag="Other", name="other.toml")
    # 3 perspectives + the plan + t1: the step budget stops it before t2.
    first = run_cli("run", OBJECTIVE, "--model", model, "--yes", "--concurrency", "1", "--max-tokens", "77",
                    "--budget-steps", "5")
    assert first.returncode == 3, first.stdout + first.stderr
    [run_id] = [r[0] for r in rows(project, "SELECT id FROM executions")]
    assert subtasks(project, run_id)["t1"]["output"].startswith("Output of researcher for t1, cap 77.")

    second = run_cli("resume", run_id, "--model", other, "--max-tokens", "99", "--budget-steps", "7")
    assert second.returncode == 3, second.stdout + second.stderr  # t2 and t3 fit, then the budget stops it
    state = subtasks(project, run_id)
    assert state["t2"]["output"].startswith("Other of analyst for t2, cap 99.")
    assert state["t4"]["status"] == "pending"

    third = run_cli("resume", run_id, "--budget-steps", "100")  # no settings flags
    assert third.returncode == 0, third.stdout + third.stderr
    final = subtasks(project, run_id)
    assert final["t1"]["output"].startswith("Output of researcher for t1, cap 77.")  # done work kept
    assert final["t4"]["output"].startswith("Other of writer for t4, cap 99."), final["t4"]["output"]

    report = settings_of(run_id)
    assert report["model"] == report["settings"]["model"] == other
    assert set(report["settings"]["agents"].values()) == {other}
    assert (report["settings"]["max_tokens"], report["settings"]["concurrency"]) == (99, 1)
    assert [(h["source"], h["changed"]) for h in report["settings_history"]] == [
        ("run", []), ("resume", ["model", "max_tokens"])]
    # The event that goes with each change is in the log, in the same transaction as the row.
    changes = rows(project, "SELECT payload FROM events WHERE execution_id = ? AND type = 'run.settings'",
                   run_id)
    assert [json.loads(c[0])["max_tokens"] for c in changes] == [77, 99]
    assert "resume: model, max_tokens" in run_cli("show", run_id).stdout


def test_resume_with_bad_flags_is_one_line_and_changes_nothing(tmp_path):
    project = tmp_path / "project.podium"
    model = capped_script(tmp_path)
    assert run_cli("run", OBJECTIVE, "--model", model, "--yes", "--budget-steps", "5").returncode == 3
    [run_id] = [r[0] for r in rows(project, "SELECT id FROM executions")]
    before = rows(project, "SELECT settings_json FROM executions")[0][0]
    for args, needle in ((["--yes", "--ask"], "choose one: --yes or --ask"),
                         (["--model", "scripted:missing.toml"], "missing.toml"),
                         (["--model", "nonsense-model"], "unknown model 'nonsense-model'"),
                         (["--review", "--allow-tools", "x", "--api-base", "http://127.0.0.1:9/v1", "--model",
                           "openai/x", "--max-tokens", "99", "--model", "scripted:gone.toml"], "gone.toml")):
        out = run_cli("resume", run_id, *args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert out.stderr.strip().count("\n") == 0 and needle in out.stderr and "Traceback" not in out.stderr
    usage = run_cli("resume", run_id, "--concurrency", "0")  # checked by the option parser
    assert usage.returncode == 2 and "--concurrency" in usage.stderr and "Traceback" not in usage.stderr
    assert rows(project, "SELECT settings_json FROM executions")[0][0] == before


def test_the_recorded_api_base_is_called_on_resume_and_no_key_is_written(tmp_path):
    project = tmp_path / "project.podium"
    key = "sk-test-123"

    def slow(body: dict[str, Any], schema: dict[str, Any] | None) -> str | None:
        time.sleep(0.3)  # long enough to kill the run between requests
        return None

    with FakeOpenAIServer(reply=slow) as server:
        proc = start(tmp_path, "--model", "openai/x", "--api-base", server.base_url, "--concurrency", "1",
                     "--max-tokens", "64", env={"OPENAI_API_KEY": key})
        run_id = kill_when(proc, lambda e: e["type"] == "discussion.contribution")
        served = len(server.chat_requests())
        assert served >= 1 and rows(project, "SELECT status FROM executions")[0][0] == "planning"

        # No --api-base, no --model: without the recorded endpoint this would call api.openai.com.
        resumed = run_cli("resume", run_id, "--json", env={"OPENAI_API_KEY": key}, timeout=180)
        assert resumed.returncode in (0, 1), resumed.stderr
        assert "cannot reach" not in resumed.stderr
        later = server.chat_requests()[served:]
        assert later, "the resumed run sent nothing to the recorded endpoint"
        assert {r["model"] for r in later} == {"x"}
        # --max-tokens 64 was recorded: the perspectives still to come asked for it (the plan gets 256).
        perspectives = [r for r in later if "give your perspective" in r["messages"][-1]["content"]]
        assert perspectives and {r.get("max_tokens") for r in perspectives} == {64}, \
            [(r.get("max_tokens"), r["messages"][-1]["content"][:80]) for r in later]
        talk = rows(project, "SELECT agent FROM messages WHERE phase = 'discussion' ORDER BY id")
        assert len(talk) == 3  # the discussion went on where it stopped, through the server

    settings = settings_of(run_id)["settings"]
    assert settings["api_base"] == server.base_url and settings["model"] == "openai/x"
    # The key was in the environment of both processes and is nowhere in the project's files.
    for path in tmp_path.glob("project.podium*"):
        assert key.encode() not in path.read_bytes(), path
    assert key not in run_cli("show", run_id, "--format", "json").stdout


def test_an_endpoint_with_credentials_is_not_recorded_and_must_be_given_again(tmp_path):
    project = tmp_path / "project.podium"
    secret_url = "http://user:hunter2@127.0.0.1:9/v1"
    model = capped_script(tmp_path)
    out = run_cli("run", OBJECTIVE, "--model", model, "--api-base", secret_url, "--yes",
                  "--budget-steps", "5")
    assert out.returncode == 3, out.stdout + out.stderr
    [run_id] = [r[0] for r in rows(project, "SELECT id FROM executions")]
    for path in tmp_path.glob("project.podium*"):
        assert b"hunter2" not in path.read_bytes()
    settings = settings_of(run_id)["settings"]
    assert settings["api_base"] is None and settings["api_base_withheld"] is True
    again = run_cli("resume", run_id, "--budget-steps", "100")
    assert again.returncode == 2 and "give it again with --api-base" in again.stderr
    ok = run_cli("resume", run_id, "--budget-steps", "100", "--api-base", secret_url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for path in tmp_path.glob("project.podium*"):
        assert b"hunter2" not in path.read_bytes()


def test_a_project_file_from_before_the_settings_resumes_with_todays_defaults(tmp_path):
    project = tmp_path / "project.podium"
    model = capped_script(tmp_path)
    assert run_cli("run", OBJECTIVE, "--model", model, "--yes", "--budget-steps", "5").returncode == 3
    [run_id] = [r[0] for r in rows(project, "SELECT id FROM executions")]
    # Make it a schema v1 file, as an older Podium wrote it: no settings column, no settings event.
    conn = sqlite3.connect(project)
    conn.execute("ALTER TABLE executions DROP COLUMN settings_json")
    # ... nor what later versions added: the project board (v3), plan authors (v4), proposals (v5).
    conn.execute("DROP TABLE proposals")
    conn.execute("DROP TABLE card_runs")
    conn.execute("DROP TABLE cards")
    conn.execute("ALTER TABLE plans DROP COLUMN author")
    # ... run workspaces (v6), sources and claim checks (v7), forks (v8, v9).
    for table in ("run_workspaces", "claim_checks", "sources", "fork_reuse", "run_forks"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('allow_event_delete', 'yes')")
    conn.execute("DELETE FROM events WHERE type = 'run.settings'")
    conn.execute("DELETE FROM meta WHERE key = 'allow_event_delete'")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    shown = run_cli("show", run_id)  # read-only: the file is not migrated
    assert shown.returncode == 0, shown.stderr
    assert "Not recorded (started by an older Podium)" in shown.stdout
    assert settings_of(run_id)["settings"] is None
    assert rows(project, "PRAGMA user_version")[0][0] == 1

    resumed = run_cli("resume", run_id, "--budget-steps", "100", "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    events = json_lines(resumed.stdout)
    assert most_running_at_once(events) == 2  # today's default concurrency (4): t2 and t3 together
    final = subtasks(project, run_id)
    assert final["t4"]["output"].startswith("Output of writer for t4, cap 1024.")  # the run's model, no cap
    assert rows(project, "PRAGMA user_version")[0][0] == SCHEMA_VERSION
    report = settings_of(run_id)
    assert report["settings"]["model"] == model and report["settings"]["concurrency"] == 4
    assert [h["source"] for h in report["settings_history"]] == ["resume"]
