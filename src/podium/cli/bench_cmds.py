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
