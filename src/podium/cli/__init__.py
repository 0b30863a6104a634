"""The `podium` command. Subcommand groups live in sibling modules.

Heavy imports (litellm, textual) happen inside commands, never here, so
`podium --version` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

from podium.cli import (
    bench_cmds,  # noqa: F401
    board_cmds,  # noqa: F401
    control_cmds,  # noqa: F401
    doctor_cmds,  # noqa: F401
    fork_cmds,  # noqa: F401
    llm_cmds,  # noqa: F401
    memory_cmds,  # noqa: F401
    plan_cmds,  # noqa: F401
    project_cmds,  # noqa: F401  (registers commands)
    run_cmds,  # noqa: F401
    task_cmds,  # noqa: F401
    tools_cmds,  # noqa: F401
    tui_cmds,  # noqa: F401
    work_cmds,  # noqa: F401
)
from podium.cli.app import app
from podium.errors import PodiumError


def _route_bare_path(argv: list[str]) -> list[str]:
    """`podium` and `podium PATH` open the TUI; everything else is a subcommand."""
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}  # type: ignore[union-attr]
    commands |= {g.name for g in app.registered_groups if g.name}
    if not argv:
        return ["tui"]
    first = argv[0]
    if first in commands or first in {"--help", "-h", "--version"}:
        return argv
    if not first.startswith("-") and not first.endswith(".podium") and not Path(first).exists():
        # A mistyped command must not silently create a project file named after it.
        raise PodiumError(
            f"no command or project file {first!r}; see `podium --help`"
            " (a new project file must end in .podium)"
        )
    return ["tui", *argv]


def main(argv: list[str] | None = None) -> None:
    try:
        args = _route_bare_path(sys.argv[1:] if argv is None else argv)
        # Without standalone mode typer *returns* exit codes (Ctrl-C: 130, Exit(n): n).
        rc = app(args, prog_name="podium", standalone_mode=False)
    except PodiumError as exc:
        print(f"podium: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("podium: interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # usage errors and aborts
        import click
        import typer

        # Typer 0.29 ships its own copy of click: its exceptions are not click's.
        if isinstance(exc, typer.Abort | click.exceptions.Abort):
            print("podium: aborted", file=sys.stderr)
            sys.exit(1)
        if isinstance(exc, typer.TyperException | click.ClickException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(2)
        raise
    if isinstance(rc, int) and rc:
        if rc == 130:
            print("podium: interrupted", file=sys.stderr)
        sys.exit(rc)
