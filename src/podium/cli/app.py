"""The Typer application object and helpers shared by command modules."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from podium import __version__
from podium.config import resolve_project

T = TypeVar("T")

app = typer.Typer(
    name="podium",
    help="Run a team of LLM agents on one objective, from the terminal.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"podium {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Podium: a leader plans, specialists execute, you steer."""


ProjectOption = Annotated[
    Path | None,
    typer.Option("--project", "-p", help="Project file (default $PODIUM_PROJECT or ./project.podium)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def project_path(positional: Path | None, option: Path | None) -> Path:
    return resolve_project(positional or option)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))
