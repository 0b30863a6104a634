"""Changes to an approved plan's live graph, checked against the graph as it stands.

`plan_effect` is pure: given a `PlanChange`, the run's subtasks (the live
graph, with statuses) and its team, it returns what the change does (the
subtask's new definition, each status move with the status it expects to
find, what the agents are told) or raises `PodiumError` with one line saying
why not. The same function serves a change applied to the file directly (no
process drives the run), one the driving process applies to its running
scheduler, and the validation a second terminal does before it posts one;
the store re-checks every expected status in the transaction that writes it.

`agent_notes` turns the run's change log back into what each subtask's agent
is told (a retry's note, a dependency skipped, an input replaced), so a new
session after a crash tells them the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podium import events as ev
from podium.domain import PlanAction, PlanChange, Subtask, SubtaskStatus, Team, with_dependents
from podium.errors import PodiumError

# Not started (or cut off by a crash when nobody drives the run: those restart as pending).
IN_FLIGHT = (SubtaskStatus.RUNNING, SubtaskStatus.WAITING_PEER, SubtaskStatus.NEEDS_HELP)
GONE = (SubtaskStatus.SKIPPED, SubtaskStatus.CANCELLED)


@dataclass(frozen=True)
class Move:
    subtask_id: str
    expected: SubtaskStatus  # what the store must still find, or nothing is written
    status: SubtaskStatus
    reason: str


@dataclass
class Effect:
    """What a change does, for the store (rows and events) and the live scheduler."""

    change: PlanChange
    subtask_id: str
    definition: Subtask | None = None  # add / edit / reassign: the subtask as it will stand
    insert: bool = False
    output: str | None = None  # action output: the replacement
    moves: list[Move] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)  # to run (again), in plan order
    blocked: list[str] = field(default_factory=list)
    proceed: bool = True  # skip/cancel: dependents go on without it

    def summary(self) -> str:
        c, sid = self.change, self.subtask_id
        what = {PlanAction.ADD: f"added {sid}", PlanAction.EDIT: f"edited {sid}",
                PlanAction.RETRY: f"{sid} will run again", PlanAction.SKIP: f"skipped {sid}",
                PlanAction.CANCEL: f"cancelled {sid}",
                PlanAction.OUTPUT: f"replaced the output of {sid}"}[c.action]
        if self.definition is not None and c.action is PlanAction.ADD:
            what += f" ({self.definition.agent}" + (f", after {', '.join(self.definition.depends_on)}"
                                                     if self.definition.depends_on else "") + ")"
        if c.action is PlanAction.RETRY and c.agent:
            what += f" by {c.agent}"
        if self.blocked:
            what += f"; blocked {', '.join(self.blocked)}"
        reruns = [r for r in self.reset if r != sid]
        if reruns:
            what += f"; {', '.join(reruns)} will run again"
        return what


def plan_effect(change: PlanChange, subtasks: list[Subtask], team: Team, *, driven: bool = True) -> Effect:
    """What `change` does to the graph `subtasks`; PodiumError if it cannot be made now.

    `driven`: a process runs the graph; if not, subtasks left in flight by a crash count as
    pending (the next session restarts them anyway)."""
    if change.action is PlanAction.ACCEPT:
        raise PodiumError("accepting a proposal makes the changes it asks for (see plan_effects)")
    by_id = {s.id: s for s in subtasks}

    def status(sid: str) -> SubtaskStatus:
        st = by_id[sid].status
        return SubtaskStatus.PENDING if not driven and st in IN_FLIGHT else st

    if change.action is PlanAction.ADD:
        return _add(change, subtasks, by_id, team)
    sid = change.subtask_id or ""
    if sid not in by_id:
        raise PodiumError(f"there is no subtask {sid!r} (the subtasks: {', '.join(by_id) or 'none'})")
    current = by_id[sid]
    now = status(sid)
    effect = Effect(change, sid)
    if change.action is PlanAction.EDIT:
        if now not in (SubtaskStatus.PENDING, SubtaskStatus.BLOCKED, SubtaskStatus.FAILED):
            raise PodiumError(f"{sid} is {_said(now)}: only a subtask that has not started (or failed) can "
                              "be edited" + ("; `podium task cancel` stops it" if now in IN_FLIGHT else ""))
        updates: dict[str, object] = {}
        if change.description is not None:
            updates["description"] = _text(change.description, "the description")
        if change.agent is not None:
            updates["agent"] = _agent(change.agent, team)
        if change.after is not None:
            after = _deps(change.after, by_id, sid)
            updates["depends_on"] = after
            if _reaches(sid, set(after), subtasks):
                raise PodiumError(f"{sid} cannot wait on {', '.join(change.after)}: that would make a cycle")
        if change.criteria is not None:
            updates["acceptance_criteria"] = [c.strip() for c in change.criteria if c.strip()]
        if not updates:
            raise PodiumError("nothing to change: give --description, --agent, --after or --criteria")
        effect.definition = current.model_copy(update=updates)
        if now is not SubtaskStatus.PENDING:
            effect.moves.append(Move(sid, current.status, SubtaskStatus.PENDING, "edited: it runs again"))
            effect.reset.append(sid)
    elif change.action is PlanAction.RETRY:
        if now not in (SubtaskStatus.FAILED, SubtaskStatus.BLOCKED):
            raise PodiumError(f"{sid} is {_said(now)}: only a failed or blocked subtask can be retried")
        if change.agent is not None:
            effect.definition = current.model_copy(update={"agent": _agent(change.agent, team)})
        who = f" by {change.agent}" if change.agent else ""
        effect.moves.append(Move(sid, current.status, SubtaskStatus.PENDING, f"retried{who}"))
        effect.reset.append(sid)
    elif change.action in (PlanAction.SKIP, PlanAction.CANCEL):
        _remove(effect, change, current, now, subtasks, status)
    elif change.action is PlanAction.OUTPUT:
        if now is not SubtaskStatus.DONE:
            raise PodiumError(f"{sid} is {_said(now)}: only a finished subtask's output can be replaced")
        effect.output = _text(change.output or "", "the new output")
        effect.moves.append(Move(sid, current.status, SubtaskStatus.DONE, "output replaced"))
        for d in _downstream(sid, subtasks):
            st = status(d)
            if st is SubtaskStatus.DONE or st in IN_FLIGHT:
                effect.moves.append(Move(d, by_id[d].status, SubtaskStatus.PENDING,
                                         f"its input changed: {sid}'s output was replaced"))
                effect.reset.append(d)
    return effect


def plan_effects(changes: list[PlanChange], subtasks: list[Subtask], team: Team, *, driven: bool = True
                 ) -> list[Effect]:
    """Several changes made together (a replan, an accepted proposal): each checked against the
    graph as the ones before it leave it; PodiumError (naming the change) if any cannot be made."""
    graph = [s.model_copy() for s in subtasks]
    effects = []
    for change in changes:
        try:
            effect = plan_effect(change, graph, team, driven=driven)
        except PodiumError as exc:
            what = change.subtask_id or (change.description or "")[:40]
            raise PodiumError(f"{change.action.value} {what}: {exc}") from None
        effects.append(effect)
        graph = simulate(effect, graph)
    return effects


def simulate(effect: Effect, subtasks: list[Subtask]) -> list[Subtask]:
    """The graph as it stands after `effect` (definitions and statuses; no outputs)."""
    out = [s.model_copy() for s in subtasks]
    by_id = {s.id: s for s in out}
    if effect.definition is not None:
        if effect.insert:
            added = effect.definition.model_copy(update={"status": SubtaskStatus.PENDING})
            out.append(added)
            by_id[added.id] = added
        else:
            current = by_id[effect.subtask_id]
            for name in ("agent", "description", "depends_on", "acceptance_criteria"):
                setattr(current, name, getattr(effect.definition, name))
    for move in effect.moves:
        by_id[move.subtask_id].status = move.status
    return out


def _add(change: PlanChange, subtasks: list[Subtask], by_id: dict[str, Subtask], team: Team) -> Effect:
    sid = (change.subtask_id or "").strip() or _next_id(by_id)
    if sid in by_id:
        raise PodiumError(f"there is already a subtask {sid!r}")
    description = _text(change.description or "", "the description")
    if change.agent is None:
        raise PodiumError("say which agent does it (--agent NAME)")
    after = _deps(change.after or [], by_id, sid)
    definition = Subtask(id=sid, agent=_agent(change.agent, team), description=description, depends_on=after,
                         acceptance_criteria=[c.strip() for c in change.criteria or [] if c.strip()])
    return Effect(change, sid, definition=definition, insert=True, reset=[sid])


def _remove(effect: Effect, change: PlanChange, current: Subtask, now: SubtaskStatus, subtasks: list[Subtask],
            status: object) -> None:
    sid, skip = current.id, change.action is PlanAction.SKIP
    allowed = [SubtaskStatus.PENDING, SubtaskStatus.BLOCKED, SubtaskStatus.FAILED]
    if not skip:
        allowed += IN_FLIGHT
    if now not in allowed:
        hint = "; `podium task cancel` stops a running one" if skip and now in IN_FLIGHT else ""
        raise PodiumError(f"{sid} is {_said(now)}: it cannot be {'skipped' if skip else 'cancelled'}{hint}")
    effect.proceed = (change.dependents or ("proceed" if skip else "block")) == "proceed"
    word = "skipped" if skip else "cancelled"
    effect.moves.append(Move(sid, current.status, SubtaskStatus.SKIPPED if skip else SubtaskStatus.CANCELLED,
                             f"{word}; dependents {'proceed without it' if effect.proceed else 'blocked'}"))
    if effect.proceed:
        return
    by_id = {s.id: s for s in subtasks}
    for s in subtasks:
        if sid in s.depends_on and status(s.id) is SubtaskStatus.PENDING:  # type: ignore[operator]
            effect.moves.append(Move(s.id, by_id[s.id].status, SubtaskStatus.BLOCKED,
                                     f"depends on {sid}, which was {word}"))
            effect.blocked.append(s.id)


def agent_notes(changes: list[ev.PlanChanged], subtasks: list[Subtask]) -> dict[str, list[str]]:
    """What each subtask's agent is told about changes to the plan (in the order they came)."""
    children: dict[str, list[str]] = {}
    for s in subtasks:
        for d in s.depends_on:
            children.setdefault(d, []).append(s.id)
    notes: dict[str, list[str]] = {}
    for c in changes:
        if c.action == PlanAction.RETRY.value:
            text = f"{c.by} retried this subtask after it failed" + (f": {c.note}" if c.note else ".")
            notes.setdefault(c.subtask_id, []).append(text)
        elif c.action in (PlanAction.SKIP.value, PlanAction.CANCEL.value) and c.dependents == "proceed":
            word = "skipped" if c.action == PlanAction.SKIP.value else "cancelled"
            for child in children.get(c.subtask_id, []):
                notes.setdefault(child, []).append(
                    f"{c.subtask_id} was {word} by {c.by}: there is no output from it; proceed without it.")
        elif c.action == PlanAction.OUTPUT.value:
            for sid in c.reset:
                notes.setdefault(sid, []).append(
                    f"Your input changed: {c.by} replaced the output of {c.subtask_id}; do the work again "
                    "with the new input.")
    return notes


