"""The run view the screens show: the shared reducer now lives in `podium.runview` (the CLI
folds with it too); re-exported here for the TUI's modules."""

from __future__ import annotations

from podium.runview import (
    RUN_SYMBOL,
    STATUS_SYMBOL,
    Contribution,
    PlanVersion,
    RunState,
    human_elapsed,
    human_tokens,
    run_status,
)

__all__ = [
    "RUN_SYMBOL", "STATUS_SYMBOL", "Contribution", "PlanVersion", "RunState", "human_elapsed",
    "human_tokens", "run_status",
]
