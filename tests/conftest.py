"""Shared fixtures: every test runs offline, in its own folder and config dir.

Waiting: tests wait for a condition or an event with `eventually()` (async) or
`eventually_sync()`, both bounded, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from podium.store import ProjectStore

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
# Under pytest-xdist the other workers keep every core busy, and llama.cpp's threads spin while
# they wait for each other: one thread per local model (this process's and its `podium`
# subprocesses') is several times faster then than one per core (see local_model.threads()).
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("PODIUM_LOCAL_THREADS", "1")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Byte-compile podium once when Python is told not to write bytecode (PYTHONDONTWRITEBYTECODE).

    Hundreds of tests start `podium` in a subprocess; without .pyc files each of them compiles
    every podium module it imports again. Writing them is what Python does by default anyway."""
    if not sys.dont_write_bytecode or hasattr(session.config, "workerinput"):
        return
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("podium")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


# The slowest tests (the real local model, a wheel build) start first: spread over the xdist
# workers (pyproject's addopts) they then overlap with the rest instead of running last, alone.
SLOW_MARKERS = ("local_model", "package_install")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not any(item.get_closest_marker(m) for m in SLOW_MARKERS))


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PODIUM_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("PODIUM_PROJECT", raising=False)
    yield


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `podium` command in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "podium", *args],
        capture_output=True, text=True, env=full_env, input=input, timeout=timeout, cwd=cwd,
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ProjectStore]:
    """A fresh project file (tmp_path/p.podium), open for the test, closed after it."""
    from podium.store import ProjectStore

    opened = await ProjectStore.open(tmp_path / "p.podium")
    try:
        yield opened
    finally:
        await opened.close()


async def eventually(condition: Callable[[], Any], *, what: str, timeout: float = 10.0,
                     interval: float = 0.01, pause: Callable[[float], Awaitable[Any]] | None = None,
                     detail: Callable[[], str] | None = None) -> Any:
    """Wait until `condition()` (a plain or async callable) is truthy and return its value.

    Bounded: after `timeout` seconds it fails with an AssertionError naming `what` (and `detail()`,
    if given). `pause` replaces asyncio.sleep between checks (a Textual pilot's `pause`).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await (pause or asyncio.sleep)(interval)
    value = condition()
    if inspect.isawaitable(value):
        value = await value
    if value:
        return value
    extra = f"; {detail()}" if detail is not None else ""
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{extra}")


def eventually_sync(condition: Callable[[], Any], *, what: str, timeout: float = 10.0,
                    interval: float = 0.02, detail: Callable[[], str] | None = None) -> Any:
    """`eventually()` for code outside an event loop (subprocesses, worker processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    value = condition()
    if value:
        return value
    extra = f"; {detail()}" if detail is not None else ""
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{extra}")
