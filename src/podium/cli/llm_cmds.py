"""Model commands: `podium ask`, `podium models`, `podium bench llm`.

Everything heavy (litellm, llama.cpp) is imported inside the commands.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import typer

from podium.cli.app import JsonOption, ProjectOption, app, print_json, run_async
from podium.cli.bench_cmds import bench_app
from podium.errors import PodiumError

if TYPE_CHECKING:
    from podium.llm.probe import Reachability

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="local, scripted:PATH or a litellm model string (e.g. openai/gpt-4o-mini)."
    ),
]
ApiBaseOption = Annotated[
    str | None,
    typer.Option("--api-base", help="Base URL of an OpenAI-compatible or other litellm endpoint."),
]


def _cost(usd: float) -> str:
    return "$0" if usd == 0 else f"${usd:.6f}".rstrip("0")


@app.command()
def ask(
    prompt: Annotated[str, typer.Argument(help="What to ask ('-' reads standard input).")],
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    system: Annotated[str | None, typer.Option("--system", help="A system message.")] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Cap on the reply's length.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds per attempt (hosted and scripted models).")
    ] = 120.0,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Print the reply when complete.")] = False,
    json: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """One completion through the gateway, streamed, with tokens, cost and latency."""
    from podium.llm.config import resolve_api_base, resolve_model
    from podium.llm.gateway import Gateway
    from podium.llm.types import CallContext

    text = sys.stdin.read() if prompt == "-" else prompt
    if not text.strip():
        raise PodiumError("the prompt is empty")
    choice = resolve_model(flag=model, project=project)
    gateway = Gateway(choice.model, api_base=resolve_api_base(api_base, project), timeout=timeout)
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": text}
    ]

    first: list[float] = []

    def show(delta: str) -> None:
        if not first:
            first.append(time.perf_counter())
        sys.stdout.write(delta)
        sys.stdout.flush()

    stream = not (json or no_stream)
    call = gateway.complete(
        messages, context=CallContext(phase="ask"), max_tokens=max_tokens, on_delta=show if stream else None
    )
    result = run_async(call)
    done = time.perf_counter()
    if json:
        print_json({**result.model_dump(), "tokens": result.usage.tokens, "source": choice.source})
        return
    if not stream:
        sys.stdout.write(result.content)
    sys.stdout.write("\n")
    sys.stdout.flush()
    u = result.usage
    rate = ""
    if first and u.completion_tokens > 1 and done > first[0] and not result.model.startswith("scripted:"):
        # generation speed: from the first streamed token to the last
        rate = f" · {(u.completion_tokens - 1) / (done - first[0]):.0f} tok/s"
    print(
        f"[{result.model} · {u.prompt_tokens} prompt + {u.completion_tokens} completion tokens · "
        f"{_cost(u.cost_usd)} · {result.latency_ms:.0f} ms{rate}]",
        file=sys.stderr,
    )


def _fail_if_unusable(checks: Iterable[Reachability]) -> None:
    failed = [c.model for c in checks if not c.ok]
    if failed:
        raise PodiumError(f"not usable from here: {', '.join(failed)} (see above)")


@app.command("models")
def models_cmd(
    team: Annotated[str | None, typer.Option("--team", "-t", help="Show this team's agents.")] = None,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Also make one tiny real call per model and show its JSON mode.")] = False,
    reprobe: Annotated[bool, typer.Option(
        "--reprobe", help="With --check: probe the JSON mode again instead of using the cache.")] = False,
    json: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Which model each agent will use, where that comes from, and whether it is reachable."""
    from podium.llm import probe
    from podium.llm.config import model_layers, resolve_api_base, resolve_model

    if reprobe and not check:
        raise PodiumError("--reprobe goes with --check")
    base = resolve_api_base(api_base, project)
    rows: list[dict[str, str]] = []
    team_obj = None
    team_name = team or "research"
    try:
        from podium.orchestrator.teams import get_team

        team_obj = get_team(team_name, project)
    except ImportError:
        pass
    except PodiumError:
        if team:  # the user named a team that does not exist
            raise
    if team_obj is not None:
        for agent in team_obj.agents:
            choice = resolve_model(flag=model, agent=agent, team=team_obj, project=project)
            rows.append({"agent": agent.name, "model": choice.model, "source": choice.source})
    default = resolve_model(flag=model, project=project)
    chosen = sorted({r["model"] for r in rows} | {default.model})
    checks = {m: run_async(probe.check(m, base, call=check, reprobe=reprobe)) for m in chosen}
    layers = model_layers(flag=model, project=project)
    if json:
        print_json(
            {
                "default": default.model_dump(),
                "api_base": base,
                "layers": [x.model_dump() for x in layers],
                "team": team_obj.name if team_obj else None,
                "agents": rows,
                "models": [c.model_dump() for c in checks.values()],
            }
        )
        _fail_if_unusable(checks.values())
        return
    print(f"default model  {default.model}  (from {default.source})")
    if base:
        print(f"api base       {base}")
    if team_obj is not None:
        width = max(len(r["agent"]) for r in rows)
        mwidth = max(len(r["model"]) for r in rows)
        print(f"\nteam {team_obj.name}")
        for r in rows:
            lead = " (leader)" if r["agent"] == team_obj.leader else ""
            print(f"  {r['agent']:<{width}}  {r['model']:<{mwidth}}  from {r['source']}{lead}")
    print("\nreachable")
    for c in checks.values():
        print(f"  {'ok  ' if c.ok else 'FAIL'}  {c.model}: {c.detail}")
        if c.json_mode_detail:
            print(f"        json mode: {c.json_mode_detail}")
    print("\nprecedence: --model > $PODIUM_MODEL > agent > team > ./podium.toml > user podium.toml > local")
    _fail_if_unusable(checks.values())


@bench_app.command("llm")
def bench_llm(
    calls: Annotated[int, typer.Option(help="Calls per overhead measurement.")] = 300,
    tokens: Annotated[int, typer.Option(help="Tokens to generate for the local-model speed.")] = 128,
    local: Annotated[bool, typer.Option("--local/--no-local", help="Include the local model.")] = True,
) -> None:
    """Gateway overhead over a bare provider call, litellm alone, local-model tokens/s, `podium --version`."""
    from podium.bench.llm_bench import run

    run_async(run(calls=calls, tokens=tokens, local=local))
