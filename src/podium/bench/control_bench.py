"""`podium bench control`: from `podium guide` in a second process to the running process recording it.

A headless `podium run` on the scripted model (slow turns, so it stays
busy) runs in a subprocess; a second process runs the real `podium guide`
CLI N times. For each, three figures:

- command → applied: from launching `podium guide` to the running process's
  `intervention.applied` event (what a person waits for; includes starting
  Python and the CLI);
- row → applied: from the guidance row being committed to that event (the
  watcher's poll plus its write);
- command total: until `podium guide` returned (it waits to report delivery).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from podium.app.queries import Queries

SCRIPT = """
seed = 1
[[rules]]
phase = "discussion"
reply = "{agent}: fine."

[[rules]]
phase = "planning"
json = {subtasks = [{id = "t1", agent = "researcher", description = "Work slowly"},
                    {id = "t2", agent = "writer", description = "Write slowly"}]}

[[rules]]
phase = "execution"
latency_ms = 60000
reply = "Still working. ```json {\\"action\\": \\"done\\"} ```"
"""


def _podium(*args: str, cwd: Path) -> list[str]:
    return [sys.executable, "-m", "podium", *args]


async def run(samples: int) -> None:
    from podium.app.session import ProjectSession

    with tempfile.TemporaryDirectory(prefix="podium-bench-control-") as tmp:
        folder = Path(tmp)
        (folder / "model.toml").write_text(SCRIPT, encoding="utf-8")
        env = {**os.environ, "PODIUM_CONFIG_DIR": str(folder / "config")}
        runner = subprocess.Popen(
            _podium("run", "Benchmark steering", "--model", f"scripted:{folder / 'model.toml'}", "--yes",
                    "--json", cwd=folder),
            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            run_id = _wait_executing(runner)
            async with ProjectSession(folder / "project.podium", readonly=True) as session:
                rows = [await _sample(session.queries, run_id, i, folder, env) for i in range(samples)]
            subprocess.run(_podium("halt", run_id, cwd=folder), cwd=folder, env=env, capture_output=True,
                           timeout=60)
            runner.wait(30)
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.wait(10)
    _report(rows)


def _wait_executing(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event["type"] == "subtask.status" and event.get("status") == "running":
            return str(event["execution_id"])
    raise RuntimeError("the benchmark run ended before executing")


async def _sample(reads: Queries, run_id: str, i: int, folder: Path, env: dict[str, str]
                  ) -> dict[str, float]:
    text = f"bench guidance {i}"
    started = time.time()
    done = await asyncio.to_thread(subprocess.run, _podium("guide", run_id, text, cwd=folder), cwd=folder,
                                   env=env, capture_output=True, text=True, timeout=60)
    returned = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"podium guide failed: {done.stderr.strip()}")
    from podium import events as ev

    row = next(i for i in await reads.interventions(run_id) if i.text == text)
    applied = next(at for at, payload in await reads.event_times(run_id, ev.INTERVENTION_APPLIED)
                   if payload.get("id") == row.id)
    return {"command_to_applied": applied - started, "row_to_applied": applied - row.created_at,
            "command_total": returned - started}


def _report(rows: list[dict[str, float]]) -> None:
    print(f"podium bench control: {len(rows)} × `podium guide` from a second process against a headless run")
    labels = {
        "command_to_applied": "command started → applied by the run",
        "row_to_applied": "row committed → applied by the run (watcher)",
        "command_total": "command started → command returned",
    }
    for key, label in labels.items():
        values = sorted(r[key] * 1000 for r in rows)
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        print(f"  {label:<48} median {statistics.median(values):7.1f} ms   p95 {p95:7.1f} ms   "
              f"max {values[-1]:7.1f} ms")
    worst = max(r["command_to_applied"] for r in rows)
    print(f"  target: command → applied under 500 ms: {'met' if worst < 0.5 else 'NOT met'} "
          f"(worst {worst * 1000:.0f} ms)")
