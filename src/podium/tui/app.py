"""Podium's Textual app (home screen: the project's runs)."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header, Static

from podium.store import ProjectStore


class PodiumApp(App[None]):
    TITLE = "Podium"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, project: Path) -> None:
        super().__init__()
        self.project = project
        self.sub_title = str(project)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Project {self.project}", id="banner")
        yield DataTable(id="runs", cursor_type="row")
        yield Footer()

    async def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        table.add_columns("run", "state", "objective", "team", "tokens", "cost")
        store = await ProjectStore.open(self.project)
        try:
            rows = await store.query(
                "SELECT id, status, objective, team, prompt_tokens + completion_tokens, cost_usd"
                " FROM executions ORDER BY created_at DESC"
            )
        finally:
            await store.close()
        for r in rows:
            table.add_row(r[0], r[1], r[2][:60], r[3], f"{r[4]:,}", f"${r[5]:.4f}", key=r[0])
        if not rows:
            self.query_one("#banner", Static).update(f"Project {self.project}: no runs yet")
