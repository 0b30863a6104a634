"""Running teams headless: `podium teams`, `run`, `runs`, `show`, `resume`.

Exit codes: 0 completed; 1 finished partial or failed; 2 a user error
(nothing run); 3 stopped but resumable (halted, budget, plan left awaiting
approval).
"""

from __future__ import annotations

import asyncio
import json as _json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from podium.cli.app import JsonOption, ProjectOption, app, print_json, project_path, run_async
from podium.cli.bench_cmds import bench_app
from podium.errors import PodiumError, ReadOnlyError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from podium.app.drive import PlanDecision
    from podium.app.session import ProjectSession
    from podium.domain import Budget, Execution, PlanVersion, RunSettings, RunSummary

RunIdArgument = Annotated[str, typer.Argument(help="Run id (or a unique prefix of it).", show_default=False)]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Approve the plan without asking.")]
ModelOption = Annotated[str | None, typer.Option("--model", "-m", help="Model for every agent "
                                                 "(local, scripted:PATH, or a litellm model string).")]
ApiBaseOption = Annotated[str | None, typer.Option("--api-base", help="Endpoint for an OpenAI-compatible "
                                                   "server (vLLM, llama.cpp server, ...).")]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", "-c", min=1, max=64,
                                                help="Subtasks running at once.")]
TokensOption = Annotated[int | None, typer.Option("--budget-tokens", min=1,
                                                  help="Stop after this many tokens.")]
UsdOption = Annotated[float | None, typer.Option("--budget-usd", min=0, help="Stop after this cost in USD.")]
StepsOption = Annotated[int | None, typer.Option("--budget-steps", min=1,
                                                 help="Stop after this many model calls.")]
JsonLinesOption = Annotated[bool, typer.Option("--json", help="Print events as JSON lines, not progress.")]
MaxTokensOption = Annotated[int | None, typer.Option(
    "--max-tokens", min=16, help="Cap on each model reply (useful on the local model).")]
SecondsOption = Annotated[float | None, typer.Option("--budget-seconds", min=0.001,
                                                     help="Stop after this much active time.")]
ReviewOption = Annotated[bool, typer.Option(
    "--review", help="Leave the result awaiting your review (`podium review RUN --accept | --rework ...`) "
    "instead of accepting it after the leader's check; the command then exits 3.")]
ReviewRoundsOption = Annotated[int | None, typer.Option(
    "--review-rounds", min=0, max=10, help="With the leader's automatic check: how many times a failing "
    "verdict sends the failing subtasks back for rework before the run ends partial (default 2).")]
AllowToolsOption = Annotated[list[str] | None, typer.Option(
    "--allow-tools", help="Approve these tools' calls without asking (names or globs, e.g. run_command, "
    "'files__*', all); --yes never does. Repeatable or comma-separated.")]

ProposalsOption = Annotated[str | None, typer.Option(
    "--proposals", help="Who decides a subtask an agent proposes: leader (default; one model call), human "
    "(it waits: `podium task proposals RUN`), or auto (accepted at once).")]
MaxProposalsOption = Annotated[int | None, typer.Option(
    "--max-proposals", min=0, max=100, help="Subtasks agents may propose per run (default 5).")]
OnFailureOption = Annotated[str | None, typer.Option(
    "--on-failure", help="When a subtask fails and nothing else can run: ask (default: it waits for a "
    "person) or replan (the leader replans the unfinished part; approved as plans are).")]
MaxReplansOption = Annotated[int | None, typer.Option(
    "--max-replans", min=0, max=20, help="Replans per run with --on-failure replan (default 2).")]

WorkspaceOption = Annotated[Path | None, typer.Option(
    "--workspace", "-w", help="Work on this folder of yours: a git repository gets a worktree on a new "
    "branch (podium/run-ID), any other folder is copied; your checkout is never touched. Review with "
    "`podium workspace RUN --diff`, apply with `--apply`.", show_default=False)]

EXIT_PARTIAL = 1
EXIT_STOPPED = 3


# ---------------------------------------------------------------- teams


