"""Model strings: "local", "scripted:PATH", or anything litellm understands."""

from __future__ import annotations

from pathlib import Path

LOCAL = "local"
LOCAL_ALIASES = {"local", "local/smollm2", "podium-local/smollm2"}
SCRIPTED_PREFIX = "scripted:"


def kind(model: str) -> str:
    if model in LOCAL_ALIASES:
        return "local"
    if model.startswith(SCRIPTED_PREFIX):
        return "scripted"
    return "litellm"


def script_path(model: str) -> Path:
    return Path(model[len(SCRIPTED_PREFIX) :]).expanduser()


def canonical(model: str) -> str:
    """A string that means the same model in any process: scripted paths become absolute."""
    model = model.strip()
    k = kind(model)
    if k == "local":
        return LOCAL
    if k == "scripted":
        return SCRIPTED_PREFIX + str(script_path(model).resolve())
    return model


def display(model: str) -> str:
    """Short name for status bars: local/smollm2, scripted:demo.toml, openai/gpt-4o-mini."""
    k = kind(model)
    if k == "local":
        return "local/smollm2"
    if k == "scripted":
        return SCRIPTED_PREFIX + script_path(model).name
    return model
