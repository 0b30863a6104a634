"""`podium bench tui`: time to first frame, and keypress-to-screen latency under streaming load.

First frame: the real `podium PROJECT` command in a pseudo-terminal, timed
from process start until the home screen's text reaches the terminal.

Latency: the app runs headless in this process and follows a run while N
agents stream R tokens/s each onto the store's bus (as the engine does, in
the same event loop). A key that opens the help screen (then one that
closes it) is pressed repeatedly; latency is the time from the key event
to the first frame composed with the new screen on top. Figures are
printed, never asserted.
"""

from __future__ import annotations

import asyncio
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from podium import events as ev
from podium.app.session import ProjectSession
from podium.domain import Event

HOME_MARKER = b"New run"


def first_frame(project: Path, columns: int = 120, rows: int = 40, timeout: float = 20.0) -> float:
    """Seconds from spawning `podium PROJECT` until the home screen is on the terminal."""
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "podium", str(project)], stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True, start_new_session=True)
    os.close(slave)
    seen = b""
    elapsed = float("nan")
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                seen = (seen + chunk)[-8192:]
                if HOME_MARKER in seen:
                    elapsed = time.perf_counter() - start
                    break
        os.write(master, b"q")
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
    finally:
        # Drain so the child never blocks on a full pty, then close our end.
        while select.select([master], [], [], 0)[0]:
            try:
                if not os.read(master, 65536):
                    break
            except OSError:
                break
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return elapsed


async def _seed(project: Path, agents: list[str]) -> None:
    """A running run `bench` with one running subtask per agent, written as the engine would."""
    from podium.domain import Agent, Execution, ExecutionStatus, Plan, Subtask, SubtaskStatus, Team
    session = await ProjectSession.open(project)
    try:
        repo = session.runs
        team = Team(name="bench", leader=agents[0], agents=[Agent(name=a, role="works") for a in agents])
        plan = Plan(subtasks=[Subtask(id=f"t{i + 1}", agent=a, description=f"Work stream {i + 1}")
                              for i, a in enumerate(agents)])
        await repo.create_execution(Execution(id="bench", objective="Latency under load", team=team.name,
                                              status=ExecutionStatus.RUNNING), team)
        version = await repo.add_plan("bench", plan, fallback=False, errors=[])
        await repo.approve_plan("bench", version, plan, by="bench")
        await repo.set_subtasks_status("bench", [(s, SubtaskStatus.RUNNING, "bench") for s in plan.subtasks])
    finally:
        await session.aclose()