@app.command()
def teams(project: ProjectOption = None, json: JsonOption = False) -> None:
    """Built-in and user-defined teams with their agents."""
    from podium.orchestrator.teams import all_teams

    entries = all_teams(project_path(None, project))
    if json:
        print_json([{"source": e.source, **e.team.model_dump()} for e in entries.values()])
        return
    from rich.console import Console

    console = Console(highlight=False)
    for name, entry in entries.items():
        team = entry.team
        about = f" — {team.description}" if team.description else ""
        console.print(f"[bold]{name}[/bold]  ({entry.source}){about}")
        for agent in team.agents:
            mark = "★" if agent.name == team.leader else " "
            skills = f"  [dim]{', '.join(agent.skills)}[/dim]" if agent.skills else ""
            model = f"  [cyan]{agent.model}[/cyan]" if agent.model else ""
            console.print(f"  {mark} {agent.name:<14} {agent.role}{model}{skills}")


# ---------------------------------------------------------------- run / resume


def _budget(tokens: int | None, usd: float | None, steps: int | None, seconds: float | None) -> Budget:
    from podium.app.run_settings import merged_budget

    return merged_budget(tokens=tokens, usd=usd, steps=steps, seconds=seconds)


@app.command()
def run(
    objective: Annotated[str, typer.Argument(help="What the team should achieve.", show_default=False)],
    team: Annotated[str, typer.Option("--team", "-t", help="Team name (see `podium teams`).")] = "research",
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    concurrency: ConcurrencyOption = 4,
    budget_tokens: TokensOption = None,
    budget_usd: UsdOption = None,
    budget_steps: StepsOption = None,
    budget_seconds: SecondsOption = None,
    yes: YesOption = False,
    json: JsonLinesOption = False,
    allow_tools: AllowToolsOption = None,
    max_tokens: MaxTokensOption = None,
    review: ReviewOption = False,
    review_rounds: ReviewRoundsOption = None,
    proposals: ProposalsOption = None,
    max_proposals: MaxProposalsOption = None,
    on_failure: OnFailureOption = None,
    max_replans: MaxReplansOption = None,
    workspace: WorkspaceOption = None,
    project: ProjectOption = None,
) -> None:
    """Plan, approve and execute an objective with a team, headless.

    The run records these settings (never a key); `podium resume` goes on with them.
    """
    from podium.orchestrator.teams import get_team

    if not yes and not sys.stdin.isatty():
        raise PodiumError("no terminal to ask for plan approval: pass --yes to approve automatically")
    path = project_path(None, project)
    chosen = get_team(team, path)
    if workspace is not None:  # a bad folder is said before anything starts
        from podium.app.run_workspace import check_source

        check_source(workspace)
    budget = _budget(budget_tokens, budget_usd, budget_steps, budget_seconds)
    from podium.app.run_settings import LivingPlanOptions, start_settings

    living = LivingPlanOptions.given(proposals, max_proposals, on_failure, max_replans)
    settings, endpoint = start_settings(path, model=model, api_base=api_base, concurrency=concurrency,
                                         max_tokens=max_tokens, review=review, yes=yes,
                                         review_rounds=review_rounds,
                                         allow_tools=allow_tools, living=living)

    async def go() -> Execution:
        async with _Session(path, settings, json, endpoint=endpoint) as session:
            execution = await session.app.create_run(objective, chosen, budget=budget, workspace=workspace)
            session.announce(execution.id, objective, chosen.name)
            await session.announce_workspace(execution.id)
            return await session.drive(execution.id, yes=yes)

    _finish(run_async(go()))


