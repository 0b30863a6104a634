"""Transcripts: an "all" tab plus one per agent, streamed as Markdown.

Deltas are buffered and written at most ~30 times a second (one render of
a message's last chunk per frame, not per token). Each log follows the
stream unless the person scrolled up, and then shows a marker that new text
is below. Long logs are pruned from the top.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import TabbedContent, TabPane

from podium import events as ev
from podium.domain import Event
from podium.orchestrator.signals import parse_reply
from podium.tui.widgets.transcript_view import AgentLog

FRAME_SECONDS = 1 / 30
_SLUG = re.compile(r"[^A-Za-z0-9_-]")
StreamKey = tuple[str, str | None, str]  # agent, subtask, phase
__all__ = ["AgentLog", "Transcripts"]


def pane_id(agent: str) -> str:
    return "tab-" + _SLUG.sub("_", agent)


class Transcripts(Vertical):
    DEFAULT_CSS = """
    Transcripts { border: round $foreground 30%; }
    Transcripts:focus-within { border: round $primary; }
    Transcripts TabbedContent { height: 1fr; }
    Transcripts TabPane { padding: 0; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._pending: dict[tuple[str, StreamKey], list[str]] = defaultdict(list)
        self._headers: dict[StreamKey, str] = {}
        self._agents: list[str] = []
        self._logs: dict[str, AgentLog] = {}
        self._shown_messages: set[Any] = set()
        self._last_synthesis = ""
        self.live = True

    def compose(self):  # type: ignore[no-untyped-def]
        self.border_title = "Transcripts"
        with TabbedContent(id="transcript-tabs"), TabPane("all", id="tab-all"):
            yield AgentLog(id="log-all")

    def on_mount(self) -> None:
        self.set_interval(FRAME_SECONDS, self._flush, name="transcript-frames")

    # ------------------------------------------------------------ logs

    async def log_for(self, agent: str | None) -> AgentLog:
        """The agent's log, adding its tab the first time the agent appears."""
        if agent is None:
            return self.query_one("#log-all", AgentLog)
        log = self._logs.get(agent)
        if log is None:
            pid = pane_id(agent)
            log = AgentLog(id="log-" + pid)
            self._logs[agent] = log
            self._agents.append(agent)
            await self.query_one(TabbedContent).add_pane(TabPane(agent, log, id=pid))
        return log

    @property
    def agents(self) -> list[str]:
        return list(self._agents)

    async def add_agents(self, names: list[str]) -> None:
        for name in names:
            await self.log_for(name)

    async def _both(self, agent: str | None) -> list[AgentLog]:
        logs = [await self.log_for(None)]
        if agent:
            logs.append(await self.log_for(agent))
        return logs

    async def note(self, agent: str | None, text: str | Text, kind: str) -> None:
        for log in await self._both(agent):
            log.add_note(text, kind)

    async def clear(self) -> None:
        """Forget everything (replay jumps back in time)."""
        self._pending.clear()
        self._headers.clear()
        self._shown_messages.clear()
        tabs = self.query_one(TabbedContent)
        for agent in self._agents:
            await tabs.remove_pane(pane_id(agent))
        self._agents.clear()
        self._logs.clear()
        self.query_one("#log-all", AgentLog).clear()

    # ------------------------------------------------------------ events

    async def handle(self, event: Event) -> None:
        p = event.payload
        if isinstance(p, ev.StreamDelta):
            if not self.live:
                return
            key: StreamKey = (p.agent, p.subtask_id, p.phase.value)
            self._headers[key] = _header(key)
            for log in await self._both(p.agent):
                self._pending[(log.id or "", key)].append(p.text)
        elif isinstance(p, ev.MessageAdded):
            await self._message(p.agent, p.role.value, p.phase.value, p.subtask_id, p.content, p.message_id)
        elif isinstance(p, ev.DiscussionContribution):
            if p.message_id not in self._shown_messages or p.message_id is None:
                await self._message(p.agent, "assistant", "discussion", None, p.content, p.message_id)
        elif isinstance(p, ev.ConsultationStarted):
            text = f"↳ {p.asker} asked {p.peer}: “{p.question}”"
            for who in {p.asker, p.peer}:
                (await self.log_for(who)).add_note(text, "consult")
            (await self.log_for(None)).add_note(text, "consult")
        elif isinstance(p, ev.ConsultationFinished):
            if p.error:
                text, kind = f"↳ {p.peer} could not answer: {p.error}", "error"
            else:
                text, kind = f"↳ {p.peer} answered {p.asker}: “{p.answer or ''}”", "consult"
            for who in {p.asker, p.peer}:
                (await self.log_for(who)).add_note(text, kind)
            (await self.log_for(None)).add_note(text, kind)
        elif isinstance(p, ev.InterventionRecorded):
            await self._intervention(p)
        elif isinstance(p, ev.HelpRequested):
            await self.note(p.agent, f"⚑ {p.agent} ({p.subtask_id}) asks you: “{p.question}”  — h to answer",
                            "help")
        elif isinstance(p, ev.MemoryRecalled):
            for item in p.items[:5]:
                score_text = f", {item.score:.2f}" if item.score is not None else ""
                recalled = _short(item.text, 90)
                what = f"{item.kind or '?'}{score_text}"
                await self.note(p.agent, f"↳ recalled: “{recalled}” ({what})", "memory")
        elif isinstance(p, ev.ToolCalled):
            outcome = f"✘ {p.error}" if p.error else f"→ {_short(str(p.result or ''), 80)}"
            args = _short(str(p.arguments if p.arguments is not None else ""), 60)
            await self.note(p.agent, f"⚙ {p.tool}({args}) {outcome}", "tool")
        elif isinstance(p, ev.ImageGenerated):
            await self.note(p.agent, f"▨ image: {p.path} (“{_short(p.prompt, 70)}”) — i opens it", "tool")
        elif isinstance(p, ev.ToolApprovalRequested):
            args = _short(str(p.arguments), 60)
            await self.note(p.agent, f"⚑ {p.agent} wants to run {p.tool}({args}) — y to allow or deny",
                            "help")
        elif isinstance(p, ev.ToolApprovalDecided):
            verdict = "allowed" if p.approved else "denied"
            await self.note(p.agent, f"⚙ {p.tool} {verdict} by {p.by}", "tool")
        elif isinstance(p, ev.PlanProposed):
            n = len(p.plan.subtasks)
            extra = " (fallback: the leader's plan was invalid)" if p.fallback else ""
            mends = p.plan.mends
            if mends:
                more = f"; +{len(mends) - 3} more" if len(mends) > 3 else ""
                extra += f" (mended: {'; '.join(mends[:3])}{more})"
            await self.note(None, f"▣ plan v{p.version} proposed: {n} subtasks{extra}", "plan")
        elif isinstance(p, ev.PlanRejected):
            await self.note(None, f"✘ plan v{_version(p.version)} rejected: “{p.feedback or ''}”", "guidance")
        elif isinstance(p, ev.PlanApproved):
            await self.note(None, f"✔ plan v{_version(p.version)} approved", "plan")
        elif isinstance(p, ev.SubtaskStatusChanged):
            status = p.status.value.replace("_", " ")
            extra = f": {_short(p.error, 80)}" if p.error else ""
            kind = "error" if p.error else "status"
            await self.note(p.agent, f"▸ {p.subtask_id} {status}{extra}", kind)
        elif isinstance(p, ev.RunStatusChanged):
            reason = f" ({p.reason})" if p.reason else ""
            await self.note(None, f"■ run {p.status.value.replace('_', ' ')}{reason}", "status")
        elif isinstance(p, ev.ReviewVerdict):
            overall = p.overall if "overall" in p.model_fields_set else "done"
            await self.note(None, f"◆ review: {overall}", "plan")
        elif isinstance(p, ev.RunResult) and p.result:
            # The leader's synthesis usually is the result: do not show it twice.
            if p.result.strip() != self._last_synthesis:
                (await self.log_for(None)).add_message("Result", p.result)
            else:
                await self.note(None, "■ the synthesis above is the run's result", "plan")

    async def _message(self, agent: str, role: str, phase: str, subtask_id: str | None, content: str,
                       message_id: int | None) -> None:
        agent = agent or "?"
        if message_id is not None:
            self._shown_messages.add(message_id)
        if role == "human":
            target = agent if agent not in ("human", "you") else None
            await self.note(target, f"⚑ from you: “{_short(content, 200)}”", "guidance")
            return
        if role == "tool":
            await self.note(agent, f"⚙ tool result: {_short(content, 120)}", "tool")
            return
        if role in ("system", "user"):
            return
        if "action" in content:
            # A model without tool calls ends its reply with a fenced JSON signal; what it
            # asked for shows as its own note (consultation, help, tool, status), not as JSON.
            content = parse_reply(content).text
        key: StreamKey = (agent, subtask_id, phase)
        if phase == "synthesis":
            self._last_synthesis = content.strip()
        header = _header(key)
        for log in await self._both(agent):
            # Text still buffered for this stream is superseded by the whole message.
            self._pending.pop((log.id or "", key), None)
            log.finish(key, header, content)

    async def _intervention(self, p: ev.InterventionRecorded) -> None:
        kind, text = p.kind.value, p.text
        if kind == "guidance":
            await self.note(None, f"⚑ guidance from you: “{_short(text, 200)}”", "guidance")
        elif kind == "answer":
            await self.note(None, f"⚑ your answer to {p.subtask_id}: “{_short(text, 200)}”", "guidance")
        elif kind in ("rework", "reject"):
            await self.note(None, f"⚑ {kind}: “{_short(text, 200)}”", "guidance")
        else:
            await self.note(None, f"⚑ you: {kind}", "status")

    def focus_visible_log(self) -> None:
        """Focus the shown tab's log, so the scroll keys (↑ ↓ PgUp PgDn Home End) work at once."""
        active = self.query_one(TabbedContent).active or "tab-all"
        log_id = "log-all" if active == "tab-all" else f"log-{active}"
        self.query_one(f"#{log_id}", AgentLog).focus(scroll_visible=False)

    def _visible_log(self) -> str | None:
        """The id of the log a person can see now (None when the pane is hidden)."""
        if self.region.area == 0:
            return None
        active = self.query_one(TabbedContent).active
        if not active:
            return None
        return "log-all" if active == "tab-all" else f"log-{active}"

    async def _flush(self) -> None:
        """One frame: write the visible log's buffered deltas, one append per stream.

        Hidden tabs keep their text buffered until shown (or until the whole
        message lands), so 8 streaming agents cost one render of a message's tail per
        stream per frame, not two per token.
        """
        if not self._pending:
            return
        visible = self._visible_log()
        if visible is None:
            return
        keys = [k for k in self._pending if k[0] == visible]
        for log_key in keys:
            parts = self._pending.pop(log_key)
            log_id, key = log_key
            try:
                log = self.query_one(f"#{log_id}", AgentLog)
            except Exception:  # the pane went away (replay cleared it)
                continue
            log.stream(key, self._headers.get(key, _header(key)), "".join(parts))

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        await self._flush()


def _header(key: StreamKey) -> str:
    agent, subtask, phase = key
    parts = [agent]
    if subtask:
        parts.append(subtask)
    if phase and phase != "execution":
        parts.append(phase)
    return " · ".join(parts)


def _version(version: int | None) -> str:
    return "?" if version is None else str(version)


def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"
