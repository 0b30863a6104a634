"""`podium tools`, `podium mcp ...`, `podium vault ...`, `podium workspace`, `podium approve`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from podium.cli.app import JsonOption, ProjectOption, app, print_json, project_path, run_async
from podium.cli.bench_cmds import bench_app
from podium.errors import NotFoundError, PodiumError

if TYPE_CHECKING:
    from podium.store import ProjectStore

tools_app = typer.Typer(
    help="Built-in and MCP tools, and their approval policies.", invoke_without_command=True
)
mcp_app = typer.Typer(help="MCP servers whose tools agents can use.", no_args_is_help=True)
vault_app = typer.Typer(help="Secrets by name (OS keyring, or an encrypted file).", no_args_is_help=True)
app.add_typer(tools_app, name="tools")
app.add_typer(mcp_app, name="mcp")
app.add_typer(vault_app, name="vault")


async def _open(project: Path | None, *, readonly: bool = False, create: bool = True) -> ProjectStore:
    from podium.store import ProjectStore

    target = project_path(None, project)
    if readonly and not target.exists():
        raise PodiumError(f"{target} does not exist")
    return await ProjectStore.open(target, readonly=readonly, create=create)


# ------------------------------------------------------------------ tools


@tools_app.callback()
def tools_list(
    ctx: typer.Context,
    team: Annotated[
        str | None, typer.Option("--team", "-t", help="Show which of this team's agents may use each tool.")
    ] = None,
    live: Annotated[bool, typer.Option("--live", help="Start MCP servers to list their tools now.")] = False,
    project: ProjectOption = None,
    json: JsonOption = False,
) -> None:
    """Built-in and MCP tools: which agents may use each, and whether each needs approval."""
    if ctx.invoked_subcommand is not None:
        return
    from podium.tools.toolbox import ToolBox

    target = project_path(None, project)
    team_obj = _team(team, target)

    async def go() -> tuple[list[Any], dict[str, str], list[str]]:
        store = await _open(project, readonly=target.exists() and live is False, create=True)
        box = ToolBox(store)
        try:
            infos = await box.tools(start_servers=live)
            errors = {name: box.start_error(name) or "" for name in box.servers}
            unlisted = [n for n, s in box.servers.items() if not s.tools]
            return infos, {k: v for k, v in errors.items() if v}, unlisted
        finally:
            await box.aclose()
            await store.close()

    infos, errors, unlisted = run_async(go())
    rows = []
    for info in infos:
        agents = "all"
        if team_obj is not None:
            from podium.tools.toolbox import ToolBox as _TB

            names = [a.name for a in team_obj.agents if _TB.allowed(a.tools, info)]
            agents = "all" if len(names) == len(team_obj.agents) else ", ".join(names) or "none"
        rows.append(
            {
                "name": info.name,
                "source": info.source,
                "policy": info.policy.value,
                "agents": agents,
                "description": info.description,
            }
        )
    if json:
        print_json({"tools": rows, "unlisted_servers": unlisted, "errors": errors})
        return
    width = max((len(r["name"]) for r in rows), default=10) + 2
    print(f"{'TOOL':<{width}}{'SOURCE':<16}{'POLICY':<8}AGENTS")
    for r in rows:
        print(f"{r['name']:<{width}}{r['source']:<16}{r['policy']:<8}{r['agents']}")
    for name in unlisted:
        why = f" ({errors[name]})" if name in errors else ""
        print(f"mcp:{name}: tools not listed yet; run `podium mcp test {name}`{why}")
    print(
        "policies: always = runs at once, ask = waits for approval, never = refused. "
        "Change one with `podium tools policy NAME always|ask|never|default`."
    )


def _team(name: str | None, project: Path) -> Any:
    if name is None:
        return None
    from podium.orchestrator.teams import get_team

    return get_team(name, project)


@tools_app.command("policy")
def tools_policy(
    name: Annotated[str, typer.Argument(help="Tool name or glob, e.g. run_command or 'files__*'.")],
    policy: Annotated[str, typer.Argument(help="always, ask, never, or default (remove the override).")],
    project: ProjectOption = None,
) -> None:
    """Set a project's approval policy for a tool (or every tool matching a glob)."""
    from podium.tools.approvals import set_policy
    from podium.tools.types import Policy

    choice = policy.strip().lower()
    if choice not in {"always", "ask", "never", "default"}:
        raise PodiumError(f"policy must be always, ask, never or default, not {policy!r}")

    async def go() -> None:
        store = await _open(project)
        try:
            await set_policy(store, name, None if choice == "default" else Policy(choice))
        finally:
            await store.close()

    run_async(go())
    print(f"{name}: {'default policy' if choice == 'default' else choice}")


# ------------------------------------------------------------------ mcp


