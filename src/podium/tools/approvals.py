"""Approval policies and requests for tool calls.

A policy per tool: always (run), ask (wait for a person), never (refuse).
An "ask" becomes an ApprovalRequest: a row in `tool_approvals` with its
event, and an awaitable object. The decision can come from this process
(the engine, the TUI: `request.approve()`), or from another one (`podium
approve`, `podium answer`) writing the row; the waiter notices within the
poll interval. Every decision is recorded with who made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
from collections.abc import Iterable
from typing import Any

from podium.domain import ApprovalRecord
from podium.errors import PodiumError
from podium.store import ProjectStore
from podium.store.approvals import ApprovalRepository
from podium.tools.types import Policy

__all__ = ["ApprovalRecord", "ApprovalRequest", "Approvals", "decide", "expire_pending", "list_approvals",
           "load_policies", "set_policy"]

POLICY_META_KEY = "tool_policies"
POLL_SECONDS = 0.25
# First words of a `podium answer` that decide a pending tool call.
YES = frozenset({"y", "yes", "approve", "approved", "allow", "ok", "okay", "go"})
NO = frozenset({"n", "no", "deny", "denied", "refuse", "reject", "stop", "don't", "dont"})


# ------------------------------------------------------------------ policies


def matches(patterns: Iterable[str], name: str) -> bool:
    return any(p in ("*", "all") or fnmatch.fnmatchcase(name, p) for p in patterns)


async def load_policies(store: ProjectStore) -> dict[str, Policy]:
    """Per-project overrides: {tool name or glob: policy}."""
    raw = await store.get_meta(POLICY_META_KEY)
    if not raw:
        return {}
    try:
        return {k: Policy(v) for k, v in json.loads(raw).items()}
    except (ValueError, TypeError):
        return {}


async def set_policy(store: ProjectStore, pattern: str, policy: Policy | None) -> dict[str, Policy]:
    current = await load_policies(store)
    if policy is None:
        current.pop(pattern, None)
    else:
        current[pattern] = policy
    await store.set_meta(POLICY_META_KEY, json.dumps({k: v.value for k, v in current.items()}))
    return current


def effective_policy(name: str, default: Policy, overrides: dict[str, Policy]) -> Policy:
    """An exact override wins, then the longest matching glob, then the tool's default."""
    if name in overrides:
        return overrides[name]
    globs = [p for p in overrides if fnmatch.fnmatchcase(name, p)]
    return overrides[max(globs, key=len)] if globs else default


# ------------------------------------------------------------------ requests


class ApprovalRequest:
    """One pending decision. Await it (or `.wait()`) for True (approved) / False (denied)."""

    def __init__(self, book: Approvals, record: ApprovalRecord) -> None:
        self._book = book
        self.record = record
        self._decided: asyncio.Future[ApprovalRecord] = asyncio.get_running_loop().create_future()

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def tool(self) -> str:
        return self.record.tool

    @property
    def agent(self) -> str:
        return self.record.agent

    @property
    def subtask_id(self) -> str | None:
        return self.record.subtask_id

    @property
    def arguments(self) -> dict[str, Any]:
        return self.record.arguments

    @property
    def done(self) -> bool:
        return self._decided.done()

    async def approve(self, by: str = "user", reason: str | None = None) -> None:
        await self._book.decide(self.id, True, by=by, reason=reason)

    async def deny(self, by: str = "user", reason: str | None = None) -> None:
        await self._book.decide(self.id, False, by=by, reason=reason)

    def _resolve(self, record: ApprovalRecord) -> None:
        self.record = record
        if not self._decided.done():
            self._decided.set_result(record)

    async def wait(self) -> bool:
        """Until someone decides, here or in another process (polled)."""
        while not self._decided.done():
            done, _ = await asyncio.wait({self._decided}, timeout=self._book.poll_seconds)
            if done:
                break
            record = await self._book.records.get(self.id)
            if record is not None and record.status != "pending":
                self._resolve(record)
            elif (verdict := await self._answered()) is not None:
                approved, text = verdict
                with contextlib.suppress(PodiumError):  # decided meanwhile by someone else
                    await self._book.decide(
                        self.id, approved, by="podium answer", reason=None if approved else text
                    )
        return self._decided.result().status == "approved"

    async def _answered(self) -> tuple[bool, str] | None:
        """A yes/no from `podium answer RUN SUBTASK ...` (or the TUI's help answer) given while
        this request waits: the human answers the agent, and the agent waits on this tool call."""
        if self.record.execution_id is None or self.record.subtask_id is None:
            return None
        answers = await self._book.records.answers_since(
            self.record.execution_id, self.record.subtask_id, self.record.created_at)
        for answer in answers:
            text = answer.strip()
            word = text.lower().split(maxsplit=1)[0].strip(".,!:;") if text else ""
            if word in YES:
                return True, text
            if word in NO:
                return False, text
        return None

    def __await__(self):  # type: ignore[no-untyped-def]
        return self.wait().__await__()