# ---------------------------------------------------------------- helpers


def _said(status: SubtaskStatus) -> str:
    return status.value.replace("_", " ")


def _text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise PodiumError(f"{what} is empty")
    return value


def _agent(name: str, team: Team) -> str:
    names = [a.name for a in team.agents]
    if name not in names:
        raise PodiumError(f"no agent {name!r} in team {team.name} (its agents: {', '.join(names)})")
    return name


def _deps(after: list[str], by_id: dict[str, Subtask], sid: str) -> list[str]:
    deps = list(dict.fromkeys(a.strip() for a in after if a.strip()))
    for d in deps:
        if d == sid:
            raise PodiumError(f"{sid} cannot depend on itself")
        if d not in by_id:
            raise PodiumError(f"there is no subtask {d!r} to wait on (the subtasks: {', '.join(by_id)})")
        if by_id[d].status in GONE:
            raise PodiumError(f"{d} was {by_id[d].status.value}: nothing can depend on it")
    return deps


def _next_id(by_id: dict[str, Subtask]) -> str:
    n = len(by_id) + 1
    while f"t{n}" in by_id:
        n += 1
    return f"t{n}"


def _downstream(sid: str, subtasks: list[Subtask]) -> list[str]:
    """Everything that depends on `sid`, directly or not, in plan order."""
    graph = {s.id: s.depends_on for s in subtasks}
    return [d for d in with_dependents([sid], [s.id for s in subtasks], graph) if d != sid]


def _reaches(sid: str, targets: set[str], subtasks: list[Subtask]) -> bool:
    return bool(targets & ({sid} | set(_downstream(sid, subtasks))))
