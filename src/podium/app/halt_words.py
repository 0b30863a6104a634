"""Halt words: a guidance message that asks the run to stop ("stop", "halt now", "abort!").

Guidance reaches agents as text; "stop" sent that way would only be read by a model, which may
or may not stop. So a message that is a stop request is recognised before it is sent, and the
front end asks the person instead (the TUI: "Halt the run?"; `podium guide`: how to halt).
Nothing halts without the person's confirmation.

The rule is deliberately narrow: the message must be nothing but a stop verb with words that
only say what to stop or how urgently ("please stop the run now"). "Don't stop", "stop using
the web" or "stop after t3" say something else, and go as guidance.
"""

from __future__ import annotations

import re

STOP_VERBS = frozenset({"stop", "halt", "abort", "cancel", "kill", "terminate", "quit"})

# Words that may surround a stop verb without changing what it asks: politeness, urgency, and
# what is to be stopped (the run, everyone, everything).
_FILLERS = frozenset({
    "please", "pls", "now", "right", "immediately", "asap", "at", "once", "just", "ok", "okay", "hey",
    "all", "everything", "everyone", "everybody", "the", "this", "that", "it", "run", "execution",
    "work", "working", "agents", "agent", "team", "whole", "here", "so", "and", "then", "podium",
    "emergency", "straight", "away", "a", "instantly",
})

_MAX_WORDS = 10


def is_stop_request(text: str) -> bool:
    """Whether a guidance message asks the run to stop (see the module docstring)."""
    words = re.findall(r"[a-z']+", text.lower().replace("’", "'"))
    if not words or len(words) > _MAX_WORDS:
        return False
    verbs = [w for w in words if w in STOP_VERBS]
    rest = [w for w in words if w not in STOP_VERBS and w not in _FILLERS]
    return bool(verbs) and not rest


def halt_hint(run_id: str, text: str) -> str:
    """What `podium guide` says instead of sending a stop request as guidance."""
    return (f"{text.strip()!r} reads as a request to stop the run, so it was not sent as guidance.\n"
            f"To halt the run: podium halt {run_id}   (everything done is kept; podium resume "
            f"{run_id} continues)\n"
            f"To send it to the agents as guidance anyway: add --as-guidance")