@mcp_app.command("add", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def mcp_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name; its tools appear as NAME__TOOL.")],
    url: Annotated[
        str | None, typer.Option("--url", help="Streamable-HTTP endpoint instead of a command.")
    ] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option(
            "--secret",
            help="Vault secret name: an env var for a command, a Bearer token for --url. Repeatable.",
        ),
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="KEY=VALUE for the server (not secrets).")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds a call may take.")] = 30.0,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a server of the same name.")] = False,
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Start it once to list its tools.")
    ] = True,
    project: ProjectOption = None,
) -> None:
    """Register an MCP server: `podium mcp add NAME -- COMMAND ARGS...` or `--url URL`."""
    from pydantic import ValidationError

    from podium.tools.mcp_registry import MCPServerConfig, add_server

    command = list(ctx.args)
    if url and command:
        raise PodiumError("give either --url or a command after --, not both")
    if not url and not command:
        raise PodiumError(
            "give the server's command after -- (e.g. podium mcp add files -- npx -y PKG) or --url"
        )
    plain: dict[str, str] = {}
    for item in env or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise PodiumError(f"--env takes KEY=VALUE, not {item!r}")
        plain[key] = value
    try:
        config = MCPServerConfig(
            name=name,
            transport="http" if url else "stdio",
            url=url,
            command=command[0] if command else None,
            args=command[1:],
            env=plain,
            secrets=list(secret or []),
            cwd=None if url else str(Path.cwd()),
            timeout_s=timeout,
        )
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise PodiumError(f"bad MCP server settings: {problems}") from None
    _check_secrets(config.secrets)

    async def go() -> str:
        store = await _open(project)
        try:
            await add_server(store, config, replace=replace)
            if not check:
                return "not started (--no-check)"
            return await _probe(store, name)
        finally:
            await store.close()

    status = run_async(go())
    print(f"added MCP server {name} ({config.transport}); {status}")


def _check_secrets(names: list[str]) -> None:
    from podium.secrets.vault import Vault

    if not names:
        return
    vault = Vault()
    stored = set(vault.names())
    missing = [n for n in names if n not in stored]
    if missing:
        print(
            f"note: not in the vault yet: {', '.join(missing)} (set with `podium vault set NAME`)",
            file=sys.stderr,
        )


async def _probe(store: ProjectStore, name: str) -> str:
    """Start a server once and cache its tools; a failure is reported, not raised."""
    from podium.tools.toolbox import ToolBox
    from podium.tools.types import ToolError

    box = await ToolBox.open(store)
    try:
        tools = await box.start(name)
        return f"{len(tools)} tools: " + ", ".join(t["name"] for t in tools)
    except ToolError as exc:
        return f"saved, but it did not start now: {exc}"
    finally:
        await box.aclose()


@mcp_app.command("list")
def mcp_list(project: ProjectOption = None, json: JsonOption = False) -> None:
    """Registered MCP servers (settings only; secrets are shown by name)."""
    from podium.tools.mcp_registry import list_servers

    async def go() -> list[Any]:
        target = project_path(None, project)
        store = await _open(project, readonly=target.exists())
        try:
            return await list_servers(store)
        finally:
            await store.close()

    servers = run_async(go())
    if json:
        print_json([s.model_dump() for s in servers])
        return
    if not servers:
        print("no MCP servers; add one with `podium mcp add NAME -- COMMAND ...` or `--url URL`")
        return
    for s in servers:
        tools = "not listed yet" if s.tools is None else f"{len(s.tools)} tools"
        print(f"{s.describe()}  ({tools})")


@mcp_app.command("test")
def mcp_test(
    name: Annotated[str, typer.Argument(help="Server name.")],
    project: ProjectOption = None,
    json: JsonOption = False,
) -> None:
    """Connect to a server and list its tools."""
    import time

    from podium.tools.mcp_registry import get_server, namespaced_tools
    from podium.tools.toolbox import ToolBox
    from podium.tools.types import ToolError

    async def go() -> tuple[list[dict[str, Any]], float]:
        store = await _open(project, create=False)
        box = await ToolBox.open(store)
        try:
            await get_server(store, name)
            start = time.perf_counter()
            tools = await box.start(name)
            return tools, time.perf_counter() - start
        except ToolError as exc:
            raise PodiumError(str(exc)) from None
        finally:
            await box.aclose()
            await store.close()

    tools, seconds = run_async(go())
    if json:
        print_json({"server": name, "seconds": seconds, "tools": tools})
        return
    print(f"{name}: connected in {seconds:.2f}s, {len(tools)} tools")
    for full, tool in namespaced_tools(name, tools):
        flag = " (read-only)" if tool.get("read_only") else ""
        summary = (tool.get("description") or "").strip().splitlines()
        print(f"  {full}{flag}  {summary[0] if summary else ''}")


