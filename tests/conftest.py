"""Shared fixtures: every test runs offline, in its own folder and config dir."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")


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
