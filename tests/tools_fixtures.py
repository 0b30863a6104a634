"""Fixtures shared by the tool tests: a project holding run `run1`, and a file-backed vault."""

from __future__ import annotations

import pytest

from podium.secrets.vault import Vault
from podium.store import ProjectStore


@pytest.fixture
async def store(store: ProjectStore) -> ProjectStore:
    """The shared `store` fixture (tests/conftest.py), holding run `run1`."""
    await store.write(
        lambda tx: tx.execute(
            "INSERT INTO executions (id, objective, team, status, created_at, updated_at)"
            " VALUES ('run1', 'o', 'software', 'running', 0, 0)"
        )
    )
    return store


@pytest.fixture
def vault(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_VAULT", "file")
    return Vault(tmp_path / "config")
