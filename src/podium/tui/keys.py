"""Key bindings with ids, and the user's keymap that remaps them.

Every binding has an id (`podium.guide`, ...). A user remaps keys in
`<config dir>/keymap.toml`:

    [keys]
    "podium.guide" = "G"
    "podium.halt" = "ctrl+x"

A broken keymap file is reported once and ignored.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.binding import Binding

from podium.config import user_config_dir


def bind(key: str, action: str, description: str, id: str, *, show: bool = True, tooltip: str = "",
         priority: bool = False) -> Binding:
    return Binding(key, action, description, show=show, id=f"podium.{id}", tooltip=tooltip or description,
                   priority=priority)


# `?` lists every key; the footer those that fit (FOOTER_RANKS), never the `show=False` ones.
# A key that types into a text field (q, ?, t, ...) is left out of the footer while one has
# focus; the `-anywhere` keys work and show there too. Of two keys for one action the footer
# shows the first that works now, so the plain key comes first.
APP_BINDINGS = [
    bind("q", "quit_podium", "quit", "quit", tooltip="Quit; a running execution keeps its state"),
    bind("ctrl+q", "quit_podium", "quit", "quit-anywhere", priority=True,
         tooltip="Quit, also while typing in a field"),
    bind("question_mark", "help", "keys", "keys", tooltip="Show every key"),
    bind("f1", "help", "keys", "keys-anywhere", tooltip="Show every key, also while typing in a field"),
    bind("t", "next_theme", "theme", "theme", tooltip="Switch to the next theme"),
    bind("e", "export", "export", "export", tooltip="Export the project as a single-file archive"),
    bind("n", "new_run", "new run", "new", tooltip="Start a new run"),
    bind("b", "open_board", "board", "board", tooltip="The project board: cards by column, the heartbeat"),
]

# Keys that act on an empty objective field instead of typing into it (their remaps too).
EMPTY_FIELD_IDS = ("podium.quit", "podium.keys")

HOME_BINDINGS = [
    bind("f", "focus_objective", "objective", "objective", tooltip="Type a new objective"),
]

OBJECTIVE_BINDINGS = [
    bind("escape", "leave_field", "leave field", "leave-field",
         tooltip="Leave the objective field for the runs table"),
]

# Actions that change a run: never offered in a replay (an archive is read-only; a replayed
# run has finished), and on a live run only while they can act (RunScreen.check_action).
CHANGING_ACTIONS = frozenset({"approve", "reject", "guide", "pause", "halt", "answer", "review",
                              "tool_approval", "task_add", "task_edit", "task_retry", "task_skip",
                              "task_cancel", "task_output", "task_proposals"})

RUN_BINDINGS = [
    bind("a", "approve", "approve", "approve", tooltip="Approve the proposed plan"),
    bind("r", "reject", "reject", "reject", tooltip="Reject the plan with feedback"),
    bind("g", "guide", "guide", "guide", tooltip="Inject guidance into the running agents"),
    bind("p", "pause", "pause", "pause", tooltip="Pause or resume the run"),
    bind("x", "halt", "halt", "halt", tooltip="Halt the run (state is kept; resumable)"),
    bind("h", "answer", "help-answer", "help-answer", tooltip="Answer the selected agent's help request"),
    bind("v", "review", "review", "review", tooltip="Review the result: accept or rework"),
    bind("y", "tool_approval", "tool ok?", "tool-approval", tooltip="Allow or deny a tool call that waits"),
    # The living plan: changes to the running graph, on the selected subtask (the board's selected
    # card while the board has focus, else the plan pane's). Each shows while it applies.
    bind("plus", "task_add", "add task", "task-add",
         tooltip="Add a subtask to the running plan (or to the plan awaiting approval)"),
    bind("m", "task_edit", "edit task", "task-edit", tooltip="Edit or reassign the selected subtask "
         "(not started, or failed; before approval also its acceptance criteria)"),
    bind("R", "task_retry", "retry", "task-retry", tooltip="Retry the selected failed subtask"),
    bind("s", "task_skip", "skip", "task-skip", tooltip="Skip the selected subtask (dependents proceed)"),
    bind("c", "task_cancel", "cancel task", "task-cancel", tooltip="Cancel the selected subtask (dependents "
         "are blocked); before approval: delete it from the proposed plan"),
    bind("o", "task_output", "edit output", "task-output", tooltip="Replace the selected finished "
         "subtask's output (an editor); what depends on it runs again"),
    bind("P", "task_proposals", "proposals", "task-proposals", tooltip="Accept or decline what waits: "
         "a subtask an agent proposed, or the leader's replan"),
    bind("i", "open_image", "image", "open-image",
         tooltip="Open the image the selected subtask made (else the run's latest) in the system's viewer"),
    bind("d", "workspace_diff", "diff", "workspace-diff",
         tooltip="What the run changed in your folder (a run started with --workspace): the diff"),
    bind("F", "fork_run", "fork", "fork", tooltip="Fork the run from the selected subtask: an editor on "
         "its output (change it, or leave it to run the subtask again); the rest is reused, no model call"),
    bind("escape", "home", "home", "home", tooltip="Back to the runs"),
    bind("1", "pane('plan')", "plan pane", "pane-plan", show=False,
         tooltip="Show the plan (at 80x24 the panes are tabs)"),
    bind("2", "pane('transcripts')", "transcripts", "pane-transcripts", show=False,
         tooltip="Show the transcripts"),
    bind("3", "pane('board')", "board pane", "pane-board", show=False, tooltip="Show the run's board"),
]

REPLAY_BINDINGS = [
    # Priority: in replay the arrows drive the timeline even when the graph has focus.
    bind("left", "step(-1)", "back", "step-back", priority=True),
    bind("right", "step(1)", "forward", "step-forward", priority=True),
    bind("pageup", "step(-10)", "back 10", "step-back-10", show=False, tooltip="Ten events back"),
    bind("pagedown", "step(10)", "forward 10", "step-forward-10", show=False, tooltip="Ten events on"),
    bind("home", "step_to(0)", "start", "step-start", show=False, tooltip="The run's first event"),
    bind("end", "step_to(-1)", "end", "step-end", show=False, tooltip="The run's last event"),
]


# The project board (screens/board.py). The change keys are refused on a read-only archive.
BOARD_CHANGING_ACTIONS = frozenset({"card_add", "card_edit", "card_move", "card_priority", "card_archive",
                                    "heartbeat"})

BOARD_BINDINGS = [
    # Priority: the column's list would take Enter (and hide it from the footer); it means the same.
    bind("enter", "card_detail", "detail", "card-detail", tooltip="The selected card's detail and runs",
         priority=True),
    bind("a", "card_add", "add", "card-add", tooltip="Add a card (a form: title, criteria, priority...)"),
    bind("c", "card_edit", "edit", "card-edit", tooltip="Edit the selected card"),
    bind("m", "card_move", "move", "card-move", tooltip="Move the selected card to another column"),
    bind("plus", "card_priority(-1)", "raise", "card-raise", tooltip="Raise the selected card's priority"),
    bind("minus", "card_priority(1)", "lower", "card-lower", tooltip="Lower the selected card's priority"),
    bind("x", "card_archive", "archive", "card-archive", tooltip="Archive the selected card"),
    bind("o", "card_run", "open run", "card-run", tooltip="Open the selected card's latest run"),
    bind("w", "heartbeat", "work on/off", "heartbeat", tooltip="Start/stop the heartbeat: it works To do"),
    bind("escape", "back", "back", "board-back", tooltip="Back to the previous screen"),
    bind("left", "column(-1)", "column left", "board-left", show=False, tooltip="The column to the left"),
    bind("right", "column(1)", "column right", "board-right", show=False, tooltip="The column to the right"),
]


# The footer shows the keys that fit the terminal's width (widgets/footer.py); `?` lists every key.
# Always shown: the keys list and quit, a newcomer's way in and out.
FOOTER_PINNED = ("podium.keys", "podium.keys-anywhere", "podium.quit", "podium.quit-anywhere")
# The others by rank: what waits on the person, then what steers the run or the board, the way
# back, the changes to the plan or a card, the other screens, the rest.
FOOTER_RANKS: tuple[tuple[str, ...], ...] = (
    ("approve", "reject", "help-answer", "review", "tool-approval", "task-proposals", "leave-field"),
    ("guide", "pause", "halt", "step-back", "step-forward", "objective", "card-detail", "card-add",
     "heartbeat"),
    ("home", "board-back"),
    ("task-add", "task-edit", "task-retry", "task-skip", "task-cancel", "task-output", "fork",
     "open-image", "workspace-diff", "card-edit", "card-move", "card-run"),
    ("new", "board", "card-raise", "card-lower", "card-archive"),
    ("theme", "export"),
)
_RANK = {f"podium.{name}": rank for rank, names in enumerate(FOOTER_RANKS) for name in names}
_UNRANKED = 3  # a key not listed: with the changes


def footer_rank(binding_id: str | None) -> int:
    return _RANK.get(binding_id or "", _UNRANKED)


def keymap_path() -> Path:
    return user_config_dir() / "keymap.toml"


def load_keymap(path: Path | None = None) -> tuple[dict[str, str], str | None]:
    """(binding id -> keys, problem or None). A missing file is no problem."""
    path = path or keymap_path()
    if not path.exists():
        return {}, None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, f"keymap {path} ignored: {exc}"
    keys = data.get("keys", data)
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        return {}, f"keymap {path} ignored: expected [keys] with \"binding.id\" = \"key\" lines"
    every = (APP_BINDINGS + HOME_BINDINGS + OBJECTIVE_BINDINGS + RUN_BINDINGS + REPLAY_BINDINGS
             + BOARD_BINDINGS)
    known = {b.id for b in every if b.id}
    unknown = sorted(k for k in keys if k not in known)
    if unknown:
        return {k: v for k, v in keys.items() if k in known}, (
            f"keymap {path}: unknown binding ids {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return dict(keys), None