@mcp_app.command("remove")
def mcp_remove(
    name: Annotated[str, typer.Argument(help="Server name.")], project: ProjectOption = None
) -> None:
    """Forget an MCP server."""
    from podium.tools.mcp_registry import remove_server

    async def go() -> None:
        store = await _open(project, create=False)
        try:
            await remove_server(store, name)
        finally:
            await store.close()

    run_async(go())
    print(f"removed MCP server {name}")


# ------------------------------------------------------------------ vault


@vault_app.command("set")
def vault_set(name: Annotated[str, typer.Argument(help="Secret name, e.g. SEARCH_API_KEY.")]) -> None:
    """Store a secret: typed without echo (or read from standard input when piped)."""
    from podium.secrets.vault import Vault, check_name

    check_name(name)
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"{name}: ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise PodiumError("no value given; nothing stored")
    vault = Vault()
    vault.set(name, value)
    print(f"stored {name} in the {vault.backend}")


@vault_app.command("list")
def vault_list(json: JsonOption = False) -> None:
    """Secret names (never values)."""
    from podium.secrets.vault import Vault

    vault = Vault()
    names = vault.names()
    if json:
        print_json({"backend": vault.backend, "names": names})
        return
    print(f"backend: {vault.backend}")
    for name in names:
        print(f"  {name}")
    if not names:
        print("  (empty; add one with `podium vault set NAME`)")


@vault_app.command("delete")
def vault_delete(name: Annotated[str, typer.Argument(help="Secret name.")]) -> None:
    """Remove a secret."""
    from podium.secrets.vault import Vault

    if not Vault().delete(name):
        raise NotFoundError(f"no secret named {name} in the vault")
    print(f"deleted {name}")


# ------------------------------------------------------------------ workspace


@app.command("workspace")
def workspace(
    run_id: Annotated[str, typer.Argument(help="Run id (see `podium runs`).")],
    export: Annotated[
        Path | None, typer.Option("--export", help="Write the run's files into this folder.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist in the folder.")] = False,
    project: ProjectOption = None,
    json: JsonOption = False,
) -> None:
    """The files a run produced (from the project file, so archives carry them)."""
    from podium.tools.files import export_files, list_files

    async def go() -> list[Any]:
        store = await _open(project, readonly=True)
        try:
            return await list_files(store, run_id)
        finally:
            await store.close()

    files = run_async(go())
    if export is not None:
        written, skipped = export_files(files, export, force=force)
        print(
            f"exported {len(written)} files to {export}"
            + (f"; skipped {len(skipped)}: " + ", ".join(skipped) if skipped else "")
        )
        return
    if json:
        print_json([f.model_dump(exclude={"content"}) for f in files])
        return
    if not files:
        print(f"run {run_id} wrote no files")
        return
    for f in files:
        print(f"{f.path:<40} {f.size:>9,} B  {f.agent or '-':<12} {f.subtask_id or '-':<6} {f.sha256[:12]}")


# ------------------------------------------------------------------ approvals


@app.command("approve")
def approve(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    approval: Annotated[
        int | None, typer.Argument(help="Approval number; omit to list pending ones.")
    ] = None,
    deny: Annotated[bool, typer.Option("--deny", help="Refuse the tool call instead.")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (the agent reads it).")] = None,
    project: ProjectOption = None,
) -> None:
    """Approve (or --deny) a tool call waiting in a run; without a number, list what waits."""
    from podium.app.queries import Queries
    from podium.tools.approvals import decide, list_approvals

    async def go() -> str:
        store = await _open(project, create=False)
        try:
            queries = Queries(store)
            if await queries.run(run_id) is None:
                raise NotFoundError(f"no run {run_id!r} in {store.path}")
            if approval is None:
                pending = await list_approvals(store, run_id, pending_only=True)
                if not pending:
                    return f"nothing waits for approval in run {run_id}"
                return "\n".join(
                    f"#{p.id}  {p.agent} ({p.subtask_id or '-'}) wants {p.tool} {_short(p.arguments)}"
                    for p in pending
                )
            if await queries.approval_run(approval) != run_id:
                raise NotFoundError(f"no tool approval #{approval} in run {run_id}")
            record = await decide(store, approval, not deny, by="cli", reason=reason)
            return f"#{approval} {record.status}: {record.tool} for {record.agent}"
        finally:
            await store.close()

    print(run_async(go()))


def _short(arguments: dict[str, Any]) -> str:
    import json as _json

    text = _json.dumps(arguments)
    return text if len(text) <= 100 else text[:97] + "..."


# ------------------------------------------------------------------ bench


@bench_app.command("tools")
def bench_tools(
    calls: Annotated[int, typer.Option(help="Calls per measurement.")] = 200,
) -> None:
    """Tool-call overhead for a built-in and an MCP tool."""
    from podium.bench.tools_bench import run

    run_async(run(calls))
