"""`podium memory ...`: search, list, add, forget and re-embed long-term memory.

Also registers `podium bench memory`. Reads (search, list, info) open the
project read-only, so they work on an exported archive too.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from podium.cli.app import JsonOption, ProjectOption, app, print_json, project_path, run_async
from podium.cli.bench_cmds import bench_app
from podium.errors import PodiumError

if TYPE_CHECKING:
    from podium.memory.service import MemoryService

T = TypeVar("T")

memory_app = typer.Typer(help="Long-term memory: what agents learned, recalled across runs.",
                         no_args_is_help=True)
app.add_typer(memory_app, name="memory")

_AGENT = re.compile(r"^[a-z][a-z0-9_-]*$")
AgentOption = Annotated[str | None, typer.Option("--agent", "-a", help="An agent's name.")]


def _agent(name: str | None) -> str | None:
    if name is not None and not _AGENT.match(name):
        raise PodiumError(f"bad agent name {name!r}: lower-case letters, digits, - and _")
    return name


def _with_memory(project: Path | None, readonly: bool, fn: Callable[[MemoryService], Awaitable[T]]) -> T:
    from podium.app.session import ProjectSession

    target = project_path(None, project)
    if readonly and not target.exists():
        raise PodiumError(f"{target} does not exist")

    async def go() -> T:
        async with ProjectSession(target, readonly=readonly, tools=False) as session:
            return await fn(session.memory_service())

    return run_async(go())


def _short(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _scope(agent: str | None) -> str:
    return agent or "project"


@memory_app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What to look for (meaning and words).")],
    agent: AgentOption = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=100, help="How many hits.")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, vector or keyword.")] = "hybrid",
    project: ProjectOption = None,
    json: JsonOption = False,
) -> None:
    """Ranked memories for QUERY; with --agent, that agent's and project-wide ones."""
    from podium.memory.ranking import Mode

    try:
        how = Mode(mode)
    except ValueError:
        raise PodiumError(f"unknown mode {mode!r}: use hybrid, vector or keyword") from None
    result = _with_memory(project, True, lambda m: m.search(query, agent=_agent(agent), k=k, mode=how))
    if result.warning:
        print(f"podium: note: {result.warning}", file=sys.stderr)
    if json:
        print_json([h.model_dump() for h in result.hits])
        return
    if not result.hits:
        print("no relevant memories")
        return
    print(f"{'id':>5}  {'score':>5}  {'sim':>5}  {'kind':<6}  {'scope':<12}  {'run':<8}  text")
    for h in result.hits:
        sim = "-" if h.similarity is None else f"{h.similarity:.2f}"
        print(
            f"{h.id:>5}  {h.score:>5.2f}  {sim:>5}  {h.kind.value:<6}  {_scope(h.agent):<12}  "
            f"{(h.source_execution or 'human'):<8}  {_short(h.text, 70)}"
        )


@memory_app.command("list")
def list_(
    agent: AgentOption = None,
    kind: Annotated[str | None, typer.Option(help="fact, lesson, output or result.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many, newest first.")] = None,
    project: ProjectOption = None,
    json: JsonOption = False,
) -> None:
    """Memories, newest first; --agent shows that agent's own."""
    from podium.domain import MemoryKind

    try:
        which = None if kind is None else MemoryKind(kind)
    except ValueError:
        raise PodiumError(f"unknown kind {kind!r}: use fact, lesson, output or result") from None
    items = _with_memory(project, True, lambda m: m.list(agent=_agent(agent), kind=which, limit=limit))
    if json:
        print_json([i.model_dump() for i in items])
        return
    if not items:
        print("no memories")
        return
    print(f"{'id':>5}  {'kind':<6}  {'scope':<12}  {'run':<8}  {'when':<16}  text")
    for i in items:
        when = datetime.fromtimestamp(i.created_at).strftime("%Y-%m-%d %H:%M")
        print(
            f"{i.id:>5}  {i.kind.value:<6}  {_scope(i.agent):<12}  {(i.source_execution or 'human'):<8}  "
            f"{when:<16}  {_short(i.text, 60)}"
        )


