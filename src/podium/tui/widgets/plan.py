"""The plan pane: the dependency graph, the selected subtask's details, the plan's history."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.containers import ScrollableContainer, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from podium.domain import Subtask, SubtaskStatus
from podium.events import CheckedClaim, SourceRecorded
from podium.tui.graph_layout import GraphLayout, layout, neighbour
from podium.tui.state import STATUS_SYMBOL, RunState, human_elapsed, human_tokens


class PlanGraph(Widget, can_focus=True):
    """Subtasks as nodes in dependency layers; arrow keys move the selection."""

    BINDINGS = [
        Binding("up", "move('up')", "Up", show=False),
        Binding("down", "move('down')", "Down", show=False),
        Binding("left", "move('left')", "Left", show=False),
        Binding("right", "move('right')", "Right", show=False),
    ]
    COMPONENT_CLASSES = {f"plan-graph--{s.value}" for s in SubtaskStatus} | {
        "plan-graph--edge", "plan-graph--selected", "plan-graph--dim",
    }
    DEFAULT_CSS = """
    PlanGraph { width: auto; height: auto; padding: 0 1 0 0; }
    PlanGraph .plan-graph--pending { color: $text-muted; }
    PlanGraph .plan-graph--running { color: $primary; text-style: bold; }
    PlanGraph .plan-graph--waiting_peer { color: $secondary; }
    PlanGraph .plan-graph--needs_help { color: $warning; text-style: bold; }
    PlanGraph .plan-graph--review { color: $accent; }
    PlanGraph .plan-graph--done { color: $success; }
    PlanGraph .plan-graph--failed { color: $error; }
    PlanGraph .plan-graph--blocked { color: $error 70%; }
    PlanGraph .plan-graph--edge { color: $foreground 40%; }
    PlanGraph .plan-graph--dim { color: $text-muted; }
    PlanGraph .plan-graph--selected { text-style: reverse; }
    """

    selected: reactive[str | None] = reactive(None)

    class Selected(Message):
        def __init__(self, subtask_id: str | None) -> None:
            super().__init__()
            self.subtask_id = subtask_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.subtasks: list[Subtask] = []
        self.graph: GraphLayout | None = None
        self.fit_width = 44

    def set_subtasks(self, subtasks: list[Subtask]) -> None:
        """Show these subtasks; relayout only when the plan's shape changed."""
        shape = [(t.id, tuple(t.depends_on)) for t in subtasks]
        old = [(t.id, tuple(t.depends_on)) for t in self.subtasks]
        self.subtasks = subtasks
        if shape != old or self.graph is None:
            self._relayout()
            if self.selected not in {t.id for t in subtasks}:
                self.selected = subtasks[0].id if subtasks else None
        self.refresh(layout=True)

    def set_fit_width(self, width: int) -> None:
        if width != self.fit_width and width > 0:
            self.fit_width = width
            self._relayout()
            self.refresh(layout=True)

    def _relayout(self) -> None:
        self.graph = layout(self.subtasks, self.fit_width, max_node=max(24, self.fit_width))

    def watch_selected(self, value: str | None) -> None:
        self.post_message(self.Selected(value))
        self.refresh()
        node = self.graph.node(value) if self.graph and value else None
        if node is not None:
            self.scroll_visible()  # keep the parent scrolled near the selection

    def action_move(self, direction: str) -> None:
        if self.graph is not None:
            self.selected = neighbour(self.graph, self.selected, direction)

    def render(self) -> Text:
        graph = self.graph
        if graph is None or not graph.nodes:
            return Text("No plan yet.", style=self.get_component_rich_style("plan-graph--dim"))
        rows: list[Text] = [Text() for _ in range(graph.height)]
        edge = self.get_component_rich_style("plan-graph--edge")
        for row, line in graph.connectors.items():
            rows[row].append(line, edge)
        current = {t.id: t for t in self.subtasks}
        for node in graph.nodes:
            # The layout keeps the shape; the status comes from the subtasks shown now.
            task = current.get(node.subtask.id, node.subtask)
            style = self.get_component_rich_style(f"plan-graph--{task.status.value}")
            head = f"{STATUS_SYMBOL[task.status]} {task.id} {task.agent}"
            desc = task.description.split("\n", 1)[0]
            if node.skipped_deps:
                desc = f"+{','.join(node.skipped_deps)} {desc}"
            w = node.width - 1
            head_text = Text(" " + head[: w - 1].ljust(w - 1), style)
            if task.id == self.selected and self.has_focus:
                head_text.stylize(self.get_component_rich_style("plan-graph--selected"))
            elif task.id == self.selected:
                head_text.stylize("underline")
            for offset, text in ((0, head_text), (1, Text(" " + desc[: w - 1].ljust(w - 1)))):
                row_text = rows[node.y + offset]
                row_text.pad_right(max(0, node.x - len(row_text)))
                row_text.append_text(text)
                row_text.append(" ")
        return Text("\n").join(rows)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class PlanDetail(Static):
    """The selected subtask: agent, description, criteria, tokens, timing, the sources it read and
    the claims it checked."""

    DEFAULT_CSS = "PlanDetail { height: auto; padding: 0 1; border-top: solid $foreground 20%; }"
    MAX_SOURCES = 6  # lines of sources shown; the rest are counted

    def show(self, task: Subtask | None, now: float, verdict: dict[str, Any] | None = None,
             sources: list[SourceRecorded] | None = None, claims: list[CheckedClaim] | None = None) -> None:
        if task is None:
            self.update("")
            return
        text = Text()
        text.append(f"{task.id} · {task.agent} · {task.status.value.replace('_', ' ')}\n", "bold")
        text.append(task.description.strip() + "\n")
        if task.acceptance_criteria:
            text.append("Accept: ", "italic")
            text.append("; ".join(task.acceptance_criteria) + "\n")
        if task.depends_on:
            text.append(f"after {', '.join(task.depends_on)}\n", "dim")
        timing = ""
        if task.started_at:
            end = task.finished_at or now
            timing = f"   {human_elapsed(end - task.started_at)}"
        text.append(
            f"tokens {human_tokens(task.usage.tokens)} / est {human_tokens(task.estimated_tokens)}"
            f"   ${task.usage.cost_usd:.3f}{timing}"
        )
        if task.error:
            text.append(f"\nerror: {task.error}", "bold red")
        if verdict is not None:
            reason = f": {verdict['reasons']}" if verdict.get("reasons") else ""
            text.append(f"\nreview: {'✔ ok' if verdict.get('ok') else '✘ not ok'}{reason}",
                        "green" if verdict.get("ok") else "bold yellow")
        if sources:
            text.append(f"\nsources ({len(sources)}):", "italic")
            for s in sources[: self.MAX_SOURCES]:
                text.append(f"\n [{s.id}] ", "bold")
                text.append(f"{(s.title or s.url)[:60]} ")
                text.append(f"{s.url} · {s.kind}", "dim")
            if len(sources) > self.MAX_SOURCES:
                text.append(f"\n … {len(sources) - self.MAX_SOURCES} more (podium show)", "dim")
        if claims:
            counts = {v: sum(c.verdict == v for c in claims)
                      for v in ("supported", "unsupported", "not_found")}
            text.append(f"\nclaims checked: {counts['supported']} supported, {counts['unsupported']} "
                        f"unsupported, {counts['not_found']} not found",
                        "bold yellow" if counts["unsupported"] or counts["not_found"] else "green")
            for c in claims:
                if c.verdict != "supported":
                    text.append(f"\n [{c.source}] {c.verdict.replace('_', ' ')}: {c.claim[:70]}", "yellow")
        self.update(text)


