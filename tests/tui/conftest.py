"""Fixtures for the terminal app: a scripted-model app, a waiting helper, seeded projects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from podium.app.session import ProjectSession
from podium.tui.app import PodiumApp
from tests.conftest import eventually

SCRIPTS = Path(__file__).parent / "scripts"
RESEARCH = f"scripted:{SCRIPTS / 'research.toml'}"
SLOW = f"scripted:{SCRIPTS / 'slow.toml'}"


def research_script(path: Path, extra_rules: str) -> str:
    """The research script with `extra_rules` first (so they win), written to `path`, as a model."""
    text = (SCRIPTS / "research.toml").read_text(encoding="utf-8")
    at = text.index("[[rules]]")  # the top-level keys stay first
    path.write_text(text[:at] + extra_rules + text[at:], encoding="utf-8")
    return f"scripted:{path}"


def make_app(project: Path, model: str = RESEARCH, **kwargs: Any) -> PodiumApp:
    return PodiumApp(project, session=ProjectSession(project, model=model), model=model, **kwargs)


async def wait_for(pilot: Any, predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Let the app run until `predicate()` is truthy; fail with `what` after `timeout` seconds.

    `eventually()` with the pilot's pause between checks and the app's notifications on failure."""
    return await eventually(predicate, what=what or str(predicate), timeout=timeout, interval=0.05,
                            pause=pilot.pause,
                            detail=lambda: f"notifications: {[n.message for n in pilot.app._notifications]}")


async def run_status(app: PodiumApp, run_id: str) -> str:
    assert app.session.is_open
    row = await app.session.store.query_one("SELECT status FROM executions WHERE id = ?", (run_id,))
    return row["status"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path / "project.podium"


def run_sync(coro: Any) -> Any:
    return asyncio.run(coro)