@memory_app.command("add")
def add(
    text: Annotated[str, typer.Argument(help="The fact, in one sentence or a few.")],
    agent: AgentOption = None,
    project: ProjectOption = None,
) -> None:
    """Give the team a fact (project-wide, or for one agent with --agent)."""
    item, new = _with_memory(project, False, lambda m: m.add_fact(text, agent=_agent(agent)))
    verb = "remembered" if new else "already known as"
    print(f"{verb} #{item.id} ({item.kind.value}, {_scope(item.agent)})")


@memory_app.command("forget")
def forget(
    memory_id: Annotated[int, typer.Argument(help="The id shown by `podium memory list`.")],
    project: ProjectOption = None,
) -> None:
    """Delete one memory (its text, vectors and index entries)."""
    item = _with_memory(project, False, lambda m: m.forget(memory_id))
    print(f"forgot #{item.id} ({item.kind.value}, {_scope(item.agent)}): {_short(item.text, 60)}")


@memory_app.command("reembed")
def reembed(
    embedder: Annotated[
        str | None,
        typer.Option(help="hashed[:DIM], local, or a litellm embedding model "
                          "(default: $PODIUM_EMBEDDER, podium.toml [memory] embedder, hashed)."),
    ] = None,
    keep_old: Annotated[bool, typer.Option(help="Keep the previous space's vectors.")] = False,
    project: ProjectOption = None,
) -> None:
    """Embed every memory with EMBEDDER and switch recall to it (never mixing spaces)."""
    from podium.memory.config import configured_embedder
    from podium.memory.embedders import make_embedder
    from podium.memory.service import default_gateway_factory

    target = project_path(None, project)
    name = embedder or configured_embedder(target)[0]
    chosen = make_embedder(name, default_gateway_factory)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        print(f"\r  embedded {done}/{total}", end="", file=sys.stderr, flush=True)

    async def go(m: MemoryService) -> Any:
        report = await m.reembed(chosen, keep_old=keep_old, progress=progress)
        if report.total:
            print(file=sys.stderr)
        return report

    report = _with_memory(target, False, go)
    dropped = f"; dropped {', '.join(report.dropped)}" if report.dropped else ""
    print(
        f"memory now embedded with {report.embedder} (dim {report.dim}): {report.embedded} vectors "
        f"written in {time.perf_counter() - started:.1f}s{dropped}"
    )


@memory_app.command("info")
def info(project: ProjectOption = None, json: JsonOption = False) -> None:
    """How many memories of each kind, and the embedding spaces that hold their vectors."""
    stats = _with_memory(project, True, lambda m: m.stats())
    if json:
        print_json(stats)
        return
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(stats["by_kind"].items())) or "none"
    print(f"memories  {stats['memories']} ({kinds})")
    if not stats["spaces"]:
        print("spaces    none yet (the first memory creates one)")
    for s in stats["spaces"]:
        mark = "active" if s["active"] else "inactive"
        print(f"space {s['id']}   {s['embedder']} dim {s['dim']}, {s['vectors']} vectors, {mark}")


@bench_app.command("memory")
def bench_memory(
    sizes: Annotated[str, typer.Option(help="Comma-separated memory counts.")] = "1000,10000,100000",
    queries: Annotated[int, typer.Option(min=10, help="Recall queries per size.")] = 200,
) -> None:
    """Recall latency (median, p95), insert throughput, file growth, quantised vs float quality."""
    from podium.bench.memory_bench import run

    try:
        counts = [int(s.replace("_", "")) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise PodiumError(f"bad --sizes {sizes!r}: use numbers like 1000,10000") from None
    if not counts or min(counts) < 100:
        raise PodiumError("--sizes needs counts of at least 100")
    run_async(run(counts, queries))
