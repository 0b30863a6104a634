"""How a run goes: the settings a new run records, and those a resumed run goes on with.

A run records its settings (never a key): the model per agent, the endpoint
(unless it carries credentials), concurrency, reply cap, review mode, --yes
and --allow-tools. A resume goes on with them, with the flags given then in
place, and records the result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from podium.domain import Budget, Execution, FailurePolicy, ProposalPolicy, RunSettings, url_has_secret
from podium.errors import PodiumError


def explicit_model(flag: str | None) -> str | None:
    """A model that overrides every agent's own: the flag, else $PODIUM_MODEL."""
    from podium.llm.config import MODEL_ENV

    return flag or os.environ.get(MODEL_ENV) or None


def tool_patterns(items: list[str] | None) -> list[str]:
    """`--allow-tools` values: repeatable and comma-separated."""
    return [t.strip() for item in items or [] for t in item.split(",") if t.strip()]


def recordable_endpoint(url: str | None) -> tuple[str | None, bool]:
    """(what may be recorded of an endpoint, whether it was withheld for carrying credentials)."""
    if url is not None and url_has_secret(url):
        return None, True
    return url, False


def start_settings(path: Path, *, model: str | None, api_base: str | None, concurrency: int,
                   max_tokens: int | None, review: bool, yes: bool, allow_tools: list[str] | None,
                   review_rounds: int | None = None, living: LivingPlanOptions | None = None
                   ) -> tuple[RunSettings, str | None]:
    """The settings a new run records (models are resolved once the gateway exists), and the
    endpoint to call (the same as recorded unless it carries credentials)."""
    from podium.llm.config import resolve_api_base, resolve_model

    endpoint = resolve_api_base(api_base, path)
    recorded, withheld = recordable_endpoint(endpoint)
    settings = RunSettings(model=explicit_model(model), default_model=resolve_model(project=path).model,
                           api_base=recorded, api_base_withheld=withheld, concurrency=concurrency,
                           max_tokens=max_tokens, review="human" if review else "auto", approve_plans=yes,
                           allow_tools=tool_patterns(allow_tools))
    if review_rounds is not None:
        settings = settings.model_copy(update={"review_rounds": review_rounds})
    if living is not None:
        settings, _ = settings.override(**living.model_dump())
    return settings, endpoint


def resumed_settings(execution: Execution, path: Path, *, model: str | None = None,
                     api_base: str | None = None, concurrency: int | None = None,
                     max_tokens: int | None = None, review: bool | None = None, yes: bool | None = None,
                     allow_tools: list[str] | None = None, review_rounds: int | None = None,
                     living: LivingPlanOptions | None = None) -> tuple[RunSettings, str | None, list[str]]:
    """How a run goes on: as recorded when it started (or last resumed), with the flags given now
    in place. A run from before settings were recorded gets today's defaults. Returns the
    settings, the endpoint to call and the names of the settings the flags changed."""
    from podium.llm.config import resolve_api_base, resolve_model

    base = execution.settings
    endpoint: str | None = None
    if base is None:
        endpoint = resolve_api_base(None, path)
        recorded, withheld = recordable_endpoint(endpoint)
        base = RunSettings(model=execution.model, default_model=resolve_model(project=path).model,
                           api_base=recorded, api_base_withheld=withheld)
    flags: dict[str, Any] = {
        "model": model, "concurrency": concurrency, "max_tokens": max_tokens,
        "review": None if review is None else ("human" if review else "auto"), "approve_plans": yes,
        "review_rounds": review_rounds, **(living.model_dump() if living else {}),
        "allow_tools": None if allow_tools is None else
        [p for p in tool_patterns(allow_tools) if p.lower() != "none"]}
    moved = False
    if api_base is not None:
        endpoint = api_base
        recorded, withheld = recordable_endpoint(api_base)
        moved = (recorded, withheld) != (base.api_base, base.api_base_withheld)
        base = base.model_copy(update={"api_base": recorded, "api_base_withheld": withheld})
    elif base.api_base_withheld and endpoint is None:
        raise PodiumError(f"run {execution.id} was started with an --api-base that carries credentials, "
                          "which are never recorded: give it again with --api-base")
    settings, changed = base.override(**flags)
    if moved:
        changed = ["api_base", *changed]
    return settings, endpoint or settings.api_base, changed


def accept_gateway_settings(execution: Execution, path: Path) -> tuple[str, str | None]:
    """The model and endpoint for the lessons written when a result is accepted: the run's own as
    recorded, else (its endpoint carried credentials, never recorded) today's configuration."""
    from podium.llm.config import resolve_api_base, resolve_model

    try:
        settings, endpoint, _ = resumed_settings(execution, path)
        return settings.model or settings.default_model, endpoint
    except PodiumError:
        return resolve_model(project=path).model, resolve_api_base(None, path)


def merged_budget(base: Budget | None = None, *, tokens: int | None = None, usd: float | None = None,
                  steps: int | None = None, seconds: float | None = None) -> Budget:
    """`base` with the limits given in place."""
    current = base or Budget()
    return Budget(
        tokens=tokens if tokens is not None else current.tokens,
        usd=usd if usd is not None else current.usd,
        steps=steps if steps is not None else current.steps,
        wall_seconds=seconds if seconds is not None else current.wall_seconds,
    )


class LivingPlanOptions(BaseModel):
    """The living plan's run settings as given on a command line (None: default, or as recorded)."""

    proposals: ProposalPolicy | None = None
    max_proposals: int | None = Field(default=None, ge=0, le=100)
    on_failure: FailurePolicy | None = None
    max_replans: int | None = Field(default=None, ge=0, le=20)

    @classmethod
    def given(cls, proposals: str | None, max_proposals: int | None, on_failure: str | None,
              max_replans: int | None) -> LivingPlanOptions:
        """From flags; a bad value is one line (PodiumError)."""
        if proposals is not None and proposals not in ("leader", "human", "auto"):
            raise PodiumError(f"--proposals is leader, human or auto, not {proposals!r}")
        if on_failure is not None and on_failure not in ("ask", "replan"):
            raise PodiumError(f"--on-failure is ask or replan, not {on_failure!r}")
        return cls(proposals=proposals, max_proposals=max_proposals, on_failure=on_failure,  # type: ignore[arg-type]
                   max_replans=max_replans)


class ResumeOptions(BaseModel):
    """What `podium resume` was given: settings from now on (None: as recorded) and budget limits."""

    model: str | None = None
    api_base: str | None = None
    concurrency: int | None = None
    max_tokens: int | None = None
    review: bool | None = None
    review_rounds: int | None = None
    approve_plans: bool | None = None
    allow_tools: list[str] | None = None
    living: LivingPlanOptions | None = None
    budget_tokens: int | None = None
    budget_usd: float | None = None
    budget_steps: int | None = None
    budget_seconds: float | None = None

    @property
    def changes_budget(self) -> bool:
        return any(v is not None for v in (self.budget_tokens, self.budget_usd, self.budget_steps,
                                           self.budget_seconds))
