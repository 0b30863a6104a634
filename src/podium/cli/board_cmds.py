"""`podium board`: the project's own work list: list, add, edit, move, archive cards.

Cards live in the project file, not in a run; `podium work` takes them from To do.
Bad input (unknown card, column, team or priority; a dependency cycle) is one
line and exit 2, with nothing changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from podium.cli.app import JsonOption, ProjectOption, app, print_json, project_path, run_async
from podium.errors import PodiumError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from podium.app.board import Board
    from podium.domain import Card

board_app = typer.Typer(help="The project's board: cards people and agents add, and `podium work` works.",
                        no_args_is_help=False, invoke_without_command=True)
app.add_typer(board_app, name="board")

CardArgument = Annotated[str, typer.Argument(help="Card id (c12, or 12).", show_default=False)]
TeamOption = Annotated[str | None, typer.Option("--team", "-t", help="Team that works it "
                                                "(default: the worker's).")]
PriorityOption = Annotated[str | None, typer.Option("--priority", help="urgent, high, normal or low.")]
CriteriaOption = Annotated[list[str] | None, typer.Option("--criteria", help="An acceptance criterion "
                                                          "(repeatable).")]
AfterOption = Annotated[list[str] | None, typer.Option("--after", help="A card that must be done first "
                                                       "(repeatable).")]
DetailsOption = Annotated[str | None, typer.Option("--details", help="More about what is wanted.")]


def _on_board(project: Path | None, act: Callable[[Board], Awaitable[Card]], *, create: bool = False,
              read: bool = False) -> Card:
    """`act` on the board; `create`: a missing project file is made; `read`: the file is not changed
    (an archive works too)."""
    from podium.app.session import ProjectSession
    from podium.cli.control_cmds import controllable

    path = project_path(None, project)
    if read and not path.exists():
        raise PodiumError(f"{path} does not exist")
    if not read and not (create and not path.exists()):
        controllable(path)

    async def go() -> Card:
        async with ProjectSession(path, create=create, readonly=read) as session:
            return await act(session.board)

    return run_async(go())


@board_app.callback()
def board(ctx: typer.Context, project: ProjectOption = None, json: JsonOption = False,
          archived: Annotated[bool, typer.Option("--archived", help="Show archived cards too.")] = False,
          ) -> None:
    """The project's cards by column, with their runs."""
    if ctx.invoked_subcommand is not None:
        return
    from podium.app.session import ProjectSession

    path = project_path(None, project)
    if not path.exists():
        raise PodiumError(f"{path} does not exist (add a card with `podium board add \"...\"`)")

    async def go() -> list[Card]:
        async with ProjectSession(path, readonly=True) as session:  # an archive lists too, unchanged
            return await session.board.list(archived=archived)

    cards = run_async(go())
    if json:
        print_json([c.summary() for c in cards])
        return
    _print_board(cards)


def _print_board(cards: list[Card]) -> None:
    from rich.console import Console
    from rich.markup import escape

    from podium.domain import CardColumn

    console = Console(highlight=False)
    if not cards:
        console.print("the board is empty: `podium board add \"what needs doing\"`")
        return
    for column in CardColumn:
        here = [c for c in cards if c.column is column]
        if not here:
            continue
        console.print(f"[bold]{column.label}[/bold] ({len(here)})")
        for card in here:
            extra = []
            if card.team:
                extra.append(card.team)
            if card.depends_on:
                extra.append("after " + ", ".join(f"c{d}" for d in card.depends_on))
            if card.created_by != "user":
                extra.append(f"by {card.created_by}" + (f" (run {card.source_execution})"
                                                          if card.source_execution else ""))
            if card.runs:
                extra.append("runs " + ", ".join(card.runs))
            if card.archived:
                extra.append("archived")
            style = _PRIORITY_STYLE[card.priority.value]
            tail = f"  [dim]{escape(' · '.join(extra))}[/dim]" if extra else ""
            console.print(f"  {card.ref:<5} [{style}]{card.priority.value:<6}[/] {escape(card.title)}{tail}")


_PRIORITY_STYLE = {"urgent": "bold red", "high": "yellow", "normal": "default", "low": "dim"}


@board_app.command("add")
def add(
    title: Annotated[str, typer.Argument(help="What needs doing.", show_default=False)],
    details: DetailsOption = None,
    team: TeamOption = None,
    priority: PriorityOption = None,
    criteria: CriteriaOption = None,
    after: AfterOption = None,
    backlog: Annotated[bool, typer.Option("--backlog", help="Put it in Backlog, not To do.")] = False,
    project: ProjectOption = None,
) -> None:
    """Add a card (to To do; --backlog: to Backlog)."""
    from podium.app.board import CardFields

    fields = CardFields(title=title, details=details, team=team, priority=priority, criteria=criteria,
                        after=after)
    card = _on_board(project, lambda b: b.add(fields, backlog=backlog), create=True)
    print(f"{card.ref} added to {card.column.label}: {card.title}")


@board_app.command("edit")
def edit(
    card: CardArgument,
    title: Annotated[str | None, typer.Option("--title", help="A new title.")] = None,
    details: DetailsOption = None,
    team: TeamOption = None,
    priority: PriorityOption = None,
    criteria: CriteriaOption = None,
    after: AfterOption = None,
    no_after: Annotated[bool, typer.Option("--no-after", help="Depend on no card.")] = False,
    project: ProjectOption = None,
) -> None:
    """Change a card: only the options given."""
    from podium.app.board import CardFields

    if no_after and after:
        raise PodiumError("choose one: --after or --no-after")
    fields = CardFields(title=title, details=details, team=team, priority=priority, criteria=criteria,
                        after=[] if no_after else after)
    changed = _on_board(project, lambda b: b.edit(card, fields))
    print(f"{changed.ref} changed: {changed.title}")


@board_app.command("move")
def move(
    card: CardArgument,
    column: Annotated[str, typer.Argument(help="Backlog, todo, in-progress, needs-help, review, done or "
                                          "failed.", show_default=False)],
    project: ProjectOption = None,
) -> None:
    """Move a card to a column."""
    moved = _on_board(project, lambda b: b.move(card, column))
    print(f"{moved.ref} is in {moved.column.label}")


@board_app.command("archive")
def archive(card: CardArgument, project: ProjectOption = None) -> None:
    """Take a card off the board (kept in the file; `podium board --archived` shows it)."""
    gone = _on_board(project, lambda b: b.archive(card))
    print(f"{gone.ref} archived: {gone.title}")


@board_app.command("show")
def show(card: CardArgument, project: ProjectOption = None, json: JsonOption = False) -> None:
    """One card in full, with its runs."""
    found = _on_board(project, lambda b: b.get(card), read=True)
    if json:
        print_json(found.summary())
        return
    print(f"{found.ref} · {found.column.label} · {found.priority.value}"
          + (f" · team {found.team}" if found.team else "") + f" · by {found.created_by}")
    print(found.title)
    if found.details:
        print(f"\n{found.details}")
    if found.criteria:
        print("\nacceptance criteria:\n" + "\n".join(f"  - {c}" for c in found.criteria))
    if found.depends_on:
        print("after: " + ", ".join(f"c{d}" for d in found.depends_on))
    if found.reason:
        print(f"why: {found.reason}")
    if found.runs:
        print("runs: " + ", ".join(found.runs))
    if found.result:
        print(f"\nresult:\n{found.result}")
