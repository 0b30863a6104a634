"""Images in the app: the media agent's generate_image call (against a fake OpenAI-style images
endpoint on loopback) shows in its transcript as "image: PATH (“prompt…”)", and `i` (in the footer
once an image exists) opens it with the system viewer, without blocking; with no viewer the person
is told. In a read-only archive whose workspace is gone, `i` opens the bytes the file stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from podium.app import images as app_images
from podium.tui.app import PodiumApp
from podium.tui.screens.home import HomeScreen
from podium.tui.screens.modals import TextPrompt
from podium.tui.screens.run import ReplayScreen
from podium.tui.widgets.transcripts import AgentLog, pane_id
from tests.support.image_server import FakeImages, png
from tests.tui.conftest import make_app, wait_for
from tests.tui.test_flow import accept_review, start_run

IMAGE = png(5, 5, (250, 200, 10))
PROMPT = "A lighthouse on a cliff at dusk, flat illustration, teal and orange"
SCRIPT = f"""
supports_tools = true
default_reply = "Noted ({{agent}}, {{phase}})."

[[rules]]
phase = "planning"
structured = true
[rules.json]
rationale = "Draft, then illustrate."
subtasks = [
  {{id = "t1", agent = "writer", description = "Draft a post about lighthouses"}},
  {{id = "t2", agent = "media", description = "Make the cover image", depends_on = ["t1"]}},
]

[[rules]]
phase = "execution"
agent = "media"
times = 1
tool_calls = [{{name = "generate_image", arguments = {{prompt = "{PROMPT}", path = "images/cover.png"}}}}]

[[rules]]
phase = "execution"
agent = "media"
reply = "The cover is images/cover.png."

[[rules]]
phase = "synthesis"
reply = "A post about lighthouses with its cover."

[[rules]]
phase = "review"
[rules.json]
result_ok = true
reasons = "illustrated"
verdicts = [{{subtask_id = "t1", ok = true}}, {{subtask_id = "t2", ok = true}}]
"""


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    for name in ("PODIUM_OFFLINE", "PODIUM_IMAGE_MODEL", "PODIUM_IMAGE_API_BASE", "PODIUM_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-images")


def _messages(app: PodiumApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_an_image_shows_in_the_transcript_and_i_opens_it(project: Path, tmp_path: Path,
                                                               monkeypatch) -> None:
    opened: list[Path] = []

    async def fake_viewer(path: Path) -> None:
        opened.append(path)

    monkeypatch.setattr(app_images, "open_in_viewer", fake_viewer)
    with FakeImages(image=IMAGE) as fake:
        (tmp_path / "podium.toml").write_text(
            f'image_model = "openai/gpt-image-1"\nimage_api_base = "{fake.base_url}"\n')
        (tmp_path / "content.toml").write_text(SCRIPT)
        app = make_app(project, model=f"scripted:{tmp_path / 'content.toml'}", team="content")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await start_run(pilot, "A post about lighthouses")
            await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan")
            assert "i" not in screen.active_bindings  # no image yet: not offered
            await pilot.press("a")
            await wait_for(pilot, lambda: screen.images, what="an image made", timeout=60)
            line = f"▨ image: images/cover.png (“{PROMPT}”) — i opens it"
            media_log = screen.query_one(f"#log-{pane_id('media')}", AgentLog)
            await wait_for(pilot, lambda: line in media_log.notes(), what="the image line")
            assert line in screen.query_one("#log-all", AgentLog).notes()
            await wait_for(pilot, lambda: "i" in screen.active_bindings, what="i offered")
            assert screen.active_bindings["i"].binding.description == "image"

            await pilot.press("i")
            await wait_for(pilot, lambda: opened, what="the viewer called")
            assert opened[0] == tmp_path / "project-workspace" / screen.run_id / "images" / "cover.png"
            assert opened[0].read_bytes() == IMAGE
            await wait_for(pilot, lambda: "opened images/cover.png in the image viewer" in _messages(app),
                           what="opened notice")

            # No viewer on this system: a clear notice, no traceback.
            monkeypatch.setattr(app_images, "open_in_viewer", _real_open)
            monkeypatch.setattr(app_images, "viewer_command", lambda: None)
            await pilot.press("i")
            await wait_for(pilot, lambda: any("no image viewer found" in m for m in _messages(app)),
                           what="no-viewer notice")
            monkeypatch.setattr(app_images, "open_in_viewer", fake_viewer)

            await accept_review(pilot, screen)
            await wait_for(pilot, lambda: screen.state.status.finished, what="finished")
            run_id = screen.run_id
            await pilot.press("e")
            prompt = await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt) and app.screen,
                                    what="export")
            prompt.query_one("TextArea").text = str(tmp_path / "run.podium")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: (tmp_path / "run.podium").exists(), what="archive written")

    # The archive alone: its workspace folder is not there, the image comes from the file.
    shutil.rmtree(tmp_path / "project-workspace")
    opened.clear()
    viewer = PodiumApp(tmp_path / "run.podium", readonly=True)
    async with viewer.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(viewer.screen, HomeScreen), what="home")
        await pilot.pause(0.2)
        await pilot.press("enter")
        replay = await wait_for(pilot, lambda: isinstance(viewer.screen, ReplayScreen) and viewer.screen,
                                what="replay")
        await wait_for(pilot, lambda: replay.loaded.is_set(), what="events loaded")
        assert replay.run_id == run_id and [i.path for i in replay.images] == ["images/cover.png"]
        await pilot.press("i")
        await wait_for(pilot, lambda: opened, what="the viewer called from the archive")
        assert opened[0].read_bytes() == IMAGE and "project-workspace" not in str(opened[0])


_real_open = app_images.open_in_viewer
