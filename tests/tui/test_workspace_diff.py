"""The new-run form's folder field and the run screen's diff view (`d`), on a git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from podium.tui.screens.home import HomeScreen
from podium.tui.screens.run import RunScreen
from podium.tui.screens.workspace_diff import WorkspaceDiffScreen
from tests.integration.test_workspace_repo import ORIGINAL, SCRIPT, _repo
from tests.tui.conftest import make_app, wait_for


async def test_a_run_on_a_repository_from_the_form_then_its_diff(project: Path, tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    script = tmp_path / "software.toml"
    script.write_text(SCRIPT)
    app = make_app(project, model=f"scripted:{script}", team="software")
    async with app.run_test(size=(120, 40)) as pilot:
        home = await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and app.screen, what="home")
        await pilot.click("#objective")
        await pilot.press(*"Fix add")
        # A folder that does not exist: said at once, nothing starts, the objective is kept.
        await pilot.click("#workspace")
        await pilot.press(*"nope", "enter")
        await wait_for(pilot, lambda: any("no such folder" in n.message for n in app._notifications),
                       what="the refusal")
        assert app.screen is home and home.query_one("#objective").value == "Fix add"
        assert not project.exists() or not await app.session.queries.runs()

        home.query_one("#workspace").value = str(repo)
        await pilot.press("enter")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen,
                                what="run screen")
        await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan")
        await wait_for(pilot, lambda: screen.has_workspace, what="the workspace event")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.state.awaiting_review, what="the result awaiting review")

        async def recorded() -> bool:
            ws = await app.session.run_workspaces.get(screen.run_id)
            return ws is not None and "+    return a + b" in (ws.diff or "")

        # Once the agents are done, their changes are committed and the diff recorded, unasked.
        await wait_for(pilot, recorded, what="the diff recorded at the end of the work")

        await pilot.press("d")
        modal = await wait_for(pilot, lambda: isinstance(app.screen, WorkspaceDiffScreen) and app.screen,
                               what="diff view")
        review = await wait_for(pilot, lambda: modal.review, what="the diff")
        assert "+    return a + b" in review.diff and "+++ b/test_calc.py" in review.diff
        summary = str(modal.query_one("#diff-summary").render())
        assert f"podium/run-{screen.run_id}" in summary and "2 files changed" in summary
        await pilot.press("escape")
        await wait_for(pilot, lambda: modal not in app.screen_stack, what="diff view closed")

    # The user's checkout is as it was: same branch, same file, no new file.
    branch = subprocess.run(["git", "-C", str(repo), "symbolic-ref", "--short", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert branch == "main" and (repo / "calc.py").read_text() == ORIGINAL
    assert not (repo / "test_calc.py").exists()
