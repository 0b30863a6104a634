"""`podium work`: the team works the board's To do column by itself.

Exit codes: 0 every card it took ended Done; 1 some ended elsewhere (Failed,
Needs help, Review); 2 a user error (nothing taken); 3 stopped (Ctrl-C,
SIGTERM, the total budget) with cards left to resume.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from podium.cli.app import JsonOption, ProjectOption, app, print_json, project_path, run_async
from podium.cli.run_cmds import (
    ApiBaseOption,
    MaxTokensOption,
    ModelOption,
    SecondsOption,
    StepsOption,
    TokensOption,
    UsdOption,
)
from podium.errors import PodiumError

if TYPE_CHECKING:
    from podium.app.work import WorkOptions, WorkSummary
    from podium.domain import RunSettings


@app.command()
def work(
    team: Annotated[str | None, typer.Option("--team", "-t", help="Only cards for this team (or none); "
                                             "cards without a team run with it (default: research).")] = None,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    parallel: Annotated[int, typer.Option("--parallel", "-n", min=1, max=64,
                                          help="Cards worked at once.")] = 1,
    approve: Annotated[str, typer.Option("--approve", help="Plans: auto (approved), leader (the leader's "
                                         "validated plan is approved), human (left for you; the card "
                                         "goes to Review).")] = "leader",
    watch: Annotated[bool, typer.Option("--watch", help="Keep waiting for new cards when To do is "
                                        "empty.")] = False,
    budget_tokens: TokensOption = None,
    budget_usd: UsdOption = None,
    budget_steps: StepsOption = None,
    budget_seconds: SecondsOption = None,
    total_usd: Annotated[float | None, typer.Option("--total-usd", min=0, help="Take no more cards once "
                                                    "the cards worked have cost this much.")] = None,
    total_tokens: Annotated[int | None, typer.Option("--total-tokens", min=1, help="Take no more cards "
                                                     "once the cards worked have used this many tokens.")]
    = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, max=64,
                                             help="Subtasks running at once within each card's run.")] = 4,
    max_tokens: MaxTokensOption = None,
    json: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Work the board: take the highest-priority ready card from To do, run it, move it; repeat."""
    from podium.app.run_settings import merged_budget, start_settings
    from podium.app.work import WorkOptions

    if approve not in ("auto", "leader", "human"):
        raise PodiumError(f"--approve takes auto, leader or human, not {approve!r}")
    mode: Literal["auto", "leader", "human"] = approve  # type: ignore[assignment]
    path = project_path(None, project)
    if not path.exists():
        raise PodiumError(f"{path} does not exist (add a card with `podium board add \"...\"`)")
    from podium.cli.control_cmds import controllable

    controllable(path)
    budget = merged_budget(tokens=budget_tokens, usd=budget_usd, steps=budget_steps, seconds=budget_seconds)
    options = WorkOptions(team=team, parallel=parallel, approve=mode, watch=watch, budget=budget,
                          total_usd=total_usd, total_tokens=total_tokens)
    settings, endpoint = start_settings(path, model=model, api_base=api_base, concurrency=concurrency,
                                         max_tokens=max_tokens, review=False, yes=mode != "human",
                                         allow_tools=None)
    summary = run_async(_work(path, options, settings, endpoint, quiet=json))
    if json:
        print_json(summary.model_dump())
    else:
        done = sum(1 for w in summary.worked if w.column == "done")
        print(f"worked {len(summary.worked)} cards: {done} done"
              + (f" · stopped: {summary.stopped}" if summary.stopped else "")
              + f" · tokens {summary.tokens:,} · ${summary.cost_usd:.4f}")
    if summary.stopped is not None:
        sys.exit(3)
    if any(w.column != "done" for w in summary.worked):
        sys.exit(1)


async def _work(path: Path, options: WorkOptions, settings: RunSettings, endpoint: str | None, *,
                quiet: bool) -> WorkSummary:
    from podium.app.session import ProjectSession
    from podium.app.work import Worker

    def report(line: str) -> None:
        print(line, file=sys.stderr if quiet else sys.stdout, flush=True)

    async with ProjectSession(path, run_settings=settings, endpoint=endpoint, create=False) as session:
        worker = Worker(session, options, report=report)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        try:
            return await worker.run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