@app.command()
def resume(
    run_id: RunIdArgument,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model for every agent from now on "
                                              "(default: as the run was started).")] = None,
    api_base: Annotated[str | None, typer.Option("--api-base", help="Endpoint from now on (default: as "
                                                 "the run was started).")] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", min=1, max=64,
                                                    help="Subtasks running at once (default: as started).")]
    = None,
    budget_tokens: TokensOption = None,
    budget_usd: UsdOption = None,
    budget_steps: StepsOption = None,
    budget_seconds: SecondsOption = None,
    yes: YesOption = False,
    ask: Annotated[bool, typer.Option("--ask", help="Ask before approving a plan, though the run was "
                                      "started with --yes.")] = False,
    json: JsonLinesOption = False,
    allow_tools: Annotated[list[str] | None, typer.Option(
        "--allow-tools", help="Approve these tools' calls without asking from now on, instead of those "
        "the run was started with ('none': ask for every one).")] = None,
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", min=16, help="Cap on each model reply (default: as started).")] = None,
    review: Annotated[bool | None, typer.Option(
        "--review/--no-review", help="Leave the result awaiting your review, or accept it after the "
        "leader's check (default: as started).")] = None,
    review_rounds: Annotated[int | None, typer.Option(
        "--review-rounds", min=0, max=10, help="Rework rounds a failing automatic review may ask for "
        "(default: as started).")] = None,
    proposals: ProposalsOption = None,
    max_proposals: MaxProposalsOption = None,
    on_failure: OnFailureOption = None,
    max_replans: MaxReplansOption = None,
    project: ProjectOption = None,
) -> None:
    """Continue an interrupted, paused or halted run (done subtasks are kept).

    It goes on with the settings it was started with (model per agent, endpoint, concurrency, reply cap,
    review, --yes, --allow-tools; `podium show RUN` lists them); options given here override them and
    are recorded, so the next resume keeps them. If another live process is running it (paused from a
    second terminal), it is told to resume.
    """
    if yes and ask:
        raise PodiumError("choose one: --yes or --ask")
    path = project_path(None, project)
    if not path.exists():
        raise PodiumError(f"{path} does not exist")
    from podium.app.run_settings import LivingPlanOptions

    living = LivingPlanOptions.given(proposals, max_proposals, on_failure, max_replans)
    if _resume_elsewhere(path, run_id):
        given = (model, api_base, concurrency, max_tokens, review, allow_tools, review_rounds, proposals,
                 max_proposals, on_failure, max_replans)
        if any(v is not None for v in given):
            print("podium: the process running it goes on with its own settings: the options given "
                  "here were not applied or recorded", file=sys.stderr)
        return

    from podium.app.run_settings import ResumeOptions

    options = ResumeOptions(model=model, api_base=api_base, concurrency=concurrency, max_tokens=max_tokens,
                            review=review, review_rounds=review_rounds,
                            approve_plans=True if yes else False if ask else None,
                            allow_tools=allow_tools, living=living, budget_tokens=budget_tokens,
                            budget_usd=budget_usd,
                            budget_steps=budget_steps, budget_seconds=budget_seconds)

    async def go() -> Execution:
        # The run is held from the start to the end: a `podium halt` sent while this gets going
        # stops it.
        async with _Session(path, None, json, create=False) as session, \
                session.app.resuming(run_id) as held:
            execution, settings = await session.app.prepare_resume(held.id, options)
            approve = settings.approve_plans
            if not approve and not sys.stdin.isatty() and not await session.app.has_plan(execution.id):
                raise PodiumError("no terminal to ask for plan approval: pass --yes to approve automatically")
            session.announce(execution.id, execution.objective, execution.team)
            return await session.drive(execution.id, yes=approve)

    _finish(run_async(go()))


def _resume_elsewhere(path: Path, run_id: str) -> bool:
    """A run another live process holds is resumed there (a RESUME intervention), not here."""
    from podium.app.session import ProjectSession
    from podium.cli.control_cmds import controllable

    async def go() -> str | None:
        try:
            target = controllable(path)
        except ReadOnlyError:
            return None  # an archive or read-only file: the ordinary path says what it can do
        async with ProjectSession(target, create=False) as session:
            done = await session.steering().resume_live(run_id)
            return None if done is None else done.message

    message = run_async(go())
    if message is not None:
        print(message)
    return message is not None


def _finish(execution: Execution) -> None:
    from podium.domain import ExecutionStatus

    if execution.status is ExecutionStatus.COMPLETED:
        return
    # sys.exit, not typer.Exit: the CLI runs click with standalone_mode=False, which would
    # turn an Exit into a return value and lose the code.
    sys.exit(EXIT_PARTIAL if execution.status.finished else EXIT_STOPPED)


