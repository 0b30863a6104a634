"""One project session: the store, and the gateway, memory, tool box and engine(s) built on it.

Before this module the same wiring was built by the TUI's backend, `podium run`,
`podium review --accept` and the scheduler bench. A session opens the project
file; the engine (and through the gateway, litellm, ~3 s to import) is built the
first time it is asked for, with the heavy imports off the event loop, so a
terminal app's first frame does not wait for it.

Two ways to say how runs go:

- `run_settings` (a headless command): the settings a run records, with the
  endpoint to call when it differs from the recorded one (credentials are
  never recorded);
- `model` / `api_base` / `settings` (the terminal app): new runs record these,
  and a run that recorded others goes on with an engine of its own built
  from them (`engine_for(run_id)`), as `podium resume` would.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from podium.app.queries import Queries
from podium.app.run_settings import ResumeOptions
from podium.domain import ExecutionStatus, RunSettings, Team, url_has_secret
from podium.errors import NotFoundError, PodiumError, ReadOnlyError
from podium.store import ProjectStore
from podium.store.runs import RunRepository

if TYPE_CHECKING:
    from podium.app.board import Board
    from podium.app.drive import DriveOutcome, Driver
    from podium.app.fork_workspace import ForkWorkspaces
    from podium.app.images import RunImages
    from podium.app.run_workspace import RunWorkspaces
    from podium.app.tool_admin import ToolAdmin
    from podium.domain import ApprovalRecord, Budget, Event, Execution, PlanChange, ProjectInfo
    from podium.memory.service import MemoryService
    from podium.orchestrator.control import RunControl
    from podium.orchestrator.engine import Engine, PlanProposal
    from podium.orchestrator.ports import GatewayPort
    from podium.orchestrator.settings import EngineSettings
    from podium.orchestrator.steering import Steering
    from podium.tools.approvals import ApprovalRequest
    from podium.tools.toolbox import ToolBox

log = logging.getLogger(__name__)
ToolApprovalHook = Callable[["ApprovalRequest"], Awaitable[None] | None]
GatewayWrapper = Callable[["GatewayPort"], "GatewayPort"]


def interactive_settings() -> EngineSettings:
    """Engine settings for a person at the terminal app: the leader reviews the result, then it
    waits for them (accept, or send it back for rework), as `podium run --review` does headless."""
    from podium.orchestrator.settings import EngineSettings

    # A failed subtask waits for them (retry, reassign, skip, edit) rather than ending the run.
    return EngineSettings(review="human", when_stuck="wait")


class ProjectSession:
    """A project file opened for use cases; `async with ProjectSession.open(...)` or `aclose()`."""

    def __init__(self, project: Path, *, model: str | None = None, api_base: str | None = None,
                 team: str | None = None, settings: EngineSettings | None = None,
                 run_settings: RunSettings | None = None, endpoint: str | None = None,
                 readonly: bool = False, create: bool = True, tools: bool = True, memory: bool = True,
                 record: bool = True, on_tool_approval: ToolApprovalHook | None = None,
                 wrap_gateway: GatewayWrapper | None = None) -> None:
        """`record`: new runs record the settings they were started with (False: a bench).
        `wrap_gateway`: wraps each gateway built (a bench times the model calls)."""
        self.project = Path(project)
        self.model = model
        self.api_base = api_base
        self.team = team
        self.readonly = readonly
        self.create = create and not readonly
        self._settings = settings
        self._run_settings = run_settings
        self._endpoint = endpoint if endpoint is not None else (
            run_settings.api_base if run_settings is not None else api_base)
        self._with_tools = tools
        self._with_memory = memory
        self._record = record
        self._per_run = run_settings is None  # runs go on with their recorded settings (the TUI)
        self._on_tool_approval = on_tool_approval
        self._wrap_gateway = wrap_gateway
        self._store: ProjectStore | None = None
        self._engine: Engine | None = None
        self._by_run: dict[str, Engine] = {}  # run id -> the engine that drives it in this process
        self._lock = asyncio.Lock()
        self.memory: MemoryService | None = None
        self.tools: ToolBox | None = None

    # ------------------------------------------------------------ opening and closing

    @classmethod
    async def open(cls, project: Path, *, model: str | None = None, api_base: str | None = None,
                   team: str | None = None, settings: EngineSettings | None = None,
                   run_settings: RunSettings | None = None, endpoint: str | None = None,
                   readonly: bool = False, create: bool = True, tools: bool = True, memory: bool = True,
                   record: bool = True, on_tool_approval: ToolApprovalHook | None = None,
                   wrap_gateway: GatewayWrapper | None = None) -> ProjectSession:
        """Open the project file (an engine is built when first asked for)."""
        session = cls(project, model=model, api_base=api_base, team=team, settings=settings,
                      run_settings=run_settings, endpoint=endpoint, readonly=readonly, create=create,
                      tools=tools, memory=memory, record=record, on_tool_approval=on_tool_approval,
                      wrap_gateway=wrap_gateway)
        await session.start()
        return session

    async def start(self) -> None:
        """Open the store (idempotent); raises PodiumError when it is not a Podium project."""
        if self._store is None:
            self._store = await ProjectStore.open(self.project, readonly=self.readonly, create=self.create)

    async def __aenter__(self) -> ProjectSession:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop what the engine started (MCP servers; pending tool approvals are denied), then close
        the store (always: an open aiosqlite thread would keep the process alive)."""
        try:
            if self.tools is not None:
                await self.tools.aclose()
        finally:
            self.tools = None
            if self._store is not None:
                store, self._store = self._store, None
                await store.close()

    @property
    def store(self) -> ProjectStore:
        if self._store is None:
            raise PodiumError("the project session is not open")
        return self._store

    @property
    def is_open(self) -> bool:
        return self._store is not None

    @property
    def runs(self) -> RunRepository:
        """The run repository (for the application layer and benches; front ends use the use cases)."""
        return RunRepository(self.store)

    @property
    def board(self) -> Board:
        """The project's board: its cards (`podium board`, `podium work`, the board screen)."""
        from podium.app.board import Board

        return Board(self.store, self.get_team)

    @property
    def queries(self) -> Queries:
        """The typed queries (runs, a run's detail, board, usage) over this session's store."""
        return Queries(self.store)

    @property
    def run_workspaces(self) -> RunWorkspaces:
        """Runs on the user's own folders (`--workspace`): attach, review (diff), apply."""
        from podium.app.run_workspace import RunWorkspaces

        root = self.tools.workspace_root if self.tools is not None else None
        return RunWorkspaces(self.store, root)

    @property
    def fork_workspaces(self) -> ForkWorkspaces:
        """Forks' folders: the reused work's files, and a fork's own worktree or copy of the user's
        folder when its parent worked on one."""
        from podium.app.fork_workspace import ForkWorkspaces

        return ForkWorkspaces(self.store, self.run_workspaces)

    @property
    def run_images(self) -> RunImages:
        """The images a run's tools made (generate_image): a file to open in the system's viewer."""
        from podium.app.images import RunImages

        root = self.tools.workspace_root if self.tools is not None else None
        return RunImages(self.store, root)

    @property
    def tool_admin(self) -> ToolAdmin:
        """The project's tools: catalogue, policies, MCP servers, a run's files (`podium tools`...)."""
        from podium.app.tool_admin import ToolAdmin

        return ToolAdmin(self.store)

    def memory_service(self) -> MemoryService:
        """Long-term memory over this project: the engine's once it is built, else one of its own
        (`podium memory`: no model, no engine)."""
        from podium.memory.service import MemoryService

        return self.memory if self.memory is not None else MemoryService(self.store)

    # ------------------------------------------------------------ the project file and its events

    async def describe(self) -> ProjectInfo:
        """What the project file holds, integrity-checked (`podium info`)."""
        from podium.store.archive import describe

        return await describe(self.store)

    async def export_archive(self, dest: Path, *, force: bool = False) -> ProjectInfo:
        """A compacted, verified single-file copy of the project (safe while runs write)."""
        from podium.store.archive import export_archive

        return await export_archive(self.store, dest, force=force)

    def subscribe(self, run_id: str | None = None) -> AbstractAsyncContextManager[asyncio.Queue[Event]]:
        """`async with session.subscribe(run_id) as queue`: the run's events published in this process
        while the block runs (another process's: `events_since`)."""
        return self.store.bus.subscribe(run_id)

    async def events_since(self, seq: int, run_id: str | None = None, limit: int = 1000) -> list[Event]:
        """Committed events after `seq`, oldest first: how a front end catches up or follows
        a run another process writes."""
        return await self.store.events_since(seq, run_id, limit=limit)

    def team_names(self) -> list[str]:
        from podium.orchestrator.teams import all_teams

        return sorted(all_teams(self.project))

    def get_team(self, name: str) -> Team:
        from podium.orchestrator.teams import get_team

        return get_team(name, self.project)

    # ------------------------------------------------------------ engines

    @property
    def engine(self) -> Engine:
        """The engine for new runs (built by `ensure_engine`)."""
        if self._engine is None:
            raise PodiumError("the session has no engine yet (await ensure_engine() first)")
        return self._engine

    async def ensure_engine(self) -> Engine:
        """The engine for new runs, built on first use."""
        async with self._lock:
            return await self._default_engine()

    async def engine_for(self, run_id: str | None = None) -> Engine:
        """The engine for new runs, or the one that drives `run_id` here: the same one for as long
        as this session lives, so its control channel is the one the run listens to."""
        async with self._lock:
            engine = await self._default_engine()
            if run_id is None or not self._per_run:
                return engine
            if run_id not in self._by_run:
                self._by_run[run_id] = await self._engine_for(engine, run_id)
            return self._by_run[run_id]

    async def _default_engine(self) -> Engine:
        if self._engine is not None:
            return self._engine
        if self.readonly:
            raise ReadOnlyError(f"{self.project} is open read-only: runs cannot be started or changed here")
        # The heavy imports (gateway -> litellm) run off the event loop.
        try:
            await asyncio.to_thread(importlib.import_module, "podium.orchestrator.engine")
        except ImportError as exc:  # the orchestrator is not installed in this build
            raise PodiumError(f"cannot start runs: the orchestrator is unavailable ({exc})") from None
        await asyncio.to_thread(importlib.import_module, "podium.llm.gateway")
        self._engine = await self._build()
        return self._engine

    def _recorded(self, settings: EngineSettings) -> tuple[RunSettings, str | None]:
        """What new runs record, and the endpoint to call."""
        if self._run_settings is not None:
            return self._run_settings, self._endpoint
        from podium.llm.config import resolve_model

        configured = resolve_model(project=self.project).model
        withheld = self.api_base is not None and url_has_secret(self.api_base)
        recorded = RunSettings(model=self.model, default_model=configured,
                               api_base=None if withheld else self.api_base, api_base_withheld=withheld,
                               concurrency=settings.concurrency, review=settings.review)
        return recorded, self.api_base

    def _engine_settings(self) -> EngineSettings:
        from podium.orchestrator.settings import EngineSettings

        if self._run_settings is not None:
            return (self._settings or EngineSettings()).for_run(self._run_settings)
        return self._settings if self._settings is not None else interactive_settings()

    def gateway(self, model: str | None, endpoint: str | None) -> GatewayPort:
        from podium.llm.config import DEFAULT_MODEL
        from podium.llm.gateway import Gateway

        # No model recorded (runs from before settings were kept): the default, as Gateway's own.
        gateway: GatewayPort = Gateway(model or DEFAULT_MODEL, api_base=endpoint)
        return self._wrap_gateway(gateway) if self._wrap_gateway is not None else gateway

    async def _build(self) -> Engine:
        from podium.orchestrator.engine import Engine

        settings = self._engine_settings()
        recorded, endpoint = self._recorded(settings)
        if self._with_memory:
            from podium.memory.service import MemoryService

            self.memory = MemoryService(self.store)
        if self._with_tools:
            from podium.tools.toolbox import ToolBox

            # Built-in and MCP tools; a call that needs approval waits for a person
            # (the TUI's card, `podium approve`).
            self.tools = await ToolBox.open(self.store, allow_tools=list(recorded.allow_tools),
                                            on_approval=self._on_tool_approval, memory=self.memory)
        # The gateway's default is the run's one model, else the configured default; agents' and
        # teams' own models sit between those two (Execution.model_for).
        gateway = self.gateway(recorded.model or recorded.default_model, endpoint)
        return Engine(self.store, gateway, memory=self.memory, tools=self.tools, settings=settings,
                      run_settings=recorded if self._record else None)

    async def _engine_for(self, engine: Engine, run_id: str) -> Engine:
        """The engine a run goes on with: this session's, or one built from what the run recorded
        (another endpoint, concurrency, reply cap or review mode)."""
        from podium.orchestrator.engine import Engine

        try:
            execution = await RunRepository(self.store).get_execution(run_id)
        except NotFoundError:
            return engine  # the caller's operation says so
        recorded = execution.settings
        if recorded is None:  # from before runs recorded their settings: today's defaults
            return engine
        if self.tools is not None:
            self.tools.allow_for_run(execution.id, recorded.allow_tools)
        settings = engine.settings.for_run(recorded)
        same = settings == engine.settings and recorded.api_base == self._endpoint
        if same or recorded.api_base_withheld:
            return engine
        gateway = self.gateway(recorded.model or recorded.default_model, recorded.api_base)
        return Engine(self.store, gateway, memory=self.memory, tools=self.tools, settings=settings,
                      run_settings=recorded)

    def configure(self, run_settings: RunSettings, endpoint: str | None) -> None:
        """Before the engine is built: it goes by these run settings (and calls `endpoint`)."""
        if self._engine is not None:
            raise PodiumError("the session's engine is already built; reconfigure it instead")
        self._run_settings, self._endpoint, self._per_run = run_settings, endpoint, False

    def reconfigure(self, settings: RunSettings, endpoint: str | None, team: Team) -> RunSettings:
        """Go on with these run settings (before anything runs): a new gateway and engine settings
        on the session's engine. Returns the settings with the team's models resolved."""
        from podium.orchestrator.settings import EngineSettings

        engine = self.engine
        self._run_settings, self._endpoint = settings, endpoint
        engine.gateway = self.gateway(settings.model or settings.default_model, endpoint)
        engine.settings = (self._settings or EngineSettings()).for_run(settings)
        if self.tools is not None:
            self.tools.allow_tools = list(settings.allow_tools)
        resolved = engine.settings_for(team, settings)
        engine.run_settings = self._run_settings = resolved
        return resolved

    # ------------------------------------------------------------ use cases: runs

    async def create_run(self, objective: str, team: Team | str, *, model: str | None = None,
                         budget: Budget | None = None, workspace: Path | str | None = None) -> Execution:
        """A new run of `team` on `objective`, recording this session's settings (not planned yet).
        `workspace`: the user's folder the agents work on (a git worktree on a branch of its own,
        or a copy), checked before the run is made."""
        from podium.app.run_workspace import check_source

        source = await asyncio.to_thread(check_source, workspace) if workspace is not None else None
        engine = await self.engine_for()
        chosen = self.get_team(team) if isinstance(team, str) else team
        run_id = await engine.create_run(objective, chosen, model=model, budget=budget)
        if source is not None:
            try:
                await self.run_workspaces.attach(run_id, source)
            except PodiumError as exc:
                why = f"its workspace could not be made from {source.path}: {exc}"
                await self.runs.set_status(run_id, ExecutionStatus.FAILED, reason=why)
                raise
        return await self.runs.get_execution(run_id)

    async def plan(self, run_id: str, feedback: str | None = None) -> PlanProposal:
        """Discussion, then the leader's plan; the run then awaits approval."""
        return await (await self.engine_for(run_id)).plan(run_id, feedback)

    async def approve(self, run_id: str, *, by: str = "user", execute: bool = False) -> Execution:
        """Approve the latest plan; with `execute`, run it to its end (or a stop)."""
        engine = await self.engine_for(run_id)
        if not execute:
            await engine.approve(run_id, by=by)
            return await self.runs.get_execution(run_id)
        # Held from the approval to the end: a halt sent meanwhile (the app's `q`, `podium halt`)
        # reaches the session about to run the plan and stops it before its first subtask.
        async with engine.driving(run_id):
            await engine.approve(run_id, by=by)
            await self.fork_workspaces.ready(run_id)
            execution = await engine.execute(run_id)
        return await self._settled(run_id, execution)

    async def reject(self, run_id: str, feedback: str) -> PlanProposal:
        """Send the plan back with feedback: the leader plans again."""
        return await (await self.engine_for(run_id)).reject(run_id, feedback)

    async def execute(self, run_id: str) -> Execution:
        engine = await self.engine_for(run_id)
        # The lease first (a halted run is resumed by this): see `resuming`.
        async with engine.taking(run_id, "execute") as execution:
            await self.fork_workspaces.ready(execution.id)
            execution = await engine.execute(execution.id)
        return await self._settled(execution.id, execution)

    async def drive(self, run_id: str, driver: Driver) -> DriveOutcome:
        """Plan, decide (through `driver`), execute: from wherever the run is to its end or a stop."""
        from podium.app.drive import drive

        await self.fork_workspaces.ready(run_id)  # a resumed run's worktree or copy is there
        # Once a fork's plan is approved, before anything runs: the reused subtasks' files.
        outcome = await drive(await self.engine_for(run_id), run_id, driver,
                              before_execute=lambda: self.fork_workspaces.ready(run_id))
        await self._settled(run_id, outcome.execution)
        return outcome

    async def resume(self, run_id: str, *, paused_here: bool = False) -> Execution:
        """Continue a run: when this process's engine holds it paused, release the pause; else
        resume it here from the tables (done subtasks are kept)."""
        engine = await self.engine_for(run_id)
        if paused_here and (await self.runs.get_execution(run_id)).status is ExecutionStatus.PAUSED:
            await engine.control(run_id).resume()
            return await self.runs.get_execution(run_id)
        async with engine.taking(run_id) as execution:  # the lease first: see `resuming`
            await self.fork_workspaces.ready(execution.id)
            execution = await engine.resume(execution.id)
        return await self._settled(execution.id, execution)

    @asynccontextmanager
    async def resuming(self, run_id: str) -> AsyncIterator[Execution]:
        """Hold the run (its lease) for a whole resume, from the moment it is asked for: what the
        front end does before driving it (`prepare_resume`, `drive`) happens under the lease, so a
        halt sent meanwhile from anywhere reaches the session that runs it and stops it before
        its first subtask. Refuses a finished run or one awaiting review."""
        engine = await self.engine_for(run_id)
        async with engine.taking(run_id) as execution:
            yield execution

    async def accept(self, run_id: str, *, by: str = "user", source: str = "tui") -> Execution:
        """Accept a result awaiting review: the run completes (or ends partial)."""
        return await (await self.engine_for(run_id)).accept(run_id, by=by, source=source)

    async def rework(self, run_id: str, feedback: str, subtasks: list[str] | None = None, *,
                     by: str = "user", source: str = "tui", run: bool = True) -> Execution:
        """Send a reviewed result back: the named subtasks (and what depends on them) run again
        with the feedback, or with none named only the synthesis; then it is reviewed again.
        `run=False`: only check and record it (the caller drives the run)."""
        if run:
            await self.fork_workspaces.ready(run_id)
        done = await (await self.engine_for(run_id)).rework(run_id, feedback, subtasks, by=by,
                                                            source=source, run=run)
        return await self._settled(run_id, done) if run else done

    async def _settled(self, run_id: str, execution: Execution) -> Execution:
        """After agents worked: a run on the user's folder has its changes committed on its branch
        and the diff recorded (so the review, and an archive, show it), whatever the front end."""
        if await self.run_workspaces.get(run_id) is not None:
            try:
                await self.run_workspaces.review(run_id)
            except PodiumError as exc:  # the run's own outcome stands; the diff can be had later
                log.warning("run %s: its changes could not be committed: %s", run_id, exc)
        return execution

    async def has_plan(self, run_id: str) -> bool:
        """Whether the run has an approved plan (subtasks)."""
        return bool(await self.runs.subtasks(run_id))

    def model_name(self) -> str:
        """The model the session's engine calls when neither agent nor team names one."""
        return self.engine.gateway.resolve(None)

    async def prepare_resume(self, run_id: str, options: ResumeOptions) -> tuple[Execution, RunSettings]:
        """Check the run can be resumed here, go on with its recorded settings with `options` in place
        (a changed model is checked before it is recorded), record them and the budget. Returns the
        run and the settings it goes on with; `drive` then continues it."""
        from podium.app.run_settings import merged_budget, resumed_settings

        repo = self.runs
        await self.ensure_engine()
        execution = await repo.get_execution(run_id)
        if execution.status.finished:
            raise PodiumError(f"run {execution.id} is already {execution.status.value}; nothing to resume")
        if execution.status is ExecutionStatus.REVIEW:
            raise PodiumError(f"run {execution.id} awaits your review: `podium review {execution.id}` "
                              "shows it; then --accept or --rework \"...\"")
        settings, endpoint, changed = resumed_settings(
            execution, self.project, model=options.model, api_base=options.api_base,
            concurrency=options.concurrency, max_tokens=options.max_tokens, review=options.review,
            review_rounds=options.review_rounds, living=options.living,
            yes=options.approve_plans, allow_tools=options.allow_tools)
        settings = self.reconfigure(settings, endpoint, await repo.get_team(execution.id))
        if {"model", "api_base"} & set(changed):  # a model that cannot work is not recorded
            gateway = self.engine.gateway
            prepare = getattr(gateway, "prepare", None)
            if prepare is not None:
                for name in dict.fromkeys(settings.agents.values()):
                    await asyncio.to_thread(prepare, name)
        if changed or execution.settings is None or settings != execution.settings:
            await repo.set_settings(execution.id, settings, source="resume", changed=changed)
        if options.changes_budget:
            await repo.set_budget(execution.id, merged_budget(
                execution.budget, tokens=options.budget_tokens, usd=options.budget_usd,
                steps=options.budget_steps, seconds=options.budget_seconds))
        return execution, settings

    async def prepare_rework(self, run_id: str, feedback: str, subtasks: list[str], *, by: str = "cli",
                             source: str = "cli") -> Execution:
        """Send a reviewed result back, to be driven here with the settings the run was started with
        (it then awaits review again). Checked and recorded first: bad input changes nothing."""
        from podium.app.run_settings import resumed_settings

        repo = self.runs
        await self.ensure_engine()
        execution = await repo.get_execution(run_id)
        settings, endpoint, _ = resumed_settings(execution, self.project)
        self.reconfigure(settings.model_copy(update={"review": "human"}), endpoint,
                         await repo.get_team(execution.id))
        await self.engine.rework(execution.id, feedback, subtasks, by=by, source=source, run=False)
        return execution

    # ------------------------------------------------------------ use cases: steering

    async def control(self, run_id: str) -> RunControl:
        """The control channel of a run this process drives (pause, resume, halt, guide, answer)."""
        return (await self.engine_for(run_id)).control(run_id)

    async def pause(self, run_id: str) -> None:
        await (await self.control(run_id)).pause()

    async def halt(self, run_id: str, reason: str = "halted by the user", *, source: str = "tui") -> None:
        await (await self.control(run_id)).halt(source=source, reason=reason)

    async def guide(self, run_id: str, text: str, subtask_id: str | None = None) -> None:
        await (await self.control(run_id)).guide(text, subtask_id=subtask_id)

    async def answer(self, run_id: str, subtask_id: str, text: str) -> None:
        await (await self.control(run_id)).answer(subtask_id, text)

    async def change_plan(self, run_id: str, change: PlanChange, *, by: str = "user", source: str = "tui"
                          ) -> str:
        """Change a run's live graph (the living plan): the graph this session runs, if it runs it;
        otherwise through the file (posted to the process that drives it, or written directly)."""
        run_id = await self.runs.resolve_id(run_id)
        engine = self._by_run.get(run_id) or self._engine
        if engine is not None:
            return await engine.change_plan(run_id, change, by=by, source=source)
        from podium.orchestrator.plan_steering import PlanSteering

        return (await PlanSteering(self.store, source=source).change(run_id, change, by=by)).message

    def steering(self, *, source: str = "cli") -> Steering:
        """Steering a run another process may drive (`podium guide/pause/halt/answer/resume`)."""
        from podium.orchestrator.steering import Steering

        return Steering(self.store, source=source)

    # ------------------------------------------------------------ use cases: tool approvals

    async def decide_tool(self, approval_id: int, allow: bool, *, by: str, reason: str | None = None,
                          run_id: str | None = None) -> ApprovalRecord:
        """Approve or deny a waiting tool call (the agent waiting on it, in any process, goes on).
        With `run_id`, the approval must belong to that run."""
        from podium.tools.approvals import decide, list_approvals

        if run_id is not None:
            run_id = await self.runs.resolve_id(run_id)
            if approval_id not in {a.id for a in await list_approvals(self.store, run_id)}:
                raise NotFoundError(f"no tool approval #{approval_id} in run {run_id}")
        return await decide(self.store, approval_id, allow, by=by, reason=reason)

    async def pending_tool_approvals(self, run_id: str) -> list[ApprovalRecord]:
        from podium.tools.approvals import list_approvals

        return await list_approvals(self.store, await self.runs.resolve_id(run_id), pending_only=True)


async def accept_review(project: Path, run_id: str, *, by: str = "cli", source: str = "cli") -> Execution:
    """Accept a result awaiting review from a command: the run ends, its result goes to long-term
    memory and the leader writes its lessons (one model call, with the run's own model and endpoint
    as recorded; best effort: without a model it is skipped). No tools are started."""
    from podium.app.run_settings import accept_gateway_settings

    async with ProjectSession(project, create=False, tools=False, record=False) as session:
        execution = await session.runs.get_execution(run_id)
        model, endpoint = accept_gateway_settings(execution, project)
        session.configure(RunSettings(default_model=model), endpoint)
        return await session.accept(execution.id, by=by, source=source)