class Approvals:
    """Creates, tracks and decides approval requests for one process."""

    def __init__(self, store: ProjectStore, poll_seconds: float = POLL_SECONDS) -> None:
        self.store = store
        self.records = ApprovalRepository(store)
        self.poll_seconds = poll_seconds
        self._open: dict[int, ApprovalRequest] = {}

    @property
    def pending(self) -> list[ApprovalRequest]:
        return [r for r in self._open.values() if not r.done]

    async def request(
        self,
        *,
        execution_id: str | None,
        subtask_id: str | None,
        agent: str,
        tool: str,
        arguments: dict[str, Any],
    ) -> ApprovalRequest:
        record = await self.records.create(
            execution_id=execution_id, subtask_id=subtask_id, agent=agent, tool=tool, arguments=arguments
        )
        req = ApprovalRequest(self, record)
        self._open[req.id] = req
        return req

    async def record_automatic(
        self,
        *,
        execution_id: str | None,
        subtask_id: str | None,
        agent: str,
        tool: str,
        arguments: dict[str, Any],
        by: str,
    ) -> int:
        """An "ask" tool approved up front (`--allow-tools`): recorded like any decision."""
        req = await self.request(
            execution_id=execution_id, subtask_id=subtask_id, agent=agent, tool=tool, arguments=arguments
        )
        await self.decide(req.id, True, by=by)
        return req.id

    async def decide(
        self,
        approval_id: int,
        approved: bool,
        *,
        by: str,
        reason: str | None = None,
        resume_subtask: bool = True,
    ) -> ApprovalRecord:
        record = await decide(
            self.store, approval_id, approved, by=by, reason=reason, resume_subtask=resume_subtask
        )
        if (req := self._open.get(approval_id)) is not None:
            req._resolve(record)
        return record

    async def withdraw(self, request: ApprovalRequest, reason: str) -> None:
        """Close a request nobody will wait for any more (run halted or shut down).

        The subtask's status is left to the engine: it is no longer running.
        """
        # Decided meanwhile, or the store is read-only: either way nobody waits now.
        with contextlib.suppress(PodiumError):
            await self.decide(request.id, False, by="podium", reason=reason, resume_subtask=False)
        if not request.done:
            request._resolve(request.record.model_copy(update={"status": "denied", "reason": reason}))

    async def deny_all(self, reason: str) -> None:
        """Used at shutdown: nobody is left to decide."""
        for req in self.pending:
            await self.withdraw(req, reason)


async def decide(
    store: ProjectStore,
    approval_id: int,
    approved: bool,
    *,
    by: str,
    reason: str | None = None,
    resume_subtask: bool = True,
) -> ApprovalRecord:
    """Record a decision on a pending request (from any process); the waiting agent's card
    goes back to running unless `resume_subtask` is False."""
    return await ApprovalRepository(store).decide(
        approval_id, approved, by=by, reason=reason, resume_subtask=resume_subtask
    )


EXPIRED_BY = "podium"
EXPIRED_REASON = "expired: the process that asked was stopped before a decision"


async def expire_pending(
    store: ProjectStore, execution_id: str, *, reason: str = EXPIRED_REASON
) -> list[ApprovalRecord]:
    """Settle the requests a stopped process left pending for a run (denied by podium, with
    the usual event), so nobody is shown a question no one is waiting on any more.

    Only for a process that just took the run over (it holds the run's lease, so whoever asked
    is gone): its own agents ask again if they still need the tool. Subtasks are left alone;
    the engine restarts the interrupted ones.
    """
    return await ApprovalRepository(store).deny_pending(execution_id, by=EXPIRED_BY, reason=reason)


async def list_approvals(
    store: ProjectStore, execution_id: str | None = None, *, pending_only: bool = False
) -> list[ApprovalRecord]:
    return await ApprovalRepository(store).select(execution_id, pending_only=pending_only)
