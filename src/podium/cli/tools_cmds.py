"""`podium tools`, `podium mcp ...`, `podium vault ...`, `podium workspace`, `podium approve`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from podium.cli.app import JsonOption, ProjectOption, app, print_json, project_path, run_async
from podium.cli.bench_cmds import bench_app
from podium.errors import NotFoundError, PodiumError, ReadOnlyError

if TYPE_CHECKING:
    from podium.app.session import ProjectSession
    from podium.app.tool_admin import ServerProbe, ToolCatalogue

tools_app = typer.Typer(
    help="Built-in and MCP tools, and their approval policies.", invoke_without_command=True
)
mcp_app = typer.Typer(help="MCP servers whose tools agents can use.", no_args_is_help=True)
vault_app = typer.Typer(help="Secrets by name (OS keyring, or an encrypted file).", no_args_is_help=True)
app.add_typer(tools_app, name="tools")
app.add_typer(mcp_app, name="mcp")
app.add_typer(vault_app, name="vault")


async def _open(project: Path | None, *, readonly: bool = False, create: bool = True) -> ProjectSession:
    """The project opened for its tools (no engine, no model: nothing is started)."""
    from podium.app.session import ProjectSession

    target = project_path(None, project)
    if readonly and not target.exists():
        raise PodiumError(f"{target} does not exist")
    return await ProjectSession.open(target, readonly=readonly, create=create, tools=False, memory=False)


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
    target = project_path(None, project)
    team_obj = _team(team, target)

    async def go() -> ToolCatalogue:
        session = await _open(project, readonly=target.exists() and live is False, create=True)
        try:
            return await session.tool_admin.catalogue(team_obj, start_servers=live)
        finally:
            await session.aclose()

    catalogue = run_async(go())
    rows = [row.model_dump() for row in catalogue.tools]
    errors, unlisted = catalogue.errors, catalogue.unlisted_servers
    if json:
        print_json({"tools": rows, "unlisted_servers": unlisted, "errors": errors,
                    "search": catalogue.search, "images": catalogue.images})
        return
    width = max((len(r["name"]) for r in rows), default=10) + 2
    print(f"{'TOOL':<{width}}{'SOURCE':<16}{'POLICY':<8}AGENTS")
    for r in rows:
        print(f"{r['name']:<{width}}{r['source']:<16}{r['policy']:<8}{r['agents']}")
    for name in unlisted:
        why = f" ({errors[name]})" if name in errors else ""
        print(f"mcp:{name}: tools not listed yet; run `podium mcp test {name}`{why}")
    print(f"web search: {catalogue.search}")
    print(f"images: {catalogue.images}")
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
    from podium.app.tool_admin import policy_choice

    chosen = policy_choice(policy)  # checked before the project is opened

    async def go() -> None:
        session = await _open(project)
        try:
            await session.tool_admin.set_policy(name, chosen)
        finally:
            await session.aclose()

    run_async(go())
    print(f"{name}: {'default policy' if chosen is None else chosen.value}")


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
    from podium.app.tool_admin import server_config

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
    config = server_config(
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
    _check_secrets(config.secrets)

    async def go() -> str:
        session = await _open(project)
        try:
            await session.tool_admin.add_server(config, replace=replace)
            if not check:
                return "not started (--no-check)"
            return _probed(await session.tool_admin.probe(name))
        finally:
            await session.aclose()

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


def _probed(probe: ServerProbe) -> str:
    """A server started once (its tools cached): a failure is reported, not raised."""
    if probe.error is not None:
        return f"saved, but it did not start now: {probe.error}"
    return f"{len(probe.tools)} tools: " + ", ".join(t["name"] for t in probe.tools)


@mcp_app.command("list")
def mcp_list(project: ProjectOption = None, json: JsonOption = False) -> None:
    """Registered MCP servers (settings only; secrets are shown by name)."""
    async def go() -> list[Any]:
        target = project_path(None, project)
        session = await _open(project, readonly=target.exists())
        try:
            return await session.tool_admin.servers()
        finally:
            await session.aclose()

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
    async def go() -> ServerProbe:
        session = await _open(project, create=False)
        try:
            return await session.tool_admin.probe(name, raise_errors=True)
        finally:
            await session.aclose()

    probe = run_async(go())
    tools, seconds = probe.tools, probe.seconds
    if json:
        print_json({"server": name, "seconds": seconds, "tools": tools})
        return
    print(f"{name}: connected in {seconds:.2f}s, {len(tools)} tools")
    for full, tool in zip(probe.names, tools, strict=True):
        flag = " (read-only)" if tool.get("read_only") else ""
        summary = (tool.get("description") or "").strip().splitlines()
        print(f"  {full}{flag}  {summary[0] if summary else ''}")


@mcp_app.command("remove")
def mcp_remove(
    name: Annotated[str, typer.Argument(help="Server name.")], project: ProjectOption = None
) -> None:
    """Forget an MCP server."""
    async def go() -> None:
        session = await _open(project, create=False)
        try:
            await session.tool_admin.remove_server(name)
        finally:
            await session.aclose()

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
    diff: Annotated[bool, typer.Option(
        "--diff", help="A run on your folder (--workspace): commit the agents' changes on its branch and "
        "print the diff against where it started (an archive: the diff last recorded).")] = False,
    apply: Annotated[bool, typer.Option(
        "--apply", help="A run on your folder: merge its branch into your current branch (git), or write "
        "the changed files back into the folder.")] = False,
    branch_only: Annotated[bool, typer.Option(
        "--branch-only", help="With --apply on a git repository: leave the changes on the run's branch "
        "and print its name; nothing is merged.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="--export: overwrite files in the folder. --apply on a copied folder: write "
        "even where the original changed since it was copied.")] = False,
    project: ProjectOption = None,
    json: JsonOption = False,
) -> None:
    """The files a run produced (from the project file, so archives carry them); for a run on your
    own folder, its diff (--diff) and applying it (--apply)."""
    from podium.app.tool_admin import export_files

    if diff or apply or branch_only:
        _workspace_review(run_id, project, diff=diff, apply=apply or branch_only, branch_only=branch_only,
                          force=force, json=json)
        return

    async def go() -> list[Any]:
        session = await _open(project, readonly=True)
        try:
            return await session.tool_admin.workspace_files(run_id)
        finally:
            await session.aclose()

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


def _workspace_review(run_id: str, project: Path | None, *, diff: bool, apply: bool, branch_only: bool,
                      force: bool, json: bool) -> None:
    """`podium workspace RUN --diff | --apply [--branch-only] [--force]`."""
    from podium.app.session import ProjectSession
    from podium.cli.control_cmds import controllable

    target = project_path(None, project)
    if not target.exists():
        raise PodiumError(f"{target} does not exist")
    try:
        controllable(target)
        readonly = False
    except ReadOnlyError:
        if apply:
            raise
        readonly = True  # an archive: the diff it recorded

    async def go() -> tuple[Any, str | None]:
        async with ProjectSession(target, readonly=readonly, create=False, tools=False,
                                  memory=False) as session:
            run = await session.queries.find_run(run_id)
            if run is None:
                raise NotFoundError(f"no run {run_id!r} in {target}")
            workspaces = session.run_workspaces
            review = await workspaces.review(run.id)
            done = None
            if apply:
                done = await workspaces.apply(run.id, force=force, branch_only=branch_only)
            return review, done

    review, done = run_async(go())
    if json:
        print_json({"workspace": review.workspace.model_dump(exclude={"diff", "manifest"}),
                    "files": review.files, "diff": review.diff if diff else None, "applied": done})
        return
    if diff:
        sys.stdout.write(review.diff if review.diff.endswith("\n") or not review.diff else review.diff + "\n")
        note = "" if review.live else " (as last recorded)"
        print(f"# {review.summary}{note}", file=sys.stderr)
    if done is not None:
        print(done)


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
    async def go() -> str:
        session = await _open(project, create=False)
        try:
            queries = session.queries
            if await queries.run(run_id) is None:
                raise NotFoundError(f"no run {run_id!r} in {session.project}")
            if approval is None:
                pending = await session.pending_tool_approvals(run_id)
                if not pending:
                    return f"nothing waits for approval in run {run_id}"
                return "\n".join(
                    f"#{p.id}  {p.agent} ({p.subtask_id or '-'}) wants {p.tool} {_short(p.arguments)}"
                    for p in pending
                )
            if await queries.approval_run(approval) != run_id:
                raise NotFoundError(f"no tool approval #{approval} in run {run_id}")
            record = await session.decide_tool(approval, not deny, by="cli", reason=reason)
            return f"#{approval} {record.status}: {record.tool} for {record.agent}"
        finally:
            await session.aclose()

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