async def key_latency(project: Path, *, agents: int, rate: int, presses: int) -> dict[str, Any]:
    from podium.tui.app import PodiumApp
    from podium.tui.screens.modals import HelpScreen
    from podium.tui.screens.run import RunScreen

    names = [f"agent{i + 1}" for i in range(agents)]
    await _seed(project, names)
    app = PodiumApp(project)
    frames: list[tuple[float, Any]] = []
    display = app._display

    def recording_display(screen: Any, renderable: Any) -> None:
        if renderable is not None:
            # The screen's class, not the screen: holding every dismissed help screen would
            # grow the heap the garbage collector walks and slow the app being measured.
            frames.append((time.perf_counter(), type(app.screen)))
        display(screen, renderable)

    app._display = recording_display  # type: ignore[method-assign]
    published = 0
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.session.is_open or not app.screen_stack or type(app.screen).__name__ != "HomeScreen":
            await asyncio.sleep(0.02)
        app.open_run("bench")
        while not (isinstance(app.screen, RunScreen) and app.screen.loaded.is_set()):
            await asyncio.sleep(0.02)
        store = app.session.store
        assert store is not None
        stop = asyncio.Event()

        async def stream() -> None:
            # Each agent emits one delta per token at `rate` tokens/s, as the engine's delta
            # callbacks would; the offered load is kept by the clock, so a slow UI gets a
            # backlog rather than a lighter load.
            nonlocal published
            word = 0
            begin = time.perf_counter()
            while not stop.is_set():
                due = int((time.perf_counter() - begin) * rate) - published // len(names)
                batch = []
                for i, agent in enumerate(names):
                    for _ in range(max(0, due)):
                        word += 1
                        text = f"tok{word} " if word % 40 else "\n\n"
                        batch.append(Event(execution_id="bench", type=ev.STREAM_DELTA,
                                           payload=ev.StreamDelta(agent=agent, subtask_id=f"t{i + 1}",
                                                                  text=text)))
                store.bus.publish(batch)
                published += len(batch)
                await asyncio.sleep(0.01)

        loader = asyncio.create_task(stream())
        load_began = time.perf_counter()
        await asyncio.sleep(1.0)  # let the transcripts fill up first
        started = time.perf_counter()
        for n in range(presses):
            opening = n % 2 == 0
            key = "question_mark" if opening else "escape"
            t0 = time.perf_counter()
            app.simulate_key(key)
            deadline = t0 + 5
            while time.perf_counter() < deadline:
                hit = next((t for t, s in frames if t >= t0 and issubclass(s, HelpScreen) == opening), None)
                if hit is not None:
                    latencies.append(hit - t0)
                    break
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.15)
        duration = time.perf_counter() - started
        moves = await _arrow_presses(app, frames, presses)
        stop.set()
        await loader
        frame_count = sum(1 for t, _ in frames if started <= t <= started + duration)
        await pilot.pause(0.1)
    return {
        "latencies": latencies, "moves": moves, "presses": presses, "published": published,
        "tokens_per_s": published / (time.perf_counter() - load_began),
        "frames_per_s": frame_count / duration,
    }


async def _arrow_presses(app: Any, frames: list[tuple[float, Any]], presses: int) -> list[float]:
    """A key handled on the run screen itself: → / ← move the plan graph's selection.

    Latency runs from the key event to the first frame drawn after the
    selection changed (the graph and the details pane repaint in it).
    """
    from podium.tui.widgets.plan import PlanGraph

    graph = app.screen.query_one(PlanGraph)
    graph.focus()
    await asyncio.sleep(0.1)
    latencies: list[float] = []
    for n in range(presses):
        before = graph.selected
        t0 = time.perf_counter()
        app.simulate_key("right" if n % 2 == 0 else "left")
        deadline = t0 + 5
        changed_at: float | None = None
        while time.perf_counter() < deadline:
            if changed_at is None and graph.selected != before:
                changed_at = time.perf_counter()
            if changed_at is not None:
                hit = next((t for t, _ in frames if t >= changed_at), None)
                if hit is not None:
                    latencies.append(hit - t0)
                    break
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.15)
    return latencies


def _summary(latencies: list[float], presses: int) -> str:
    lat = sorted(latencies)
    if not lat:
        return "no key was seen on screen within 5 s"
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
    return (f"over {len(lat)}/{presses} presses: median {statistics.median(lat) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms (target < 100 ms)")


async def run(agents: int = 8, rate: int = 200, presses: int = 20) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "first.podium"
        await (await ProjectSession.open(home)).aclose()  # a new, empty project
        cold = await asyncio.to_thread(first_frame, home)
        warm = await asyncio.to_thread(first_frame, home)
        print(f"time to first frame (podium PROJECT in a 120x40 pty): {cold:.2f} s cold, {warm:.2f} s warm"
              " (target < 1.0 s)")
        result = await key_latency(Path(tmp) / "load.podium", agents=agents, rate=rate, presses=presses)
    print(f"streaming load: {agents} agents x {rate} tokens/s "
          f"({result['tokens_per_s']:.0f} deltas/s published on the bus)")
    print(f"frames drawn under load: {result['frames_per_s']:.1f}/s (transcripts batch at ~30 fps)")
    print("keypress-to-screen latency, ? and esc (help screen over the run) "
          + _summary(result["latencies"], presses))
    print("keypress-to-screen latency, → and ← (plan graph selection) " + _summary(result["moves"], presses))
