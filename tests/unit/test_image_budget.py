"""generate_image counts against the run's budget like a chat call: its price (litellm's price map,
here a model registered by the test) is checked before the image is asked for, and what litellm
says it cost is added to the run's usage; a USD budget it would exceed refuses the call, with a
message, before anything is sent. Against the fake OpenAI-style images endpoint on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.app.session import ProjectSession
from podium.domain import Budget, Usage
from podium.llm import _litellm
from podium.llm.images import ImageConfig, estimate_cost
from podium.llm.types import BudgetGuard
from podium.tools.toolbox import ToolBox
from podium.tools.types import ToolContext
from tests.integration.run_helpers import rows
from tests.support.image_server import FakeImages
from tests.tools_fixtures import store, vault  # noqa: F401  (fixtures)

PRICED = "openai/podium-test-priced-image"
UNPRICED = "openai/podium-test-unpriced-image"
PRICE = 0.04
ARGS = {"prompt": "A lighthouse at dusk", "path": "images/cover.png", "size": "1024x1024"}


@pytest.fixture
def priced() -> Iterator[None]:
    """A priced image model in litellm's price map, for this test only."""
    litellm = _litellm.get()
    litellm.register_model({PRICED: {"litellm_provider": "openai", "mode": "image_generation",
                                     "output_cost_per_image": PRICE}})
    yield
    litellm.model_cost.pop(PRICED, None)


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PODIUM_IMAGE_MODEL", "PODIUM_IMAGE_API_BASE", "PODIUM_API_BASE", "PODIUM_OFFLINE",
                 "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def _ctx(guard: BudgetGuard | None) -> ToolContext:
    return ToolContext(execution_id="run1", subtask_id="t2", agent="media", agent_tools=["images"],
                       guard=guard)


async def test_the_price_comes_from_litellms_price_map_and_an_unknown_model_costs_nothing(priced) -> None:
    assert await estimate_cost(ImageConfig(model=PRICED, api_base="http://127.0.0.1:9/v1", source="t"),
                               "1024x1024") == pytest.approx(PRICE)
    unpriced = ImageConfig(model=UNPRICED, api_base="http://127.0.0.1:9/v1", source="t")
    assert await estimate_cost(unpriced) == 0


async def test_an_image_is_counted_in_the_runs_usage(store, vault, priced) -> None:  # noqa: F811
    guard = BudgetGuard(Budget(usd=1.0), Usage(cost_usd=0.1, calls=3), steps=3)
    with FakeImages() as fake:
        box = await ToolBox.open(store, vault=vault, offline=False,
                                 image=ImageConfig(model=PRICED, api_base=fake.base_url, source="test"))
        made = await box.call("generate_image", ARGS, ctx=_ctx(guard))
        await box.aclose()
    assert made.ok, made.error
    assert made.cost_usd == pytest.approx(PRICE)
    assert guard.usage.cost_usd == pytest.approx(0.1 + PRICE) and guard.usage.calls == 4 and guard.steps == 4
    assert guard.in_flight == 0 and guard.reserved_usd == 0


async def test_an_image_the_usd_budget_cannot_pay_for_is_refused_before_it_is_asked_for(
        store, vault, priced) -> None:  # noqa: F811
    guard = BudgetGuard(Budget(usd=0.05), Usage(cost_usd=0.02))
    with FakeImages() as fake:
        box = await ToolBox.open(store, vault=vault, offline=False,
                                 image=ImageConfig(model=PRICED, api_base=fake.base_url, source="test"))
        refused = await box.call("generate_image", ARGS, ctx=_ctx(guard))
        await box.aclose()
        assert fake.requests == []  # nothing was sent, nothing paid
    assert not refused.ok
    assert refused.error is not None and refused.error.startswith("generate_image was not called")
    assert "$0.040" in refused.error and "$0.020 spent of $0.05" in refused.error
    assert not (box.workspace("run1").root / "images" / "cover.png").exists()
    assert guard.usage.cost_usd == pytest.approx(0.02) and guard.steps == 0


async def test_an_unpriced_model_costs_nothing_and_is_not_refused(store, vault) -> None:  # noqa: F811
    guard = BudgetGuard(Budget(usd=0.01))
    with FakeImages() as fake:
        box = await ToolBox.open(store, vault=vault, offline=False,
                                 image=ImageConfig(model=UNPRICED, api_base=fake.base_url, source="test"))
        made = await box.call("generate_image", ARGS, ctx=_ctx(guard))
        await box.aclose()
    assert made.ok, made.error
    assert made.cost_usd == 0 and guard.usage.cost_usd == 0 and guard.usage.calls == 1


SCRIPT = """
supports_tools = true
default_reply = "Noted ({agent}, {phase})."

[[rules]]
phase = "planning"
structured = true
[rules.json]
rationale = "Illustrate."
[[rules.json.subtasks]]
id = "t1"
agent = "media"
description = "Make the post's cover image"

[[rules]]
phase = "execution"
agent = "media"
times = 1
[[rules.tool_calls]]
name = "generate_image"
arguments = { prompt = "A lighthouse at dusk", path = "images/cover.png", size = "1024x1024" }

[[rules]]
phase = "execution"
agent = "media"
reply = "The cover is images/cover.png."
"""


async def test_a_runs_cost_and_its_subtasks_include_the_image(tmp_path: Path, priced,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "content.toml").write_text(SCRIPT)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-images")
    with FakeImages() as fake:
        (tmp_path / "podium.toml").write_text(
            f'image_model = "{PRICED}"\nimage_api_base = "{fake.base_url}"\n')
        project = tmp_path / "project.podium"
        async with ProjectSession(project, model=f"scripted:{tmp_path / 'content.toml'}") as session:
            run = await session.create_run("A cover image", "content", budget=Budget(usd=1.0))
            await session.plan(run.id)
            done = await session.approve(run.id, execute=True)
        assert len(fake.requests) == 1
    assert done.status.value in ("review", "completed"), done.status
    (execution,) = rows(project, "SELECT cost_usd FROM executions WHERE id = ?", run.id)
    assert execution["cost_usd"] == pytest.approx(PRICE)  # the scripted chat model is free
    (subtask,) = rows(project, "SELECT cost_usd FROM subtasks WHERE execution_id = ?", run.id)
    assert subtask["cost_usd"] == pytest.approx(PRICE)
