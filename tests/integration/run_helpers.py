"""Helpers for `podium run` integration tests: scripted-model files and reading the project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The same SQLite library as the app's store: two copies of SQLite in one process (the stdlib's and
# pysqlite3's) do not see each other's locks or shared-memory index, and a test that reads the file
# while an in-process app writes it crashed with SIGBUS.
from pysqlite3 import dbapi2 as sqlite3

DIAMOND = """
[[rules]]
phase = "discussion"
reply = "{agent}: a short perspective."

[[rules]]
phase = "planning"
json = {rationale = "gather, two branches, write", subtasks = [
  {id = "t1", agent = "researcher", description = "Collect facts", acceptance_criteria = ["sources"]},
  {id = "t2", agent = "analyst", description = "Analyse costs", depends_on = ["t1"]},
  {id = "t3", agent = "fact-checker", description = "Check claims", depends_on = ["t1"]},
  {id = "t4", agent = "writer", description = "Write the report", depends_on = ["t2", "t3"]},
]}

[[rules]]
phase = "synthesis"
reply = "FINAL REPORT on heat pumps."
"""

EXECUTION = """
[[rules]]
phase = "execution"
latency_ms = {latency}
reply = "Output of {{agent}} for {{subtask}}.\\n```json\\n{{\\"action\\": \\"done\\"}}\\n```"
"""


def write_script(folder: Path, *, latency_ms: int = 0, extra: str = "", name: str = "model.toml") -> str:
    """A scripted model: `extra` rules come first, so they win over the defaults."""
    path = folder / name
    path.write_text("seed = 1\n" + extra + DIAMOND + EXECUTION.format(latency=latency_ms), encoding="utf-8")
    return f"scripted:{path}"


def db(path: Path) -> sqlite3.Connection:
    """Plain read access for assertions (these tables need no extension)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def rows(path: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    conn = db(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def subtasks(path: Path, run_id: str) -> dict[str, sqlite3.Row]:
    return {r["id"]: r for r in rows(path, "SELECT * FROM subtasks WHERE execution_id = ? ORDER BY position",
                                     run_id)}


def events_of(path: Path, run_id: str, kind: str) -> list[dict[str, Any]]:
    """The payloads of one run's events of one type, in order."""
    found = rows(path, "SELECT payload FROM events WHERE execution_id = ? AND type = ? ORDER BY seq",
                 run_id, kind)
    return [json.loads(r[0]) for r in found]


def starts(path: Path, run_id: str) -> list[str]:
    """The subtask ids of a run in the order they started running (once per start)."""
    return [e["subtask_id"] for e in events_of(path, run_id, "subtask.status") if e["status"] == "running"]


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
