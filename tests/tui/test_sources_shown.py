"""Sources in the app: the selected subtask's detail lists what it read (web_search against a
fake SearXNG on loopback) and the claims it checked; the review shows the checks and flags a
citation to a source never recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.tui.screens.modals import Review
from podium.tui.widgets.plan import PlanGraph, PlanPane
from tests.support.search_server import FakeSearch
from tests.tui.conftest import make_app, wait_for
from tests.tui.test_flow import start_run

PAGES = {"norway": ("Heat pumps in Norway",
                    "In 2023, 60 percent of Norwegian homes heated with a heat pump.")}
SCRIPT = """
supports_tools = true
default_reply = "Noted ({agent}, {phase})."

[[rules]]
phase = "planning"
structured = true
[rules.json]
rationale = "Search, then check."
subtasks = [
  {id = "t1", agent = "researcher", description = "Find sources"},
  {id = "t2", agent = "fact-checker", description = "Check the claims", depends_on = ["t1"]},
]

[[rules]]
phase = "execution"
agent = "researcher"
times = 1
tool_calls = [{name = "web_search", arguments = {query = "heat pumps norway"}}]

[[rules]]
phase = "execution"
agent = "researcher"
reply = "60 percent of Norwegian homes heated with a heat pump in 2023 [S1]."

[[rules]]
phase = "execution"
agent = "fact-checker"
times = 1
[[rules.tool_calls]]
name = "check_claims"
arguments.text = '''60 percent of Norwegian homes heated with a heat pump [S1]. \
Sales tripled [S7].'''

[[rules]]
phase = "execution"
agent = "fact-checker"
reply = "[S1] holds; [S7] does not exist."

[[rules]]
phase = "synthesis"
reply = "Most Norwegian homes heat with a heat pump [S1]."

[[rules]]
phase = "review"
[rules.json]
result_ok = true
reasons = "sourced"
verdicts = [{subtask_id = "t1", ok = true}, {subtask_id = "t2", ok = true}]
"""


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    monkeypatch.delenv("PODIUM_OFFLINE", raising=False)
    monkeypatch.delenv("PODIUM_SEARCH", raising=False)
    monkeypatch.delenv("PODIUM_SEARCH_API_BASE", raising=False)


async def test_a_subtasks_sources_and_checked_claims_are_listed(project: Path, tmp_path: Path) -> None:
    with FakeSearch(PAGES) as fake:
        (tmp_path / "podium.toml").write_text(f'search = "searxng"\nsearch_api_base = "{fake.base_url}"\n')
        (tmp_path / "sources.toml").write_text(SCRIPT)
        app = make_app(project, model=f"scripted:{tmp_path / 'sources.toml'}")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await start_run(pilot, "Heat pumps in Norway")
            await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan")
            await pilot.press("a")
            await wait_for(pilot, lambda: screen.state.awaiting_review, what="result awaiting review",
                           timeout=60)
            await wait_for(pilot, lambda: screen.rendered, what="drawn")
            pane = screen.query_one(PlanPane)
            screen.query_one(PlanGraph).selected = "t1"
            pane.show_detail(screen.state, app.clock())
            detail = str(screen.query_one("#plan-detail").render())
            assert "sources (1):" in detail and "[S1] Heat pumps in Norway" in detail
            assert fake.url("norway") in detail
            screen.query_one(PlanGraph).selected = "t2"
            pane.show_detail(screen.state, app.clock())
            detail = str(screen.query_one("#plan-detail").render())
            assert "claims checked: 1 supported, 0 unsupported, 1 not found" in detail
            assert "[S7] not found: Sales tripled" in detail and "sources (" not in detail

            await pilot.press("v")
            modal = await wait_for(pilot, lambda: isinstance(app.screen, Review) and app.screen,
                                   what="review modal")
            verdict = str(modal.query_one("#review-verdict").render())
            assert "✔ [S1] supported" in verdict and "? [S7] not found" in verdict
            assert "⚠ t2 cites [S7]: never recorded in this run" in verdict
