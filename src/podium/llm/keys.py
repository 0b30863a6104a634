"""API keys: read from the environment or the OS keyring, never stored or logged."""

from __future__ import annotations

import os

KEYRING_SERVICE = "podium"
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "CREDENTIALS", "PASSWORD")


def _keyring_get(name: str) -> str | None:
    try:
        import keyring
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, name)
    except Exception:  # no backend on this machine: the environment is the only source
        return None


def find_secret(name: str) -> tuple[str | None, str]:
    """(value, where) for a variable like OPENAI_API_KEY: environment first, then keyring."""
    value = os.environ.get(name)
    if value:
        return value, "env"
    value = _keyring_get(name)
    if value:
        return value, "keyring"
    return None, "missing"


def required_secrets(missing: list[str]) -> list[str]:
    """litellm also lists optional settings (e.g. OLLAMA_API_BASE); keep the real secrets."""
    return [name for name in missing if any(m in name.upper() for m in _SECRET_MARKERS)]
