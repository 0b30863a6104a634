"""Board benchmark: how fast `podium work` gets through a backlog, and what a claim costs.

1. Throughput: `cards` small cards (a two-agent team, a one-subtask plan) worked
   with `parallel` cards at once through the real worker, engine, store and
   gateway on the scripted model with a fixed per-call latency. The ideal is
   the model time alone: `parallel` cards at a time, each taking its model
   calls' latency end to end (counted from the calls the first card made), so
   the ratio shows what the board, the runs' durable writes and scheduling cost.
2. Claims: `claimers` processes race to claim `claim_cards` ready cards from one
   file; each claim's latency (one IMMEDIATE transaction, waiting for the others'
   locks), and a check that no card was claimed twice.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from podium.app.board import CardFields
from podium.app.run_settings import start_settings
from podium.app.session import ProjectSession
from podium.app.work import Worker, WorkOptions

TEAM = """name = "duo"
leader = "lead"
[[agents]]
name = "lead"
role = "leads"
[[agents]]
name = "doer"
role = "does the work"
"""

SCRIPT = """seed = 1
[[rules]]
phase = "planning"
latency_ms = {latency}
json = {{rationale = "one step", subtasks = [{{id = "t1", agent = "doer", description = "Do it"}}]}}

[[rules]]
phase = "execution"
latency_ms = {latency}
reply = "Done.\\n```json\\n{{\\"action\\": \\"done\\"}}\\n```"

[[rules]]
latency_ms = {latency}
reply = "ok"
"""


async def _work(folder: Path, cards: int, parallel: int, latency_ms: int) -> tuple[float, int, int]:
    """Work `cards` cards; returns (wall seconds, cards done, model calls)."""
    project = folder / "project.podium"
    model = f"scripted:{folder / 'model.toml'}"
    settings, endpoint = start_settings(project, model=model, api_base=None, concurrency=4, max_tokens=None,
                                        review=False, yes=True, allow_tools=None)
    async with ProjectSession(project, run_settings=settings, endpoint=endpoint, tools=False) as session:
        for i in range(cards):
            await session.board.add(CardFields(title=f"Small card {i + 1}", team="duo"))
        await session.ensure_engine()
        start = time.perf_counter()
        summary = await Worker(session, WorkOptions(parallel=parallel)).run()
        wall = time.perf_counter() - start
        # Model calls as the runs recorded them (every call: discussion to lessons).
        calls = sum([(await session.runs.get_execution(w.run_id)).usage.calls for w in summary.worked])
    done = sum(1 for w in summary.worked if w.column == "done")
    return wall, done, calls


def _claimer_main(path: str, out: str) -> None:
    """One competing claimer process: claim until To do is empty, timing each claim."""

    async def go() -> None:
        session = await ProjectSession.open(Path(path), create=False)
        board = session.board
        taken: list[int] = []
        latencies: list[float] = []
        worker = f"bench:{os.getpid()}"
        try:
            while True:
                start = time.perf_counter()
                card = await board.claim_next(worker)
                latencies.append(time.perf_counter() - start)
                if card is None:
                    break
                taken.append(card.id)
        finally:
            await session.aclose()
        Path(out).write_text(json.dumps({"taken": taken, "latencies": latencies[:-1]}))

    asyncio.run(go())


async def _claims(folder: Path, cards: int, claimers: int) -> tuple[list[float], int, int]:
    project = folder / "claims.podium"
    async with ProjectSession(project) as session:
        for i in range(cards):
            await session.board.add(CardFields(title=f"Claim me {i + 1}"))
    procs = [subprocess.Popen([sys.executable, "-m", "podium.bench.board_bench", "claim", str(project),
                               str(folder / f"claims{n}.json")]) for n in range(claimers)]
    for proc in procs:
        if await asyncio.to_thread(proc.wait) != 0:
            raise RuntimeError("a claimer process failed")
    latencies: list[float] = []
    taken: list[int] = []
    for n in range(claimers):
        data = json.loads((folder / f"claims{n}.json").read_text())
        latencies += data["latencies"]
        taken += data["taken"]
    return latencies, len(taken), len(set(taken))


async def run(cards: int = 200, parallel: int = 8, latency_ms: int = 50, claimers: int = 4,
              claim_cards: int = 400) -> None:
    with tempfile.TemporaryDirectory(prefix="podium-bench-board-") as tmp:
        folder = Path(tmp)
        (folder / "teams").mkdir()
        (folder / "teams" / "duo.toml").write_text(TEAM, encoding="utf-8")
        (folder / "model.toml").write_text(SCRIPT.format(latency=latency_ms), encoding="utf-8")
        # One card alone (after a warm-up card: the first pays for imports): how many calls a card
        # makes, hence the ideal.
        await _one(folder / "warm", latency_ms)
        one_wall, _, calls_per_card = await _one(folder / "one", latency_ms)
        wall, done, calls = await _work(folder, cards, parallel, latency_ms)
        card_model_s = calls_per_card * latency_ms / 1000
        ideal_s = math.ceil(cards / parallel) * card_model_s
        latencies, claimed, distinct = await _claims(folder, claim_cards, claimers)
    per_min = done / wall * 60
    ideal_per_min = cards / ideal_s * 60
    print(f"board benchmark ({cards} cards, --parallel {parallel}, scripted model {latency_ms} ms a call)")
    print(f"  one card alone                  {one_wall:6.2f} s  ({calls_per_card} model calls = "
          f"{card_model_s:.2f} s of model time)")
    print(f"  {cards} cards worked              {wall:6.2f} s  ({done} done, {calls} model calls)")
    print(f"  cards per minute                {per_min:8.1f}   ideal {ideal_per_min:.1f}  "
          f"ratio {per_min / ideal_per_min:.2f}")
    overhead = (wall - ideal_s) / cards * parallel
    print(f"  orchestration per card          {overhead * 1000:6.0f} ms  (wall over the ideal, per slot)")
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 20 else max(latencies)
    print(f"  claim latency, {claimers} processes     median {statistics.median(latencies) * 1000:.1f} ms  "
          f"p95 {p95 * 1000:.1f} ms   target p95 < 50 ms")
    print(f"  cards claimed                   {claimed} of {claim_cards}, {distinct} distinct "
          f"({'no card twice' if claimed == distinct == claim_cards else 'WRONG'})")
    print(f"  ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f})")


async def _one(single: Path, latency_ms: int) -> tuple[float, int, int]:
    single.mkdir()
    (single / "teams").mkdir()
    (single / "teams" / "duo.toml").write_text(TEAM, encoding="utf-8")
    (single / "model.toml").write_text(SCRIPT.format(latency=latency_ms), encoding="utf-8")
    return await _work(single, 1, 1, latency_ms)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "claim":
        _claimer_main(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python -m podium.bench.board_bench claim PROJECT OUT.json")
