"""A content run through the real `podium` command, on the scripted model, against a fake
OpenAI-style images endpoint on loopback: the media agent calls generate_image, the PNG lands in
the run's workspace, is stored with the run and exported in the archive (restored byte for byte),
and its prompt is recorded. A model without native tool calls asks for the same tool with the
fenced JSON signal."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.conftest import run_cli
from tests.integration.run_helpers import events_of, rows
from tests.support.image_server import FakeImages, png

PROMPT = "A lighthouse on a cliff at dusk, flat illustration, teal and orange"
IMAGE = png(6, 4, (20, 120, 200))


def _script(native: bool) -> str:
    if native:
        media_call = f"""
[[rules.tool_calls]]
name = "generate_image"
arguments = {{ prompt = "{PROMPT}", path = "images/cover.png", size = "1024x1024" }}
"""
    else:  # the fenced JSON signal a model without tool calls ends its reply with
        arguments = {"prompt": PROMPT, "path": "images/cover.png", "size": "1024x1024"}
        signal = json.dumps({"action": "tool", "name": "generate_image", "arguments": arguments})
        media_call = f'reply = """I will make the cover.\n```json\n{signal}\n```"""\n'
    return f"""
supports_tools = {"true" if native else "false"}
default_reply = "Noted ({{agent}}, {{phase}})."

[[rules]]
phase = "planning"
structured = true
[rules.json]
rationale = "Draft, illustrate, edit."
[[rules.json.subtasks]]
id = "t1"
agent = "writer"
description = "Draft a short post about lighthouses"
[[rules.json.subtasks]]
id = "t2"
agent = "media"
description = "Make the post's cover image"
depends_on = ["t1"]

[[rules]]
phase = "execution"
agent = "media"
times = 1
{media_call}
[[rules]]
phase = "execution"
agent = "media"
reply = "The cover is images/cover.png."

[[rules]]
phase = "synthesis"
reply = "A post about lighthouses, with its cover images/cover.png."

[[rules]]
phase = "review"
structured = true
[rules.json]
result_ok = true
reasons = "illustrated"
verdicts = [{{ subtask_id = "t1", ok = true }}, {{ subtask_id = "t2", ok = true }}]
"""


@pytest.mark.parametrize("native", [True, False], ids=["tool-calls", "json-signal"])
def test_the_media_agent_makes_an_image_that_ends_up_in_the_archive(tmp_path, native):
    with FakeImages(image=IMAGE) as fake:
        # The endpoint comes from api_base: image_api_base defaults to it.
        (tmp_path / "podium.toml").write_text(
            f'image_model = "openai/gpt-image-1"\napi_base = "{fake.base_url}"\n')
        (tmp_path / "content.toml").write_text(_script(native))
        out = run_cli("run", "A post about lighthouses, with a cover image", "--team", "content", "--yes",
                      "--model", f"scripted:{tmp_path / 'content.toml'}",
                      env={"PODIUM_OFFLINE": "0", "OPENAI_API_KEY": "sk-test-images"}, timeout=240)
        assert out.returncode == 0, out.stdout + out.stderr
        assert [r["prompt"] for r in fake.requests] == [PROMPT]
        assert fake.auth == ["Bearer sk-test-images"]
    project = tmp_path / "project.podium"
    run_id = rows(project, "SELECT id FROM executions")[0]["id"]

    # In the run's workspace, and stored with the run like every file a tool writes.
    assert (tmp_path / "project-workspace" / run_id / "images" / "cover.png").read_bytes() == IMAGE
    (image,) = events_of(project, run_id, "image.generated")
    assert (image["agent"], image["subtask_id"], image["path"], image["prompt"], image["model"],
            image["size"]) == ("media", "t2", "images/cover.png", PROMPT, "openai/gpt-image-1", "1024x1024")
    assert image["sha256"] == hashlib.sha256(IMAGE).hexdigest()
    (call,) = [e for e in events_of(project, run_id, "tool.called") if e["tool"] == "generate_image"]
    assert call["result"].startswith("image saved to images/cover.png (PNG, 6x4,")
    listing = json.loads(run_cli("workspace", run_id, "--json").stdout)
    assert [(f["path"], f["agent"], f["subtask_id"]) for f in listing] == [
        ("images/cover.png", "media", "t2")]

    # The archive carries the image: restored from it alone, byte for byte.
    assert run_cli("export", "-o", "archive.podium").returncode == 0
    restored = run_cli("workspace", run_id, "--project", "archive.podium", "--export", "restored")
    assert restored.returncode == 0, restored.stderr
    assert (tmp_path / "restored" / "images" / "cover.png").read_bytes() == IMAGE
    assert "sk-test-images" not in (tmp_path / "archive.podium").read_bytes().decode("latin-1")


def test_podium_tools_lists_generate_image_only_when_configured_and_online(tmp_path):
    plain = json.loads(run_cli("tools", "--json", "--team", "content", env={"PODIUM_OFFLINE": "0"}).stdout)
    assert "generate_image" not in [t["name"] for t in plain["tools"]]
    assert plain["images"] == "off: no image model configured (image_model = ... in podium.toml)"
    (tmp_path / "podium.toml").write_text('image_model = "openai/dall-e-3"\napi_base = "http://127.0.0.1:9/v1"\n')
    offline = json.loads(run_cli("tools", "--json", env={"PODIUM_OFFLINE": "1"}).stdout)
    assert "generate_image" not in [t["name"] for t in offline["tools"]]
    assert offline["images"].endswith("(off now: PODIUM_OFFLINE is set)")
    online = run_cli("tools", "--team", "content", env={"PODIUM_OFFLINE": "0"})
    assert online.returncode == 0, online.stderr
    (row,) = [line for line in online.stdout.splitlines() if line.startswith("generate_image")]
    assert row.split()[-1] == "media"  # opt-in: the content team's media agent alone
    assert (f"images: openai/dall-e-3 at http://127.0.0.1:9/v1, from {tmp_path / 'podium.toml'}"
            in online.stdout)
