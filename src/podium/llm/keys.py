"""API keys: read from the environment, the OS keyring or Podium's vault; never stored or logged."""

from __future__ import annotations

import os

KEYRING_SERVICE = "podium"  # the same service name `podium vault` uses
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "CREDENTIALS", "PASSWORD")


def _vault_get(name: str) -> str | None:
    """`podium vault set NAME` stores in the OS keyring, or in an encrypted file where there is none."""
    try:
        from podium.secrets.vault import Vault
    except ImportError:
        return _keyring_get(name)
    try:
        return Vault().get(name)
    except Exception:  # unreadable vault: as if the key were absent (the error names what to set)
        return None


def _keyring_get(name: str) -> str | None:
    try:
        import keyring
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, name)
    except Exception:  # no backend on this machine
        return None


def find_secret(name: str) -> tuple[str | None, str]:
    """(value, where) for a variable like OPENAI_API_KEY: environment first, then keyring/vault."""
    value = os.environ.get(name, "").strip()
    if value:
        return value, "env"
    stored = _vault_get(name)
    if stored:
        return stored, "vault"
    return None, "missing"


def required_secrets(missing: list[str]) -> list[str]:
    """litellm also lists optional settings (e.g. OLLAMA_API_BASE); keep the real secrets."""
    return [name for name in missing if any(m in name.upper() for m in _SECRET_MARKERS)]
