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
from podium.domain import Event, Plan

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
    """Every committed event as one JSON object per line on stdout."""

    def __init__(self) -> None:
        self.out = sys.stdout
        self.closed = False

    def handle(self, event: Event) -> None:
        if event.type == ev.STREAM_DELTA or self.closed:
            return
        line = json.dumps({"seq": event.seq, "type": event.type, "execution_id": event.execution_id,
                           "created_at": event.created_at, **event.payload}, default=str)
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
    """A rich panel: run status, subtasks with their state, tokens, cost, elapsed."""

    def __init__(self, console: Any, objective: str, team: str, model: str) -> None:
        self.console = console
        self.objective = objective
        self.team = team
        self.model = model
        self.status = "planning"
        self.reason = ""
        self.subtasks: dict[str, dict[str, Any]] = {}
        self.usage: dict[str, Any] = {}
        self.started = time.monotonic()
        self.live: Any = None
        self.streaming: dict[str, str] = {}
        # The leader's end-of-run lessons (agent or None, text), or why there are none.
        self.lessons: list[tuple[str | None, str]] = []
        self.lessons_skipped: str | None = None

    # -------------------------------------------------------------- events

    def handle(self, event: Event) -> None:
        p = event.payload
        if event.type == ev.RUN_STATUS:
            self.status = p.get("status", self.status)
            self.reason = p.get("reason", "") or ""
        elif event.type == ev.RUN_USAGE:
            self.usage = p
        elif event.type == ev.PLAN_APPROVED:
            pass
        elif event.type == ev.PLAN_PROPOSED:
            self.subtasks = {s["id"]: {"agent": s["agent"], "description": s["description"],
                                       "status": "pending", "tokens": 0} for s in p["plan"]["subtasks"]}
        elif event.type == ev.SUBTASK_STATUS:
            row = self.subtasks.setdefault(p["subtask_id"], {"agent": p.get("agent", "?"), "description": "",
                                                             "status": "pending", "tokens": 0})
            row["status"] = p["status"]
            row["note"] = p.get("error") or p.get("reason") or ""
        elif event.type == ev.MESSAGE_ADDED:
            sid = p.get("subtask_id")
            if sid in self.subtasks:
                self.subtasks[sid]["tokens"] += p.get("prompt_tokens", 0) + p.get("completion_tokens", 0)
                self.streaming.pop(sid, None)
            if p.get("phase") == "discussion" and self.live is None:
                self.console.print(f"[bold]{p['agent']}[/bold]: {p['content'].strip()}")
        elif event.type == ev.MEMORY_STORED and p.get("kind") == "lesson":
            self.lessons.append((p.get("agent"), p.get("text", "")))
        elif event.type == ev.MEMORY_LESSONS_SKIPPED:
            self.lessons_skipped = p.get("reason", "")
        elif event.type == ev.STREAM_DELTA:
            sid = p.get("subtask_id")
            if sid:
                self.streaming[sid] = (self.streaming.get(sid, "") + p.get("text", ""))[-200:]
        if self.live is not None:
            self.live.update(self.render())

    # -------------------------------------------------------------- rendering

    def render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        tokens = self.usage.get("prompt_tokens", 0) + self.usage.get("completion_tokens", 0)
        counts: dict[str, int] = {}
        for row in self.subtasks.values():
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        head = Text.assemble(
            (f"{self.status}", "bold"), "  ",
            f"{counts.get('done', 0)}/{len(self.subtasks)} done · {counts.get('running', 0)} running · ",
            f"tokens {tokens:,} · ${self.usage.get('cost_usd', 0.0):.4f} · "
            f"steps {self.usage.get('steps', 0)} · {int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}",
        )
        table = Table(box=None, expand=False, show_header=True, pad_edge=False)
        table.add_column("", width=1, no_wrap=True)
        table.add_column("id", style="bold", no_wrap=True)
        table.add_column("agent", no_wrap=True)
        table.add_column("tokens", justify="right", no_wrap=True)
        table.add_column("", overflow="ellipsis", no_wrap=True, max_width=70)
        for sid, row in self.subtasks.items():
            status = row["status"]
            live = self.streaming.get(sid, "").replace("\n", " ")
            detail = row.get("note") or (live[-60:] if status == "running" else row["description"])
            table.add_row(Text(_SYMBOL.get(status, "?"), style=_STYLE.get(status, "")), sid, row["agent"],
                          f"{row['tokens']:,}", detail)
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