class _Session:
    """The project session for one command (the app layer composes it), plus the view it prints
    with; it is the drive's front end: shows plans, asks for approval, runs the live view."""

    def __init__(self, path: Path, settings: RunSettings | None, json: bool, *, create: bool = True,
                 endpoint: str | None = None) -> None:
        """`settings`: how runs go (None: decided by `prepare_resume` once the run is read);
        `endpoint`: the API base to call when it differs from the recorded one (credentials)."""
        from podium.domain import RunSettings

        self.path = path
        self.settings = settings or RunSettings()
        self.endpoint = endpoint
        self.json = json
        self.create = create
        self.app: ProjectSession
        self.view: Any = None
        self.yes = False
        self._pump: asyncio.Task[None] | None = None
        self._subscription: Any = None
        from rich.console import Console

        # In JSON mode stdout carries only events; everything for people goes to stderr.
        self.console = Console(stderr=json, highlight=False)

    async def __aenter__(self) -> _Session:
        from podium.app.session import ProjectSession

        self.app = await ProjectSession.open(self.path, run_settings=self.settings, endpoint=self.endpoint,
                                             create=self.create, on_tool_approval=self._tool_approval)
        try:
            await self.app.ensure_engine()
            self._subscription = self.app.subscribe()
            queue = await self._subscription.__aenter__()
        except BaseException:
            await self.app.aclose()
            raise
        from podium.cli.run_view import JsonLines, pump

        self.view = JsonLines() if self.json else None
        self._queue = queue
        self._pump = asyncio.create_task(pump(queue, self))
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await asyncio.sleep(0)
            if self._pump is not None:
                self._pump.cancel()
                # Drain what is already published so the last events are shown.
                self._drain()
            if self.view is not None and hasattr(self.view, "stop"):
                self.view.stop()
        finally:
            try:
                await self._subscription.__aexit__(None, None, None)
            finally:
                # Stops MCP servers (approvals nobody can give now are denied), closes the store.
                await self.app.aclose()

    def _drain(self) -> None:
        while not self._queue.empty():
            self.handle(self._queue.get_nowait())

    def _tool_approval(self, request: Any) -> None:
        """A tool call waits for a person: say how to decide (the TUI shows it as a card)."""
        run_id = request.record.execution_id
        self.console.print(
            f"[bold yellow]⚑ {request.agent} wants to use {request.tool}[/bold yellow] "
            f"{_json.dumps(request.arguments)[:200]}\n  approve: podium approve {run_id} {request.id}"
            f"   deny: podium approve {run_id} {request.id} --deny   (or --allow-tools {request.tool})")

    def handle(self, event: Any) -> None:
        if self.view is not None:
            self.view.handle(event)

    def announce(self, run_id: str, objective: str, team: str) -> None:
        from podium.cli.run_view import LiveProgress
        from podium.llm.models import display

        model = display(self.app.model_name())
        if not self.json:
            self.view = LiveProgress(self.console, objective, team, model)
            self.console.print(f"[bold]run {run_id}[/bold] · {team} team · {model}")
            self.console.print(f"[dim]objective:[/dim] {objective}")

    async def drive(self, run_id: str, *, yes: bool) -> Execution:
        """Take the run from wherever it is to the end (or to a stop)."""
        self.yes = yes
        outcome = await self.app.drive(run_id, self)
        if outcome.left_for_approval:
            self.console.print(f"plan left awaiting approval; continue with `podium resume {run_id}`")
        elif outcome.executed:
            self._report(outcome.execution, outcome.reason)
        await self._workspace_note(run_id)
        return outcome.execution

    async def announce_workspace(self, run_id: str) -> None:
        ws = await self.app.run_workspaces.get(run_id)
        if ws is None:
            return
        from rich.markup import escape

        if ws.kind == "git":
            said = f"{ws.source} on branch {ws.branch} (a worktree in {ws.path})"
        else:
            said = f"a copy of {ws.source} in {ws.path}"
        self.console.print(f"[dim]workspace:[/dim] {escape(said)}")

    async def _workspace_note(self, run_id: str) -> None:
        """A run on the user's folder: its changes are committed, and how to review and apply them."""
        workspaces = self.app.run_workspaces
        if await workspaces.get(run_id) is None:
            return
        try:
            review = await workspaces.review(run_id)
        except PodiumError as exc:
            from rich.markup import escape

            self.console.print(f"[yellow]workspace: {escape(str(exc))}[/yellow]")
            return
        self.console.print(f"workspace: {review.summary}; `podium workspace {run_id} --diff` shows them, "
                           "`--apply` applies them")

    # ------------------------------------------------------------ the drive's front end

    def planning(self) -> None:
        if not self.json:
            self.console.print("[dim]planning: the specialists discuss, then the leader plans…[/dim]")

    async def decide_plan(self, latest: PlanVersion) -> PlanDecision:
        from podium.app.drive import PlanDecision
        from podium.cli.run_view import plan_table

        note = " (fallback: the leader's plan was invalid)" if latest.fallback else ""
        if latest.plan.mends:
            note = f" (mended: {len(latest.plan.mends)} fixable problems in the leader's plan)"
        self.console.print(plan_table(latest.plan, f"Plan v{latest.version}{note}"))
        if latest.plan.mends:
            from rich.markup import escape

            for mend in latest.plan.mends:
                self.console.print(f"[dim]mended: {escape(mend)}[/dim]")
        if self.yes:
            return PlanDecision(action="approve", by="--yes")
        raw = (await asyncio.to_thread(_ask, "Approve this plan? [Y]es / [n]o, give feedback / [q]uit: ",
                                       self.json)).strip()
        answer = raw.lower()
        if answer in ("", "y", "yes"):
            return PlanDecision(action="approve", by="terminal")
        if answer in ("q", "quit"):
            return PlanDecision(action="stop")
        # Anything else is the feedback itself (or "n", then we ask for it).
        feedback = raw if answer not in ("n", "no") else ""
        while not feedback:
            feedback = (await asyncio.to_thread(_ask, "What should change? ", self.json)).strip()
        return PlanDecision(action="reject", feedback=feedback)

    async def execute(self, run_id: str, run: Callable[[], Awaitable[Execution]]) -> Execution:
        control = await self.app.control(run_id)
        loop = asyncio.get_running_loop()
        halting: list[asyncio.Task[None]] = []

        def interrupt() -> None:
            # Ctrl-C / SIGTERM: halt cleanly (in-flight turns cancelled, run resumable).
            if not control.halted:
                halting.append(loop.create_task(
                    control.halt(source="cli", reason="interrupted from the terminal")))

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, interrupt)
        if self.view is not None and hasattr(self.view, "start"):
            self.view.start()
        try:
            return await run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await asyncio.sleep(0)
            self._drain()
            if self.view is not None and hasattr(self.view, "stop"):
                self.view.stop()

    def _report(self, execution: Execution, reason: str | None) -> None:
        if self.json:
            return
        from rich.markdown import Markdown
        from rich.panel import Panel

        from podium.domain import ExecutionStatus

        if execution.result:
            self.console.print(Panel(Markdown(execution.result), title="Result", title_align="left"))
        lessons = getattr(self.view, "lessons", None)
        if lessons:
            self.console.print("lessons learned (podium memory list --kind lesson):")
            for agent, text in lessons:
                self.console.print(f"  ({agent or 'team'}) {text}", soft_wrap=True, markup=False)
        elif getattr(self.view, "lessons_skipped", None):
            self.console.print(f"no lessons this time: {self.view.lessons_skipped}", soft_wrap=True,
                               markup=False)
        took = (execution.finished_at or time.time()) - execution.created_at
        line = (f"run {execution.id} {execution.status.value} · tokens {execution.usage.tokens:,} · "
                f"${execution.usage.cost_usd:.4f} · {execution.steps} calls · {took:.1f}s")
        self.console.print(line + (f" · {reason}" if reason else ""), soft_wrap=True)
        if execution.status in (ExecutionStatus.HALTED, ExecutionStatus.PAUSED):
            self.console.print(f"continue with `podium resume {execution.id}`")
        if execution.status is ExecutionStatus.REVIEW:
            self.console.print(f"the result awaits your review: `podium review {execution.id}` shows the "
                               f"leader's verdict; then `--accept`, or `--rework \"what to change\" "
                               f"[--subtask ID]`")


