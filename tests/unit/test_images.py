"""generate_image: which model and endpoint (env vs podium.toml, api_base as the default), when the
tool is offered (configured, online, to the agents allowed it), and calls against a fake
OpenAI-style images endpoint on loopback: a PNG in the workspace, recorded with its prompt; a URL
answer downloaded; a JPEG, a rejected key and a path outside the workspace refused with one line."""

from __future__ import annotations

import hashlib
import json

import pytest

from podium import events as ev
from podium.domain import Agent
from podium.llm.images import ImageConfig, resolve_image
from podium.llm.types import ModelConfigError
from podium.orchestrator.teams import PRESETS
from podium.tools.toolbox import ToolBox
from podium.tools.types import ToolContext
from podium.tools.workspace import describe_file
from tests.support.image_server import FakeImages, png
from tests.tools_fixtures import store, vault  # noqa: F401  (fixtures)

CTX = ToolContext(execution_id="run1", subtask_id="t2", agent="media", agent_tools=["images"])
PROMPT = "A lighthouse on a cliff at dusk, flat illustration, teal and orange"


@pytest.fixture(autouse=True)
def _no_image_env(monkeypatch):
    for name in ("PODIUM_IMAGE_MODEL", "PODIUM_IMAGE_API_BASE", "PODIUM_API_BASE", "PODIUM_OFFLINE",
                 "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def _toml(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "podium.toml").write_text(text)


def _names(box: ToolBox, agent: Agent | None = None) -> list[str]:
    return [t.name for t in box.tools_for(agent or Agent(name="media", role="m", tools=["images"]))]


def test_no_image_model_configured_means_no_images(tmp_path):
    assert resolve_image(tmp_path / "p.podium") is None
    _toml(tmp_path, 'model = "openai/gpt-4o-mini"\napi_base = "http://127.0.0.1:8080/v1"\n')
    assert resolve_image(tmp_path / "p.podium") is None  # a chat endpoint alone makes no images


def test_toml_then_env_and_the_endpoint_defaults_to_api_base(tmp_path, monkeypatch):
    project = tmp_path / "proj" / "p.podium"
    user = tmp_path / "config"  # PODIUM_CONFIG_DIR (tests/conftest.py)
    _toml(user, 'image_model = "openai/dall-e-3"\n')
    assert resolve_image(project) == ImageConfig(model="openai/dall-e-3", source=str(user / "podium.toml"))
    # The project's file wins over the user's; its chat endpoint is the images' too.
    _toml(project.parent, 'image_model = "openai/gpt-image-1"\napi_base = "http://127.0.0.1:8080/v1"\n')
    chosen = resolve_image(project)
    assert (chosen.model, chosen.api_base, chosen.source) == (
        "openai/gpt-image-1", "http://127.0.0.1:8080/v1", str(project.parent / "podium.toml"))
    _toml(project.parent, 'image_model = "openai/gpt-image-1"\napi_base = "http://127.0.0.1:8080/v1"\n'
                          'image_api_base = "http://127.0.0.1:9090/v1"\n')
    assert resolve_image(project).api_base == "http://127.0.0.1:9090/v1"
    monkeypatch.setenv("PODIUM_IMAGE_MODEL", "openai/dall-e-2")
    monkeypatch.setenv("PODIUM_IMAGE_API_BASE", "http://images.example/v1")
    chosen = resolve_image(project)
    assert (chosen.model, chosen.api_base, chosen.source) == (
        "openai/dall-e-2", "http://images.example/v1", "env PODIUM_IMAGE_MODEL")
    # No image endpoint anywhere: $PODIUM_API_BASE (the chat endpoint) is the default.
    monkeypatch.delenv("PODIUM_IMAGE_API_BASE")
    _toml(project.parent, 'image_model = "openai/gpt-image-1"\n')
    monkeypatch.setenv("PODIUM_API_BASE", "http://chat.example/v1")
    assert resolve_image(project).api_base == "http://chat.example/v1"


def test_bad_image_settings_are_refused_with_one_line(tmp_path):
    _toml(tmp_path, "image_model = 3\n")
    with pytest.raises(ModelConfigError, match="image_model must be a non-empty string"):
        resolve_image(tmp_path / "p.podium")
    _toml(tmp_path, 'image_model = "openai/gpt-image-1"\nimage_api_key = "sk-123"\n')
    with pytest.raises(ModelConfigError, match="keep API keys in the environment"):
        resolve_image(tmp_path / "p.podium")


def test_generate_image_is_offered_only_when_configured_online_and_allowed(store, monkeypatch):  # noqa: F811
    config = ImageConfig(model="openai/gpt-image-1", api_base="http://127.0.0.1:9/v1", source="test")
    assert "generate_image" not in _names(ToolBox(store, offline=False))  # nothing configured
    assert "generate_image" in _names(ToolBox(store, image=config, offline=False))
    assert "generate_image" not in _names(ToolBox(store, image=config, offline=True))
    monkeypatch.setenv("PODIUM_OFFLINE", "1")
    assert "generate_image" not in _names(ToolBox(store, image=config))
    monkeypatch.delenv("PODIUM_OFFLINE")
    # Opt-in: an agent with no tools list (every tool) does not get it; the content team's media does.
    box = ToolBox(store, image=config, offline=False)
    assert "generate_image" not in _names(box, Agent(name="writer", role="w"))
    media = next(a for a in PRESETS["content"].agents if a.name == "media")
    assert "generate_image" in _names(box, media)
    assert "generate_image" in _names(box, Agent(name="designer", role="d", tools=["generate_image"]))
    # Configured next to the project file, and named in the listing; a broken setting says why.
    _toml(store.path.parent, 'image_model = "openai/dall-e-3"\n')
    box = ToolBox(store, offline=False)
    assert box.image is not None and box.image.model == "openai/dall-e-3"
    assert "(model openai/dall-e-3)" in next(t.description for t in box.catalogue()
                                             if t.name == "generate_image")
    # Models without native tools read the same tool from the fenced-JSON prompt.
    assert "- generate_image(prompt: string, path: string, size?:" in box.prompt_for(media)
    _toml(store.path.parent, 'image_model = ""\n')
    broken = ToolBox(store, offline=False)
    assert broken.image is None and "image_model" in (broken.image_error or "")


async def _events(store, type_: str) -> list[dict]:  # noqa: F811
    rows = await store.query("SELECT payload FROM events WHERE type = ? ORDER BY seq", (type_,))
    return [json.loads(r["payload"]) for r in rows]


async def test_an_image_is_written_recorded_with_its_prompt_and_its_file_stored(store, vault):  # noqa: F811
    with FakeImages() as fake:
        config = ImageConfig(model="openai/gpt-image-1", api_base=fake.base_url, source="test")
        box = await ToolBox.open(store, vault=vault, image=config, offline=False)
        made = await box.call("generate_image", {"prompt": PROMPT, "path": "images/cover.png",
                                                 "size": "1024x1024"}, ctx=CTX)
        assert made.ok, made.error
        assert fake.requests == [{"model": "gpt-image-1", "prompt": PROMPT, "n": 1, "size": "1024x1024",
                                  "output_format": "png"}]
    assert made.files == ["images/cover.png"]
    assert made.content.startswith("image saved to images/cover.png (PNG, 4x3,")
    on_disk = box.workspace("run1").root / "images" / "cover.png"
    assert on_disk.read_bytes() == png()
    [image] = await _events(store, ev.IMAGE_GENERATED)
    assert image == {"subtask_id": "t2", "agent": "media", "path": "images/cover.png", "prompt": PROMPT,
                     "model": "openai/gpt-image-1", "size": "1024x1024", "bytes": len(png()),
                     "sha256": hashlib.sha256(png()).hexdigest(), "revised_prompt": None}
    [called] = await _events(store, ev.TOOL_CALLED)
    assert called["files"] == [{"path": "images/cover.png", "sha256": image["sha256"], "size": len(png())}]
    [stored] = await box.records.workspace_files("run1")
    assert (stored.path, stored.is_text, stored.content, stored.tool) == (
        "images/cover.png", False, png(), "generate_image")
    await box.aclose()


async def test_a_url_answer_is_downloaded(store, vault):  # noqa: F811
    with FakeImages("url") as fake:
        config = ImageConfig(model="openai/dall-e-3", api_base=fake.base_url, source="test")
        box = await ToolBox.open(store, vault=vault, image=config, offline=False)
        made = await box.call("generate_image", {"prompt": "a cat", "path": "cat.PNG"}, ctx=CTX)
        assert made.ok, made.error
        assert fake.requests[0]["response_format"] == "b64_json" and "size" not in fake.requests[0]
    assert (box.workspace("run1").root / "cat.PNG").read_bytes() == png()
    assert "rewrote the prompt as: a revised prompt" in made.content
    [image] = await _events(store, ev.IMAGE_GENERATED)
    assert (image["prompt"], image["revised_prompt"], image["size"]) == ("a cat", "a revised prompt", None)
    await box.aclose()


async def test_failures_come_back_as_one_line_and_write_nothing(store, vault, monkeypatch):  # noqa: F811
    with FakeImages("jpeg") as fake:
        config = ImageConfig(model="openai/dall-e-3", api_base=fake.base_url, source="test")
        box = await ToolBox.open(store, vault=vault, image=config, offline=False)
        jpeg = await box.call("generate_image", {"prompt": "x", "path": "a.png"}, ctx=CTX)
        assert "returned a JPEG image, not a PNG" in (jpeg.error or "")
        outside = await box.call("generate_image", {"prompt": "x", "path": "../a.png"}, ctx=CTX)
        assert "'..' would leave the workspace" in (outside.error or "")
        assert len(fake.requests) == 1  # the refused path cost no image
        not_png = await box.call("generate_image", {"prompt": "x", "path": "a.jpg"}, ctx=CTX)
        assert "bad arguments for generate_image: path" in (not_png.error or "")
        bad_size = await box.call("generate_image", {"prompt": "x", "path": "a.png", "size": "big"}, ctx=CTX)
        assert "bad arguments for generate_image: size" in (bad_size.error or "")
    with FakeImages("deny") as fake:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-123")
        config = ImageConfig(model="openai/gpt-image-1", api_base=fake.base_url, source="test")
        box = await ToolBox.open(store, vault=vault, image=config, offline=False)
        denied = await box.call("generate_image", {"prompt": "x", "path": "a.png"}, ctx=CTX)
        assert denied.error == ("image openai/gpt-image-1: the provider rejected the API key; "
                                "set a valid key in the environment or keyring")
        assert fake.auth == ["Bearer sk-wrong-key-123"]  # the key from the environment was sent
    # Nothing unreachable hangs: a closed port is a one-line "cannot reach".
    config = ImageConfig(model="openai/gpt-image-1", api_base="http://127.0.0.1:9/v1", source="test")
    box = await ToolBox.open(store, vault=vault, image=config, offline=False)
    down = await box.call("generate_image", {"prompt": "x", "path": "a.png"}, ctx=CTX)
    assert down.error == ("image cannot reach http://127.0.0.1:9/v1 for openai/gpt-image-1: is the server "
                          "running and the URL right?")
    assert not (box.workspace("run1").root / "a.png").exists()
    assert await _events(store, ev.IMAGE_GENERATED) == []
    await box.aclose()


async def test_a_missing_key_without_an_endpoint_names_the_variable(store, vault):  # noqa: F811
    box = await ToolBox.open(store, vault=vault, offline=False,
                             image=ImageConfig(model="openai/gpt-image-1", source="test"))
    missing = await box.call("generate_image", {"prompt": "x", "path": "a.png"}, ctx=CTX)
    assert "OPENAI_API_KEY is not set" in (missing.error or "")
    assert "podium vault set OPENAI_API_KEY" in (missing.error or "")


def test_large_pngs_are_kept_in_the_project_file(tmp_path):
    big_png = png() + b"\x00" * (3 * 1024 * 1024)  # a 3 MiB image: over the 1 MiB kept for other files
    (tmp_path / "big.png").write_bytes(big_png)
    (tmp_path / "big.bin").write_bytes(b"\x01" * (3 * 1024 * 1024))
    assert describe_file(tmp_path, "big.png").content == big_png
    assert describe_file(tmp_path, "big.bin").content is None


@pytest.mark.skipif(__import__("sys").platform != "linux", reason="xdg-open is the Linux viewer")
async def test_the_viewer_is_started_without_waiting_for_it_and_a_failure_is_one_line(tmp_path, monkeypatch):
    import asyncio

    from podium.app import images as app_images
    from podium.app.images import ViewerError, open_in_viewer

    monkeypatch.setattr(app_images, "VIEWER_SETTLE_S", 0.3)

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "seen.txt"
    viewer = bin_dir / "xdg-open"
    # A viewer that stays open (as a real one does): open_in_viewer returns anyway.
    viewer.write_text(f'#!/bin/sh\necho "$1" > {seen}\nexec /bin/sleep 1\n')
    viewer.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    image = tmp_path / "a.png"
    image.write_bytes(png())
    await open_in_viewer(image)
    assert seen.read_text().strip() == str(image)
    assert len(app_images._reapers) == 1  # still open: reaped when it exits, not waited for
    await asyncio.gather(*app_images._reapers)
    viewer.write_text("#!/bin/sh\nexit 3\n")
    with pytest.raises(ViewerError, match=r"xdg-open could not open the image \(exit 3\)"):
        await open_in_viewer(image)
    viewer.unlink()
    with pytest.raises(ViewerError, match="no image viewer found: xdg-open"):
        await open_in_viewer(image)
