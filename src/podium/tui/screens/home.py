"""Home: past runs (newest first), and a field for a new objective with team and model pickers."""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, Select, Static

from podium.app.fork import fork_note
from podium.app.run_workspace import check_source
from podium.errors import PodiumError
from podium.tui.commands import PaletteCommand
from podium.tui.keys import APP_BINDINGS, EMPTY_FIELD_IDS, HOME_BINDINGS, OBJECTIVE_BINDINGS
from podium.tui.screens.heading import heading_css, title_line
from podium.tui.state import RUN_SYMBOL, human_tokens
from podium.tui.widgets.footer import KeyFooter
from podium.tui.widgets.status import short_model

if TYPE_CHECKING:
    from podium.tui.app import PodiumApp

COLUMNS = [("run", 9), ("state", 16), ("objective", None), ("team", 10), ("tokens", 8), ("cost", 8),
           ("when", 12)]


def when(ts: float) -> str:
    moment = datetime.fromtimestamp(ts)
    if moment.date() == datetime.now().date():
        return moment.strftime("today %H:%M")
    return moment.strftime("%Y-%m-%d")


class ObjectiveInput(Input):
    """The new objective. While it is empty the quit and keys keys (`q`, `?`, or their remaps)
    act instead of typing; once it holds text they type. Esc leaves it for the runs table."""

    BINDINGS = OBJECTIVE_BINDINGS  # type: ignore[assignment]  # Bindings only; the base allows tuples too

    def _acting_keys(self) -> set[str]:
        """The keys bound now (after the keymap) to quitting and to the keys list."""
        app: PodiumApp = self.app  # type: ignore[assignment]
        return {b.key for _, b in app.bindings_of(app) if b.id in EMPTY_FIELD_IDS}

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # Asked while the screen builds its binding chain, with the keys as written before the
        # keymap: a key left unconsumed stays bound, so it acts and shows in the footer.
        if not self.value and (key in self._acting_keys()
                               or any(b.key == key and b.id in EMPTY_FIELD_IDS for b in APP_BINDINGS)):
            return False
        return super().check_consume_key(key, character)

    async def _on_key(self, event: events.Key) -> None:
        if not self.value and event.key in self._acting_keys():
            # Not typed: it bubbles up to the app, whose binding acts on it.
            event.prevent_default()
            return
        await super()._on_key(event)

    def action_leave_field(self) -> None:
        self.screen.query_one("#runs", DataTable).focus()


