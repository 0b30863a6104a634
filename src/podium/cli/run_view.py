"""What a headless run shows: rich live progress, or JSON lines of events.

Both render from the store's event bus only (committed events plus the
transient stream deltas), exactly as the TUI does; neither owns state.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from podium import events as ev
from podium.domain import Event, Phase, Plan
from podium.runview import RunState

_SYMBOL = {"pending": "○", "running": "●", "waiting_peer": "◐", "needs_help": "⚑", "review": "◇",
           "done": "✔", "failed": "✘", "blocked": "⊘"}
_STYLE = {"pending": "dim", "running": "yellow", "waiting_peer": "cyan", "needs_help": "magenta",
          "done": "green", "failed": "red", "blocked": "red"}


def plan_table(plan: Plan, title: str = "Plan") -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left", expand=False, show_lines=False)
    table.add_column("id", style="bold")
    table.add_column("agent")
    table.add_column("after")
    table.add_column("description")
    table.add_column("accept when", style="dim")
    table.add_column("est. tokens", justify="right")
    for s in plan.subtasks:
        table.add_row(s.id, s.agent, ", ".join(s.depends_on) or "-", s.description,
                      "; ".join(s.acceptance_criteria) or "-", f"{s.estimated_tokens:,}")
    return table


class JsonLines:
    """Every committed event as one JSON object per line on stdout (its payload as written),
    folded into the run's view as it goes (`state`), like the live panel."""

    def __init__(self) -> None:
        self.out = sys.stdout
        self.closed = False
        self.state = RunState("")

    def handle(self, event: Event) -> None:
        if isinstance(event.payload, ev.StreamDelta):
            return
        self.state.apply(event)
        if self.closed:
            return
        line = json.dumps({"seq": event.seq, "type": event.type, "execution_id": event.execution_id,
                           "created_at": event.created_at, **event.payload.as_dict()}, default=str)
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except BrokenPipeError:
            # The reader went away (`| head`): keep running, stop printing, and keep
            # Python from complaining when it flushes stdout at exit.
            self.closed = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())


class LiveProgress:
    """A rich panel: run status, subtasks with their state, tokens, cost, elapsed.

    The run itself is the shared reducer's (`podium.runview.RunState`) folded from the bus;
    this keeps only what is display: the streamed tail of each running subtask."""

    def __init__(self, console: Any, objective: str, team: str, model: str) -> None:
        self.console = console
        self.objective = objective
        self.team = team
        self.model = model
        self.state = RunState("")
        self.started = time.monotonic()
        self.live: Any = None
        self.streaming: dict[str, str] = {}

    @property
    def lessons(self) -> list[tuple[str | None, str]]:
        """The leader's end-of-run lessons (agent or None, text)."""
        return self.state.lessons

    @property
    def lessons_skipped(self) -> str | None:
        """Why there are no lessons, if the leader's call for them failed."""
        return self.state.lessons_skipped

    # -------------------------------------------------------------- events

    def handle(self, event: Event) -> None:
        p = event.payload
        if isinstance(p, ev.StreamDelta):
            if p.subtask_id:
                self.streaming[p.subtask_id] = (self.streaming.get(p.subtask_id, "") + p.text)[-200:]
        else:
            self.state.apply(event)
            if isinstance(p, ev.MessageAdded):
                if p.subtask_id in self.state.subtasks:
                    self.streaming.pop(p.subtask_id or "", None)
                if p.phase is Phase.DISCUSSION and self.live is None:
                    self.console.print(f"[bold]{p.agent}[/bold]: {p.content.strip()}")
        if self.live is not None:
            self.live.update(self.render())

    # -------------------------------------------------------------- rendering

    def render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        state = self.state
        elapsed = time.monotonic() - self.started
        counts: dict[str, int] = {}
        for task in state.subtasks.values():
            counts[task.status.value] = counts.get(task.status.value, 0) + 1
        head = Text.assemble(
            (f"{state.status.value}", "bold"), "  ",
            f"{counts.get('done', 0)}/{len(state.subtasks)} done · {counts.get('running', 0)} running · ",
            f"tokens {state.usage.tokens:,} · ${state.usage.cost_usd:.4f} · "
            f"steps {state.steps} · {int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}",
        )
        table = Table(box=None, expand=False, show_header=True, pad_edge=False)
        table.add_column("", width=1, no_wrap=True)
        table.add_column("id", style="bold", no_wrap=True)
        table.add_column("agent", no_wrap=True)
        table.add_column("tokens", justify="right", no_wrap=True)
        table.add_column("", overflow="ellipsis", no_wrap=True, max_width=70)
        for sid, task in state.subtasks.items():
            status = task.status.value
            live = self.streaming.get(sid, "").replace("\n", " ")
            # A subtask first seen by its status (no plan in view) has no description to show.
            description = "" if task.description == sid else task.description
            detail = state.notes.get(sid) or (live[-60:] if status == "running" else description)
            table.add_row(Text(_SYMBOL.get(status, "?"), style=_STYLE.get(status, "")), sid, task.agent,
                          f"{task.usage.tokens:,}", detail)
        return Group(head, table)

    def start(self) -> None:
        from rich.live import Live

        self.live = Live(self.render(), console=self.console, refresh_per_second=8, transient=False)
        self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.update(self.render())
            self.live.stop()
            self.live = None
            if not self.console.is_terminal:
                self.console.print()  # a non-terminal Live leaves the cursor after its last line


async def pump(queue: asyncio.Queue[Event], handler: Any) -> None:
    """Feed bus events to a view until cancelled."""
    while True:
        event = await queue.get()
        handler.handle(event)
