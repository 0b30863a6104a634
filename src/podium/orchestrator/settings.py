"""Engine settings: knobs with defaults that suit both the local model and hosted ones."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from podium.domain import RunSettings


class EngineSettings(BaseModel):
    concurrency: int = Field(default=4, ge=1, le=64)
    # Recent run messages shown to an agent besides its own transcript.
    window_messages: int = Field(default=20, ge=0)
    # Model turns per subtask before it must produce its output.
    max_steps_per_subtask: int = Field(default=6, ge=1)
    discussion: bool = True
    perspective_max_tokens: int = 200
    plan_max_tokens: int = 1200
    turn_max_tokens: int = 1024
    synthesis_max_tokens: int = 1200
    # Characters of each dependency output / window message put in a prompt.
    handoff_chars: int = 2000
    window_chars: int = 400
    max_plan_subtasks: int = Field(default=12, ge=1, le=200)
    memory_k: int = 3
    # Peer consultation: per subtask, how deep a peer may consult in turn, the peer's turns.
    max_consultations_per_subtask: int = Field(default=3, ge=0)
    max_consultation_depth: int = Field(default=2, ge=1)
    consultation_turns: int = Field(default=2, ge=1)
    consultation_max_tokens: int = 512
    # After synthesis: "off" (the result is final), "auto" (the leader reviews it against the
    # acceptance criteria and it is accepted), "human" (reviewed, then it waits in status
    # `review` for a person to accept it or send it back).
    review: Literal["off", "auto", "human"] = "off"
    # review="auto": a failing verdict sends the failing subtasks (or only the synthesis) back for
    # rework at most this many times; still failing after that, the run ends partial.
    review_rounds: int = Field(default=2, ge=0, le=10)
    review_max_tokens: int = 600
    # The leader's end-of-run lessons (one structured call; best effort).
    lessons: bool = True
    lessons_max_tokens: int = 600
    # When nothing else can run because a subtask failed (its dependents wait on it): "finish"
    # (the run ends partial, listing what waits; change the plan, then `podium resume`) or
    # "wait" for a person to retry, reassign, skip or edit it (the TUI, which someone watches).
    when_stuck: Literal["finish", "wait"] = "finish"
    # The living plan (recorded per run, see RunSettings): who decides an agent's proposed
    # subtask and how many it may make; whether the leader replans when work fails or nothing can
    # run (at most max_replans times); approve_plans (--yes): a replan is applied without asking.
    proposals: Literal["leader", "human", "auto"] = "leader"
    max_proposals: int = Field(default=5, ge=0, le=100)
    on_failure: Literal["ask", "replan"] = "ask"
    max_replans: int = Field(default=2, ge=0, le=20)
    approve_plans: bool = False
    replan_max_tokens: int = 1200
    proposal_max_tokens: int = 300
    # How often a running engine looks for control rows written by other processes.
    watch_interval_s: float = Field(default=0.05, gt=0, le=0.25)

    def for_run(self, run: RunSettings) -> EngineSettings:
        """These settings with a run's recorded concurrency, review mode and reply cap applied."""
        update: dict[str, object] = {"concurrency": run.concurrency, "review": run.review,
                                     "review_rounds": run.review_rounds, "proposals": run.proposals,
                                     "max_proposals": run.max_proposals, "on_failure": run.on_failure,
                                     "max_replans": run.max_replans, "approve_plans": run.approve_plans}
        if run.max_tokens is not None:
            cap = run.max_tokens
            update.update(perspective_max_tokens=min(cap, self.perspective_max_tokens),
                          plan_max_tokens=max(cap, 256), turn_max_tokens=cap, synthesis_max_tokens=cap)
        return self.model_copy(update=update)
