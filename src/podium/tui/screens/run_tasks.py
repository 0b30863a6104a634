"""The run screen's living-plan keys: add, edit, retry, skip or cancel a subtask of a run.

A mixin for RunScreen (kept apart so the screen stays small): each action
acts on the selected subtask (the board's selected card while the board has
focus, else the plan pane's selection: `_selected`), asks what it needs in a
form, a confirmation or an editor, and hands a `PlanChange` to the app, which
applies it through the application layer (the graph this window runs, the
process that drives the run, or the file) and shows the outcome in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podium.app.live_plan import PlanAction, PlanChange
from podium.domain import ExecutionStatus, SubtaskStatus
from podium.tui.screens.modals import Confirm
from podium.tui.screens.plan_change import OutputEditor, PlanChangeForm
from podium.tui.screens.proposal import ProposalDecision
from podium.tui.widgets.board import Board
from podium.tui.widgets.plan import PlanGraph

if TYPE_CHECKING:
    from podium.runview import RunState
    from podium.tui.app import PodiumApp

TASK_WORDS = {"task_add": "add a subtask", "task_edit": "edit a subtask", "task_retry": "retry a subtask",
              "task_skip": "skip a subtask", "task_cancel": "cancel a subtask",
              "task_output": "replace a subtask's output", "task_proposals": "decide a proposal"}
NOT_STARTED = (SubtaskStatus.PENDING, SubtaskStatus.BLOCKED, SubtaskStatus.FAILED)
SETTLED = (SubtaskStatus.DONE, SubtaskStatus.SKIPPED, SubtaskStatus.CANCELLED)
# What each key on a subtask needs, said when it is pressed on one it cannot act on.
NEEDS = {"task_edit": "only a subtask that has not started (or failed) can be edited",
         "task_retry": "only a failed or blocked subtask can be retried",
         "task_skip": "only a subtask that has not started can be skipped",
         "task_cancel": "it has already settled",
         "task_output": "only a finished (done) subtask's output can be replaced"}


class PlanChangeActions:
    """Needs from the screen: run_id, state, podium, app, notify, query_one, _may_change."""

    run_id: str
    state: RunState

    if TYPE_CHECKING:
        @property
        def podium(self) -> PodiumApp: ...

    # ------------------------------------------------------------ when each key applies

    def _task_applies(self, action: str) -> bool:
        s = self.state
        if s.awaiting_approval:  # editing the proposed plan: add, edit or delete a subtask
            chosen = s.subtasks.get(self._selected() or "")
            return action == "task_add" or (action in ("task_edit", "task_cancel") and chosen is not None)
        if action == "task_proposals":  # an agent's proposed subtask, the leader's replan
            return bool(s.proposals)
        if not s.subtasks or s.status in (ExecutionStatus.COMPLETED, ExecutionStatus.REVIEW):
            return False
        chosen = s.subtasks.get(self._selected() or "")
        st = chosen.status if chosen is not None else None
        return {
            "task_add": True,
            "task_edit": st in NOT_STARTED,
            "task_retry": st in (SubtaskStatus.FAILED, SubtaskStatus.BLOCKED),
            "task_skip": st in NOT_STARTED,
            "task_cancel": st is not None and st not in SETTLED,
            "task_output": st is SubtaskStatus.DONE,
        }.get(action, False)

    def task_refusal(self, action: str) -> str | None:
        """Why a key on the selected subtask cannot act now (None: it can, or it is not such a key);
        the screen says it when the key is pressed, instead of doing nothing."""
        if action not in NEEDS or self._task_applies(action):
            return None
        s = self.state
        sid = self._selected()
        chosen = s.subtasks.get(sid or "")
        if chosen is None:
            return "Select a subtask in the plan pane (or a card on the board) first."
        if s.awaiting_approval:
            return "The plan awaits approval: + m c edit it; approve it (a) to act on its subtasks."
        if s.status in (ExecutionStatus.COMPLETED, ExecutionStatus.REVIEW) or s.status.finished:
            return f"The run is {s.status.value.replace('_', ' ')}: its subtasks can no longer change."
        return f"{sid} is {chosen.status.value.replace('_', ' ')}: {NEEDS[action]}."

    def _selected(self) -> str | None:
        """The subtask the keys act on: the board's selected card while the board has focus, else
        the plan pane's selection (one answer for the footer, the keys and their forms)."""
        board: Board = self.query_one(Board)  # type: ignore[attr-defined]
        if board.has_focus:
            return board.selected
        return self.query_one(PlanGraph).selected  # type: ignore[attr-defined, no-any-return]

    def _ready(self, action: str) -> str | None:
        """The selected subtask, if the action may go ahead (else say why and None)."""
        if not self._may_change(TASK_WORDS[action]):  # type: ignore[attr-defined]
            return None
        sid = self._selected()
        if action != "task_add" and (sid is None or sid not in self.state.subtasks):
            self.notify("Select a subtask in the plan pane (or a card on the board) first.",  # type: ignore[attr-defined]
                        severity="warning")
            return None
        return sid or ""

    def _send(self, change: dict[str, Any]) -> None:
        try:
            typed = PlanChange.model_validate(change)
        except ValueError as exc:
            self.notify(f"invalid change: {exc}", severity="error")  # type: ignore[attr-defined]
            return
        self.podium.change_plan(self.run_id, typed)

    # ------------------------------------------------------------ the keys

    def action_task_add(self) -> None:
        sid = self._ready("task_add")
        if sid is None:
            return
        agents = ", ".join(a for a in self.state.agents if a != self.state.leader)
        values = {"after": sid} if sid else {}
        if self.state.awaiting_approval:
            self._edit_proposed("add", None, values, f"Add a subtask to the proposed plan. Agents: {agents}.")
            return

        def done(form: dict[str, Any] | None) -> None:
            if form:
                self._send({"action": PlanAction.ADD, **{k: v for k, v in form.items() if k != "note"}})

        self.podium.push_screen(PlanChangeForm("Add a subtask", ["description", "agent", "after"],
                                               context=f"Agents: {agents}. It starts once what it comes "
                                               "after is done.", values=values, send_label="Add"), done)

    def action_task_edit(self) -> None:
        sid = self._ready("task_edit")
        if not sid:
            return
        current = self.state.subtasks[sid]
        values = {"description": current.description, "agent": current.agent,
                  "after": " ".join(current.depends_on)}
        if self.state.awaiting_approval:
            values["criteria"] = "; ".join(current.acceptance_criteria)
            self._edit_proposed("edit", sid, values,
                                "Saved as the next plan version, still awaiting approval.")
            return

        def done(form: dict[str, Any] | None) -> None:
            if form is None:
                return
            change: dict[str, Any] = {"action": PlanAction.EDIT, "subtask_id": sid}
            for name in ("description", "agent"):
                if form.get(name) and form[name] != values[name]:
                    change[name] = form[name]
            after = form.get("after", [])  # emptied: it waits on nothing
            if after != list(current.depends_on):
                change["after"] = after
            self._send(change)

        self.podium.push_screen(PlanChangeForm(f"Edit {sid}", ["description", "agent", "after"],
                                               values=values, send_label="Save"), done)

    def action_task_retry(self) -> None:
        sid = self._ready("task_retry")
        if not sid:
            return
        current = self.state.subtasks[sid]

        def done(form: dict[str, Any] | None) -> None:
            if form is not None:
                agent = form.get("agent")
                self._send({"action": PlanAction.RETRY, "subtask_id": sid, "note": form.get("note"),
                            "agent": agent if agent and agent != current.agent else None})

        why = self.state.notes.get(sid) or current.error or ""
        self.podium.push_screen(PlanChangeForm(
            f"Retry {sid}", ["note", "agent"], values={"agent": current.agent},
            context=f"It {current.status.value}: {why}" if why else "", send_label="Retry"), done)

    def action_task_output(self) -> None:
        """Replace a finished subtask's output (an editor over the current one); once saved, what
        depends on it runs again with the new text."""
        sid = self._ready("task_output")
        if not sid:
            return
        current = self.state.subtasks[sid]
        if current.status is not SubtaskStatus.DONE:
            self.notify(f"{sid} is {current.status.value}: {NEEDS['task_output']}.",  # type: ignore[attr-defined]
                        severity="warning")
            return
        after = downstream(self.state, sid)
        context = (f"Saved as its output; what depends on it ({', '.join(after)}) gets the new text "
                   "(one that has finished or is running runs again)." if after
                   else "Saved as its output; nothing depends on it.")

        def done(text: str | None) -> None:
            if text is not None:
                self._send({"action": PlanAction.OUTPUT, "subtask_id": sid, "output": text})

        self.podium.push_screen(OutputEditor(f"The output of {sid} ({current.agent})", current.output or "",
                                             context=context), done)

    def action_task_proposals(self) -> None:
        """The oldest proposal waiting for a person: accept it or decline it (with a reason)."""
        if not self._may_change(TASK_WORDS["task_proposals"]):  # type: ignore[attr-defined]
            return
        waiting = sorted(self.state.proposals.values(), key=lambda p: p.number)
        if not waiting:
            self.notify("No proposal waits for you.")  # type: ignore[attr-defined]
            return
        proposal = waiting[0]

        def done(decision: tuple[bool, str] | None) -> None:
            if decision is not None:
                accept, reason = decision
                self.podium.decide_proposal(self.run_id, proposal.number, accept, reason or None)

        self.podium.push_screen(ProposalDecision(proposal, len(waiting)), done)

    def action_task_skip(self) -> None:
        self._remove("task_skip", PlanAction.SKIP, "proceed",
                     "Its dependents run without its output (they are told it was skipped).")

    def action_task_cancel(self) -> None:
        if self.state.awaiting_approval:  # before approval, "cancel" deletes it from the proposed plan
            sid = self._ready("task_cancel")
            if sid:
                def done(yes: bool | None) -> None:
                    if yes:
                        self.podium.edit_proposed_plan(self.run_id, "delete", sid, {})

                self.podium.push_screen(
                    Confirm(f"Delete {sid} from the plan?", "Saved as the next plan version, still awaiting "
                            "approval (refused if another subtask depends on it).", "Delete"), done)
            return
        self._remove("task_cancel", PlanAction.CANCEL, "block",
                     "It stops if it is running; its dependents are blocked until you retry or edit them.")

    def _edit_proposed(self, action: str, sid: str | None, values: dict[str, str], context: str) -> None:
        """Before approval: a form over the proposed plan's subtask; saved as the next plan version
        (checked like a leader's plan by the use case; problems come back as a notification)."""
        def done(form: dict[str, Any] | None) -> None:
            if form is None:
                return
            fields = dict(form)
            if action == "edit":  # an emptied list means none; an emptied text keeps what was there
                fields.setdefault("after", [])
                fields.setdefault("criteria", [])
            self.podium.edit_proposed_plan(self.run_id, action, sid, fields)

        title = f"Edit {sid}" if sid else "Add a subtask"
        self.podium.push_screen(PlanChangeForm(title, ["description", "agent", "after", "criteria"],
                                               context=context, values=values,
                                               send_label="Save" if sid else "Add"), done)

    def _remove(self, action: str, kind: PlanAction, dependents: str, detail: str) -> None:
        sid = self._ready(action)
        if not sid:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._send({"action": kind, "subtask_id": sid, "dependents": dependents})

        self.podium.push_screen(Confirm(f"{kind.value.capitalize()} {sid}?", detail, kind.value.capitalize()),
                                done)


def downstream(state: RunState, sid: str) -> list[str]:
    """Every subtask that depends on `sid`, directly or through others, in plan order."""
    found: set[str] = set()
    frontier = {sid}
    while frontier:
        frontier = {t.id for t in state.subtasks.values()
                    if t.id not in found and frontier & set(t.depends_on)}
        found |= frontier
    return [t for t in state.subtasks if t in found]
