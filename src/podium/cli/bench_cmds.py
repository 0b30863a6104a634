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


@bench_app.command("tui")
def bench_tui(
    agents: Annotated[int, typer.Option(help="Agents streaming at once.")] = 8,
    rate: Annotated[int, typer.Option(help="Tokens per second per agent.")] = 200,
    presses: Annotated[int, typer.Option(help="Key presses to time.")] = 20,
) -> None:
    """Time to first frame, and keypress-to-screen latency while agents stream."""
    from podium.bench.tui_bench import run

    run_async(run(agents, rate, presses))