class HomeScreen(Screen[None]):
    DEFAULT_CSS = heading_css("HomeScreen", "home-title", "readonly-banner") + """
    HomeScreen.-readonly #new-run { display: none; }
    HomeScreen #runs { height: 1fr; border: round $foreground 30%; }
    HomeScreen #runs:focus { border: round $primary; }
    HomeScreen #empty { height: auto; padding: 1 2; color: $text-muted; display: none; }
    HomeScreen.-empty #empty { display: block; }
    HomeScreen #new-run { height: auto; border: round $primary; border-title-color: $text; padding: 0 1; }
    HomeScreen #objective { width: 1fr; }
    HomeScreen #team { width: 22; }
    HomeScreen #model { width: 30; }
    HomeScreen #new-run > Horizontal { height: auto; }
    HomeScreen #workspace { width: 1fr; }
    HomeScreen #start { min-width: 10; }
    """

    BINDINGS = HOME_BINDINGS  # type: ignore[assignment]  # Bindings only; the base allows tuples too

    def __init__(self) -> None:
        super().__init__(id="home")
        self._rows: dict[str, tuple[Any, ...]] = {}

    @property
    def podium(self) -> PodiumApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static(id="home-title")
        yield Static(id="readonly-banner")
        table: DataTable[Any] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(id="empty")
        with Vertical(id="new-run"):
            with Horizontal(id="new-run-main"):
                yield ObjectiveInput(placeholder="A new objective for the team… (Enter starts planning)",
                                     id="objective")
                teams, team = self._team_options()
                yield Select[str]([(t, t) for t in teams], id="team", allow_blank=not teams, value=team,
                                  prompt="team")
                models = self._model_options()
                yield Select[str]([(short_model(m), m) for m in models], id="model", allow_blank=False,
                                  value=models[0])
                yield Button("Start", id="start", variant="primary")
            # A folder of the user's to work on: a repository gets a worktree on a branch of its own.
            workspace = Input(placeholder="on a folder of yours (optional; a git repo gets its own branch)",
                              id="workspace")
            workspace.tooltip = "Your checkout is never touched: review the diff with d, apply from the CLI"
            yield workspace
        yield KeyFooter()

    async def on_mount(self) -> None:
        app = self.podium
        self.set_class(app.readonly, "-readonly")
        self.query_one("#home-title", Static).update(title_line(app.project))
        if app.readonly:
            self.query_one("#readonly-banner", Static).update(
                f"read-only archive: {app.project} — Enter replays a run; nothing here can change the file"
            )
        self.query_one("#new-run").border_title = "New run"
        self.query_one("#empty", Static).update(self._empty_hint())
        table = self.query_one("#runs", DataTable)
        for label, width in COLUMNS:
            table.add_column(label, key=label, width=width)
        await self.refresh_runs()
        self.set_interval(1.0, self.refresh_runs, name="runs-poll")
        if table.row_count:
            table.focus()
        elif not app.readonly:
            self.query_one("#objective", Input).focus()

    def _empty_hint(self) -> Text:
        """What an empty project says, with the keys that work while typing (as remapped)."""
        app = self.podium
        if app.readonly:
            return Text("This archive holds no runs.")
        text = Text("No runs yet: type an objective below and press Enter.\n")
        quit_keys = app.keys_for("", ids=("podium.quit-anywhere",))
        help_keys = app.keys_for("", ids=("podium.keys-anywhere",))
        leave = [self.app.get_key_display(b) for _, b in app.bindings_of(self.query_one(ObjectiveInput))
                 if b.id == "podium.leave-field"]
        parts = [(quit_keys, "quits"), (help_keys, "lists every key"), (leave, "leaves the field")]
        said = [f"{'/'.join(keys)} {what}" for keys, what in parts if keys]
        if said:
            text.append("While you type: " + ", ".join(said) + ".", "italic")
        return text

    def on_input_changed(self, event: Input.Changed) -> None:
        # Whether q and ? act or type depends on the field being empty: show what acts now.
        empty = not event.value
        if event.input.id == "objective" and empty != getattr(self, "_objective_empty", True):
            self._objective_empty = empty
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # No new runs in an archive: `f` is not in its footer.
        return not (self.podium.leaving or (action == "focus_objective" and self.podium.readonly))

    def on_key(self, event: events.Key) -> None:
        """An archive binds no new-run key, so it would do nothing at all: say why."""
        app = self.podium
        if not app.readonly:
            return
        bound = [*app.bindings_of(self).key_to_bindings.get(event.key, []),
                 *app.bindings_of(app).key_to_bindings.get(event.key, [])]
        if any(b.action in ("new_run", "focus_objective") for b in bound):
            event.stop()
            self.notify("Read-only archive: new runs cannot be started here.", severity="warning",
                        title="read-only")

    def on_resize(self) -> None:
        table = self.query_one("#runs", DataTable)
        fixed = sum(w for _, w in COLUMNS if w) + 2 * len(COLUMNS) + 4
        objective = max(20, self.size.width - fixed)
        column = table.columns.get("objective")  # type: ignore[call-overload]
        if column is not None and column.width != objective:
            column.width = objective
            column.auto_width = False
            table.refresh()

    def _team_options(self) -> tuple[list[str], str | Any]:
        app = self.podium
        teams = app.team_names()
        if not teams:
            return [], Select.NULL
        return teams, app.default_team if app.default_team in teams else teams[0]

    def _model_options(self) -> list[str]:
        app = self.podium
        return list(dict.fromkeys([m for m in (app.default_model, "local") if m]))

    async def refresh_runs(self) -> None:
        """Update the table by key: changed cells only, new runs on top."""
        queries = self.podium.queries
        if queries is None:
            return
        rows = await queries.runs()
        forks = await queries.forks()
        table = self.query_one("#runs", DataTable)
        added = False
        for r in rows:
            status = r.known_status
            state = f"{RUN_SYMBOL[status]} {status.value.replace('_', ' ')}" if status else r.status
            lineage = fork_note(forks, r.id)  # "↳ fork of RUN from t3": where a fork came from
            objective = r.objective.replace("\n", " ")
            cells = (r.id, state, f"{lineage}: {objective}" if lineage else objective, r.team,
                     human_tokens(r.usage.tokens),
                     f"${r.usage.cost_usd:.4f}", when(r.created_at))
            old = self._rows.get(r.id)
            if old is None:
                table.add_row(*cells, key=r.id)
                added = True
            elif old != cells:
                for (label, _), value, before in zip(COLUMNS, cells, old, strict=True):
                    if value != before:
                        table.update_cell(r.id, label, value)
            self._rows[r.id] = cells
        if added and len(rows) > 1:
            order = {r.id: i for i, r in enumerate(rows)}
            table.sort("run", key=lambda run_id: order.get(run_id, 1 << 30))
        self.set_class(not rows, "-empty")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.podium.open_run(event.row_key.value)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id in ("objective", "workspace"):
            await self._start()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            await self._start()

    async def _start(self) -> None:
        objective = self.query_one("#objective", Input).value.strip()
        if not objective:
            self.notify("Type an objective first.", severity="warning")
            self.query_one("#objective", Input).focus()
            return
        team = self.query_one("#team", Select).value
        model = self.query_one("#model", Select).value
        if team is Select.NULL or not isinstance(team, str):
            self.notify("No team available (check your team files).", severity="error")
            return
        folder = self.query_one("#workspace", Input).value.strip() or None
        if folder is not None:
            # Checked before anything starts, so a typo keeps the objective typed.
            try:
                await asyncio.to_thread(check_source, folder)
            except PodiumError as exc:
                self.notify(str(exc).replace("--workspace ", "folder "), severity="error", title="new run")
                self.query_one("#workspace", Input).focus()
                return
        self.query_one("#objective", Input).value = ""
        self.query_one("#workspace", Input).value = ""
        self.podium.start_run(objective, team, model if isinstance(model, str) else None, workspace=folder)

    def action_focus_objective(self) -> None:
        if self.podium.readonly:
            self.notify("Read-only archive: new runs cannot be started here.", severity="warning")
            return
        self.query_one("#objective", Input).focus()

    def focus_runs(self) -> None:
        """Back from a run: the runs table has focus (so the home keys act), unless an objective
        is being typed."""
        table = self.query_one("#runs", DataTable)
        if table.row_count and not self.query_one("#objective", Input).value:
            table.focus()

    def selected_run(self) -> str | None:
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return key.value

    def palette_commands(self) -> list[PaletteCommand]:
        commands: list[PaletteCommand] = []
        for run_id, cells in list(self._rows.items())[:30]:
            commands.append((f"Open run {run_id}: {cells[2][:50]}", f"{cells[1]} · {cells[3]} team",
                             partial(self.podium.open_run, run_id)))
        if not self.podium.readonly:
            commands.append(("New run", "Type an objective for a new run", self.action_focus_objective))
        return commands
