"""Small teams for tests on the real local model (fewer agents, fewer calls)."""

from __future__ import annotations

from pathlib import Path

DUO = """
description = "A two-person team for quick local runs."
leader = "planner"
[[agents]]
name = "planner"
role = "planner who splits the work and writes the final answer"
[[agents]]
name = "writer"
role = "writer who drafts short texts"
"""


def write_duo(folder: Path) -> None:
    """`--team duo` for a project in `folder`."""
    (folder / "teams").mkdir(exist_ok=True)
    (folder / "teams" / "duo.toml").write_text(DUO)
