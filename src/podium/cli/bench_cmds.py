"""`podium bench ...`: print performance figures (not pass/fail tests)."""

from __future__ import annotations

from typing import Annotated

import typer

from podium.cli.app import app, run_async

bench_app = typer.Typer(help="Print performance figures.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("store")
def bench_store(
    events: Annotated[int, typer.Option(help="Events per measurement.")] = 10_000,
) -> None:
    """Event append throughput (durable and batched) and file growth."""
    from podium.bench.store_bench import run

    run_async(run(events))


@bench_app.command("board")
def bench_board(
    cards: Annotated[int, typer.Option(min=1, help="Cards in the backlog.")] = 200,
    parallel: Annotated[int, typer.Option(min=1, max=64, help="Cards worked at once.")] = 8,
    latency_ms: Annotated[int, typer.Option(min=0, help="Scripted model latency per call.")] = 50,
    claimers: Annotated[int, typer.Option(min=1, max=16, help="Competing claimer processes.")] = 4,
    claim_cards: Annotated[int, typer.Option(min=1, help="Cards the claimers race for.")] = 400,
) -> None:
    """`podium work` throughput (cards per minute against the ideal) and claim latency under contention."""
    from podium.bench.board_bench import run

    run_async(run(cards, parallel, latency_ms, claimers, claim_cards))


@bench_app.command("tui")
def bench_tui(
    agents: Annotated[int, typer.Option(help="Agents streaming at once.")] = 8,
    rate: Annotated[int, typer.Option(help="Tokens per second per agent.")] = 200,
    presses: Annotated[int, typer.Option(help="Key presses to time.")] = 20,
) -> None:
    """Time to first frame, and keypress-to-screen latency while agents stream."""
    from podium.bench.tui_bench import run

    run_async(run(agents, rate, presses))


@bench_app.command("plans")
def bench_plans(
    model: Annotated[str, typer.Option(help="Model string, as for `podium ask`.")] = "local",
    api_base: Annotated[str | None, typer.Option("--api-base", help="OpenAI-compatible endpoint.")] = None,
    teams: Annotated[list[str] | None, typer.Option("--teams", help="Built-in teams, comma-separated or "
                                                    "repeated (default: all).")] = None,
    objectives: Annotated[int, typer.Option(min=1, help="Objectives per team.")] = 7,
    json_out: Annotated[bool, typer.Option("--json", help="The figures and every plan's outcome as JSON.")]
    = False,
) -> None:
    """How often each team leader's plan validates first time, after mending, after repair, or falls back."""
    from podium.bench.plans_bench import run

    run_async(run(model, api_base, teams, objectives, as_json=json_out))