def _ask(prompt: str, to_stderr: bool) -> str:
    stream = sys.stderr if to_stderr else sys.stdout
    stream.write(prompt)
    stream.flush()
    line = sys.stdin.readline()
    if not line:
        raise PodiumError("no answer on the terminal (end of input); the plan is left awaiting approval")
    return line


# ---------------------------------------------------------------- benchmark


@bench_app.command("scheduler")
def bench_scheduler(
    subtasks: Annotated[int, typer.Option(min=2, help="Subtasks in the generated DAG.")] = 200,
    width: Annotated[int, typer.Option(min=1, help="Largest layer width.")] = 20,
    seeds: Annotated[int, typer.Option(min=1, help="Graphs per case (seeds 1..N).")] = 3,
    live_add: Annotated[int, typer.Option(min=0, help="Subtasks added to a running graph (0: skip).")] = 50,
) -> None:
    """Podium against an ideal in-process scheduler on the same graph; event-loop time per subtask."""
    from podium.bench.scheduler_bench import run as bench

    run_async(bench(subtasks, width, seeds, live_add, split_n=subtasks))


# ---------------------------------------------------------------- runs / show


@app.command()
def runs(project: ProjectOption = None, json: JsonOption = False,
         limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
         tree: Annotated[bool, typer.Option("--tree", help="Forks under the runs they came from "
                                            "(`podium fork`), indented.")] = False) -> None:
    """Executions with status, tokens, cost and duration."""
    path = project_path(None, project)
    if not path.exists():
        raise PodiumError(f"{path} does not exist")

    async def go() -> tuple[list[RunSummary], dict[str, tuple[str, list[str]]]]:
        from podium.app.session import ProjectSession

        async with ProjectSession(path, readonly=True) as session:
            return await session.queries.runs(limit), await session.queries.forks()

    executions, forks = run_async(go())
    from podium.app.fork import as_tree

    ordered = as_tree(executions, forks) if tree else [(0, e) for e in executions]
    if json:
        print_json([{**_run_summary(e), "parent": forks.get(e.id, (None, []))[0],
                     "forked_from": forks.get(e.id, (None, []))[1], **({"depth": depth} if tree else {})}
                    for depth, e in ordered])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("id", "status", "team", "objective", "tokens", "cost", "duration", "created"):
        wide = column == "objective"
        table.add_column(column, justify="right" if column in ("tokens", "cost", "duration") else "left",
                         no_wrap=True, overflow="ellipsis", max_width=50 if wide else None,
                         min_width=10 if wide else None)
    for depth, e in ordered:
        s = _run_summary(e)
        created = time.strftime("%m-%d %H:%M", time.localtime(e.created_at))
        parent, points = forks.get(e.id, (None, []))
        shown_id = ("  " * (depth - 1) + "↳ " + e.id) if depth else e.id
        about = e.objective
        if tree and parent is not None:
            about = f"(fork of {parent}{' from ' + ', '.join(points) if points else ''}) {e.objective}"
        table.add_row(shown_id, e.status, e.team, about, f"{e.usage.tokens:,}",
                      f"${e.usage.cost_usd:.4f}", f"{s['duration_s']:.1f}s", created)
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 140  # piped: no terminal width to fit, so do not squeeze the table
    console.print(table if executions else "no runs yet")