class PlanPane(Vertical):
    """Plan graph, details below; rejected plans stay visible, dimmed, with their feedback."""

    DEFAULT_CSS = """
    PlanPane { border: round $foreground 30%; border-title-color: $text; }
    PlanPane:focus-within { border: round $primary; }
    PlanPane #plan-history { height: auto; max-height: 8; color: $text-muted; padding: 0 1; }
    PlanPane #plan-totals { height: auto; padding: 0 1; color: $text-muted; }
    PlanPane #plan-scroll { height: 1fr; padding: 0 0 0 1; }
    """

    def compose(self):  # type: ignore[no-untyped-def]
        self.border_title = "Plan"
        yield Static(id="plan-history")
        yield Static(id="plan-totals")
        with ScrollableContainer(id="plan-scroll"):
            yield PlanGraph(id="plan-graph")
        yield PlanDetail(id="plan-detail")

    def on_mount(self) -> None:
        self.query_one("#plan-history").display = False

    def on_resize(self) -> None:
        self.query_one(PlanGraph).set_fit_width(max(20, self.size.width - 4))

    def show(self, state: RunState, now: float) -> None:
        graph = self.query_one(PlanGraph)
        graph.set_subtasks(list(state.subtasks.values()))
        history = self.query_one("#plan-history", Static)
        rejected = state.rejected_plans
        history.display = bool(rejected)
        if rejected:
            lines = Text()
            for p in rejected:
                lines.append(f"✘ plan v{p.version} rejected ({len(p.plan.subtasks)} subtasks)", "strike")
                lines.append(f"\n  feedback: {p.feedback or '-'}\n", "italic")
            lines.rstrip()
            history.update(lines)
        totals = self.query_one("#plan-totals", Static)
        plan = state.plan
        if plan is None:
            totals.update("planning: specialists are discussing…" if state.contributions else "no plan yet")
        else:
            est = sum(t.estimated_tokens for t in plan.plan.subtasks)
            label = plan.status.value
            if plan.author != "leader":
                label += f" (edited by {plan.author})"
            line = (f"plan v{plan.version} {label} · {len(plan.plan.subtasks)} subtasks"
                    f" · est {human_tokens(est)} tokens")
            if plan.fallback:
                line += " · fallback plan (the leader's plan was invalid)"
            elif plan.plan.mends:
                line += f" · mended ({len(plan.plan.mends)} fixes, see the transcript)"
            totals.update(line)
        self.show_detail(state, now)

    def show_detail(self, state: RunState, now: float) -> None:
        selected = self.query_one(PlanGraph).selected
        task = state.subtasks.get(selected) if selected else None
        self.query_one(PlanDetail).show(task, now, state.subtask_verdict(task.id) if task else None,
                                        state.sources_of(task.id) if task else None,
                                        state.claims.get(task.id) if task else None)
