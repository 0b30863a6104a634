"""The graph the scheduler runs, open to changes while it runs.

`run_graph` keeps its whole scheduling state here (per-node state, unmet
dependency counts, the ready heap keyed by critical-path priority), so a
change is applied to that state directly, in O(nodes it touches), and the
scheduler is woken by a future, not by polling: nothing restarts and a run
with no changes pays one future per scheduling round.

Changes (each synchronous, made on the event loop between scheduler steps):
- `add(node, deps, cost)`: a new node; ready at once if its deps are done.
  Its ancestors' priorities grow by propagation, so critical-path order holds.
- `set_deps(node, deps)`: a node that has not started gets new dependencies.
- `reset(node)`: a failed, blocked, removed, done or running node runs again
  (a running one is cancelled first); done dependents of a reset done node
  wait for it again.
- `remove(node, proceed)`: skip/cancel; dependents either proceed without it
  or are blocked (returned, for the caller to record).
- `block(node)`: a node that has not started will not run until reset.

Failure: with `block_on_failure` (the plain `run_graph` default) a failed node
blocks everything downstream, as before. The executor's graph does not: the
failed node's dependents keep waiting for it, so a person can retry, reassign,
skip or edit it, and `stuck()` lists what waits.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Iterable
from enum import Enum

from podium.orchestrator.graph_order import bottom_levels


class Node(Enum):
    WAITING = "waiting"  # dependencies not all satisfied
    READY = "ready"  # in the ready heap
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"  # will not run until reset
    REMOVED = "removed"  # skipped or cancelled


# A node that will not run again unless reset.
SETTLED = (Node.DONE, Node.FAILED, Node.BLOCKED, Node.REMOVED)
NOT_STARTED = (Node.WAITING, Node.READY)


class GraphChangeError(ValueError):
    """A change the live graph cannot take (unknown node, cycle, wrong state)."""


class LiveGraph:
    def __init__(self, deps: dict[str, list[str]], cost: dict[str, float] | None = None, *,
                 done: Iterable[str] = (), failed: Iterable[str] = (), blocked: Iterable[str] = (),
                 removed: Iterable[str] = (), block_on_failure: bool = False, hold: bool = False) -> None:

        self.deps: dict[str, list[str]] = {n: list(ds) for n, ds in deps.items()}
        self.cost: dict[str, float] = {n: (cost or {}).get(n, 1.0) for n in deps}
        self.children: dict[str, list[str]] = {n: [] for n in deps}
        for node, ds in self.deps.items():
            for d in ds:
                self.children.setdefault(d, []).append(node)
        self.position = {n: i for i, n in enumerate(deps)}
        self.priority = bottom_levels(self.deps, self.cost)
        self.block_on_failure = block_on_failure
        # hold: when nothing can run but some node waits on a failed one, wait for a change
        # (a person is there to make one) instead of ending the graph.
        self.hold = hold
        self.state: dict[str, Node] = dict.fromkeys(deps, Node.WAITING)
        for group, st in ((done, Node.DONE), (failed, Node.FAILED), (blocked, Node.BLOCKED),
                          (removed, Node.REMOVED)):
            for n in group:
                if n in self.state:
                    self.state[n] = st
        self.proceed: set[str] = set(removed)  # removed nodes whose dependents go on without them
        self.unmet: dict[str, int] = {}
        self._heap: list[tuple[float, int, str]] = []
        for node in self.deps:
            if self.state[node] is Node.WAITING:
                self._recount(node)
        self._waker: asyncio.Future[None] | None = None
        self.restart: set[str] = set()  # running nodes reset: re-queued when their task ends
        self.dropped: set[str] = set()  # running nodes removed: their task's end is not a result
        self.cancel_running: Callable[[str], None] | None = None  # set by run_graph
        self.version = 0  # bumped by every change (a scheduler round sees whether one came)

    # ------------------------------------------------------------ scheduler side

    def satisfied(self, node: str) -> bool:
        st = self.state.get(node)
        return st is Node.DONE or (st is Node.REMOVED and node in self.proceed)

    def _recount(self, node: str) -> None:
        """Unmet count and WAITING/READY for a node that has not started."""
        self.unmet[node] = sum(1 for d in self.deps[node] if not self.satisfied(d))
        if self.unmet[node] == 0:
            self._make_ready(node)
        else:
            self.state[node] = Node.WAITING

    def _make_ready(self, node: str) -> None:
        self.state[node] = Node.READY
        heapq.heappush(self._heap, (-self.priority[node], self.position[node], node))

    def pop_ready(self) -> str | None:
        """The ready node with the longest path to the end (stale heap entries are skipped)."""
        while self._heap:
            prio, _, node = heapq.heappop(self._heap)
            if self.state.get(node) is Node.READY and -prio == self.priority[node]:
                return node
        return None

    def has_ready(self) -> bool:
        while self._heap:
            prio, _, node = self._heap[0]
            if self.state.get(node) is Node.READY and -prio == self.priority[node]:
                return True
            heapq.heappop(self._heap)
        return False

    def started(self, node: str) -> None:
        self.state[node] = Node.RUNNING

    def finished(self, node: str, ok: bool) -> list[str]:
        """A run ended: DONE releases its children; FAILED (with block_on_failure) returns the
        downstream nodes it blocks."""
        if ok:
            self.state[node] = Node.DONE
            for child in self.children.get(node, []):
                if self.state.get(child) is Node.WAITING:
                    self.unmet[child] -= 1
                    if self.unmet[child] <= 0:
                        self._make_ready(child)
            return []
        self.state[node] = Node.FAILED
        return self.block_downstream(node) if self.block_on_failure else []

    def block_downstream(self, root: str) -> list[str]:
        stack, hit = list(self.children.get(root, [])), []
        while stack:
            node = stack.pop()
            if self.state.get(node) not in NOT_STARTED:
                continue
            self.state[node] = Node.BLOCKED
            hit.append(node)
            stack.extend(self.children.get(node, []))
        return sorted(hit, key=self.position.__getitem__)

    def task_ended(self, node: str) -> bool:
        """A cancelled run of `node` ended: True if a change asked for it (re-queued or dropped),
        False if it was interrupted (halt)."""
        if node in self.restart:
            self.restart.discard(node)
            self._recount(node)
            return True
        if node in self.dropped:
            self.dropped.discard(node)
            return True
        return False

    def stuck(self) -> list[str]:
        """Nodes that will not run as the graph stands: failed ones and what waits (directly or
        not) on a node that will not finish. Empty: nothing left to do."""
        out = [n for n, st in self.state.items() if st in (Node.FAILED, Node.WAITING)]
        return sorted(out, key=self.position.__getitem__)

    def waker(self) -> asyncio.Future[None]:
        """A future a change resolves: the scheduler waits on it with its running tasks."""
        if self._waker is None or self._waker.done():
            self._waker = asyncio.get_running_loop().create_future()
        return self._waker

    def wake(self) -> None:
        self.version += 1
        if self._waker is not None and not self._waker.done():
            self._waker.set_result(None)

    # ------------------------------------------------------------ changes

    def _known(self, node: str) -> Node:
        if node not in self.state:
            raise GraphChangeError(f"no subtask {node!r} in the graph")
        return self.state[node]

    def add(self, node: str, deps: list[str], cost: float = 1.0) -> None:
        if node in self.state:
            raise GraphChangeError(f"subtask {node!r} already exists")
        for d in deps:
            self._known(d)
        self.deps[node] = list(deps)
        self.cost[node] = cost
        self.children[node] = []
        self.position[node] = len(self.position)
        for d in deps:
            self.children[d].append(node)
        self.priority[node] = cost
        self.state[node] = Node.WAITING
        self._raise_ancestors(node)
        self._recount(node)
        self.wake()

    def _raise_ancestors(self, node: str) -> None:
        # A new child can only lengthen its ancestors' paths to the end: propagate upward.
        stack = [node]
        while stack:
            child = stack.pop()
            for d in self.deps[child]:
                level = self.cost[d] + self.priority[child]
                if level > self.priority[d]:
                    self.priority[d] = level
                    if self.state[d] is Node.READY:  # re-queue at its new priority
                        heapq.heappush(self._heap, (-level, self.position[d], d))
                    stack.append(d)

    def set_deps(self, node: str, deps: list[str]) -> None:
        if self._known(node) not in NOT_STARTED and self.state[node] is not Node.BLOCKED:
            raise GraphChangeError(f"subtask {node!r} has started; its dependencies cannot change")
        for d in deps:
            self._known(d)
        if self.reaches(node, set(deps)):
            raise GraphChangeError(f"depending on {', '.join(deps)} would make a cycle through {node}")
        for d in self.deps[node]:
            self.children[d].remove(node)
        self.deps[node] = list(deps)
        for d in deps:
            self.children[d].append(node)

        self.priority = bottom_levels(self.deps, self.cost)  # edges went away: recompute (rare)
        for n, st in self.state.items():
            if st is Node.READY:
                heapq.heappush(self._heap, (-self.priority[n], self.position[n], n))
        if self.state[node] is not Node.BLOCKED:
            self._recount(node)
        self.wake()

    def reaches(self, start: str, targets: set[str]) -> bool:
        """Whether any of `targets` is `start` or downstream of it (an edge to it would cycle)."""
        stack, seen = [start], set()
        while stack:
            n = stack.pop()
            if n in targets:
                return True
            if n not in seen:
                seen.add(n)
                stack.extend(self.children.get(n, []))
        return False

    def reset(self, node: str) -> None:
        """Run `node` again (retry, a changed input). A done node's waiting-or-ready children
        wait for it again; a running one is cancelled and re-queued when its task ends."""
        st = self._known(node)
        if st is Node.RUNNING:
            self.restart.add(node)
            if self.cancel_running is not None:
                self.cancel_running(node)
            self.wake()
            return
        if st is Node.DONE or (st is Node.REMOVED and node in self.proceed):
            for child in self.children.get(node, []):
                if self.state.get(child) is Node.READY:
                    self.state[child] = Node.WAITING
                    self.unmet[child] = 1
                elif self.state.get(child) is Node.WAITING:
                    self.unmet[child] += 1
        self.proceed.discard(node)
        self._recount(node)
        self.wake()

    def remove(self, node: str, *, proceed: bool) -> list[str]:
        """Skip or cancel `node`; returns the dependents it blocks (none with `proceed`)."""
        st = self._known(node)
        if st is Node.DONE:
            raise GraphChangeError(f"subtask {node!r} is done; replace its output instead")
        if st is Node.RUNNING:
            self.dropped.add(node)
            if self.cancel_running is not None:
                self.cancel_running(node)
        self.state[node] = Node.REMOVED
        blocked: list[str] = []
        if proceed:
            self.proceed.add(node)
            for child in self.children.get(node, []):
                if self.state.get(child) is Node.WAITING:
                    self._recount(child)
        else:
            for child in self.children.get(node, []):
                if self.state.get(child) in NOT_STARTED:
                    self.state[child] = Node.BLOCKED
                    blocked.append(child)
        self.wake()
        return blocked

    def block(self, node: str) -> None:
        if self._known(node) not in NOT_STARTED:
            raise GraphChangeError(f"subtask {node!r} has started")
        self.state[node] = Node.BLOCKED
        self.wake()