def _run_summary(e: RunSummary) -> dict[str, Any]:
    end = e.finished_at or e.updated_at
    return {"id": e.id, "status": e.status, "team": e.team, "objective": e.objective, "model": e.model,
            "tokens": e.usage.tokens, "prompt_tokens": e.usage.prompt_tokens,
            "completion_tokens": e.usage.completion_tokens, "cost_usd": e.usage.cost_usd,
            "calls": e.usage.calls,
            "steps": e.steps, "duration_s": round(end - e.created_at, 3), "created_at": e.created_at,
            "finished_at": e.finished_at}


@app.command()
def show(
    run_id: RunIdArgument,
    format: Annotated[str, typer.Option("--format", "-f", help="md or json.")] = "md",
    project: ProjectOption = None,
) -> None:
    """A run in full: objective, discussion, plans, each subtask's transcript and output, result, usage."""
    if format not in ("md", "json"):
        raise PodiumError(f"unknown format {format!r}; use md or json")
    path = project_path(None, project)
    if not path.exists():
        raise PodiumError(f"{path} does not exist")
    from podium.cli.run_report import gather, to_markdown

    async def go() -> dict[str, Any]:
        from podium.app.session import ProjectSession

        async with ProjectSession(path, readonly=True) as session:
            return await gather(session.queries, run_id)

    report = run_async(go())
    if format == "json":
        print_json(report)
    else:
        print(to_markdown(report))
