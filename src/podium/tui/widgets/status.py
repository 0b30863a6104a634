"""One-line widgets around the run panes: title line, wait banner, status bar, replay timeline."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from podium.domain import Event, ExecutionStatus
from podium.tui.state import RUN_SYMBOL, RunState, human_elapsed, human_tokens


def _meter(used: float, limit: float | None, cells: int = 4) -> str:
    if not limit:
        return ""
    filled = min(cells, round(cells * used / limit))
    return " " + "▰" * filled + "▱" * (cells - filled)


class RunTitle(Static):
    """Project, run id, objective, state and elapsed time."""

    DEFAULT_CSS = """
    RunTitle { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def show(self, state: RunState, project: str, readonly: bool, now: float) -> None:
        status = state.status
        style = {
            ExecutionStatus.RUNNING: "bold", ExecutionStatus.FAILED: "bold red",
            ExecutionStatus.AWAITING_APPROVAL: "bold reverse", ExecutionStatus.REVIEW: "bold reverse",
        }.get(status, "")
        right = Text()
        if readonly:
            right.append(" read-only ", "reverse")
            right.append(" ")
        right.append(f"{RUN_SYMBOL[status]} {status.value.replace('_', ' ')}", style)
        right.append(f"  {human_elapsed(state.elapsed(now))}")
        text = Text()
        text.append(" Podium ", "bold reverse")
        text.append(f" {project}  ▸ run {state.execution_id}  ")
        width = self.content_size.width or 118
        # The objective gives way so the state and the clock always show.
        room = width - text.cell_len - right.cell_len - 3
        objective = " ".join(state.objective.split())
        if room > 8:
            if len(objective) > room:
                objective = objective[: room - 1] + "…"
            text.append(f"“{objective}”", "italic")
        text.append(" " * max(1, width - text.cell_len - right.cell_len))
        text.append_text(right)
        self.update(text)


class WaitBanner(Static):
    """Whatever waits on the person: the loudest thing on screen, one key away."""

    DEFAULT_CSS = """
    WaitBanner { height: auto; background: $warning; color: $background; text-style: bold; padding: 0 1;
        display: none; }
    WaitBanner.-on { display: block; }
    """

    def show(self, waits: list[str], note: str | None = None) -> None:
        lines = [f"⚑ {w}" for w in waits]
        if note:
            lines.append(note)
        self.set_class(bool(lines), "-on")
        self.update(Text("\n".join(lines[:3])))


class StatusBar(Static):
    """Team, model, steps, tokens and cost against budget, running count, what needs you."""

    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }"

    def show(self, state: RunState, model: str | None) -> None:
        b = state.budget
        team = f"{state.team or '?'} team"
        model_text = short_model(state.model or model)
        steps = f"steps {state.steps}" + (f"/{b.steps}" if b.steps else "")
        tokens = f"tokens {human_tokens(state.usage.tokens)}"
        if b.tokens:
            tokens += f"/{human_tokens(b.tokens)}{_meter(state.usage.tokens, b.tokens)}"
        cost = f"${state.usage.cost_usd:.2f}" if state.usage.cost_usd >= 0.01 or not state.usage.cost_usd \
            else f"${state.usage.cost_usd:.4f}"
        if b.usd:
            cost += f"/${b.usd:.2f}{_meter(state.usage.cost_usd, b.usd)}"
        waits = len(state.waits_on_person)
        need = f"{waits} need{'s' if waits == 1 else ''} you"
        parts = [team, model_text, steps, tokens, cost, f"{state.running_count} running"]
        width = self.content_size.width or 118
        # On a narrow terminal the least useful parts give way, never "needs you".
        for drop in (model_text, team, steps):
            if len(" · ".join([*parts, need])) <= width:
                break
            parts.remove(drop)
        text = Text(" · ".join(parts) + " · ")
        text.append(need, "bold reverse" if waits else "")
        self.update(text)


class Timeline(Static):
    """Replay: where we are in the run's event log; left/right step through it."""

    DEFAULT_CSS = "Timeline { height: 2; background: $boost; padding: 0 1; color: $text; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._at: tuple[int, int, Event | None] = (0, 0, None)

    def show(self, index: int, total: int, event: Event | None) -> None:
        self._at = (index, total, event)
        self.refresh()

    def render(self) -> Text:
        index, total, event = self._at
        cells = max(10, self.content_size.width or 78)
        filled = 0 if total == 0 else round((cells - 1) * index / total)
        text = Text("━" * filled + "╸" + "─" * max(0, cells - filled - 1) + "\n", "bold")
        if event is None:
            text.append(f"◀ start of run · 0/{total} events ▶  ←/→ step · PgUp/PgDn ×10 · Home/End")
        else:
            when = datetime.fromtimestamp(event.created_at).strftime("%H:%M:%S")
            text.append(f"◀ event {index}/{total} · {when} · {event.type} {_describe(event)} ▶")
        text.truncate(cells * 2 + 1)
        return text


def _describe(event: Event) -> str:
    """The few words a timeline shows for an event: its subtask, agent, status or kind."""
    p = event.payload
    values = {key: getattr(p, key, None) for key in ("status", "subtask_id", "agent", "kind", "version")}
    for key, value in values.items():
        if value is not None:
            shown = ("subtask_id", "agent", "status", "kind")
            bits = [str(values[k]) for k in shown if values[k] is not None]
            return " ".join(dict.fromkeys(bits)) or f"{key} {value}"
    return ""


def short_model(model: str | None) -> str:
    """A model name that fits a status bar: scripted files by their name only."""
    if not model:
        return "default model"
    if model.startswith("scripted:"):
        return "scripted:" + model.rsplit("/", 1)[-1]
    return model if len(model) <= 32 else model[:31] + "…"
