"""The scripted model: deterministic replies, latency and faults from a TOML/JSON file.

This module is pure Python: it decides *what* to answer. The provider in
scripted_provider.py turns the decision into a reply, a stream or the fault
a server would give, so the gateway's retries, usage, cost and streaming
are exercised as for any model.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from podium.llm.structured import example_instance
from podium.llm.types import ModelConfigError

FaultKind = Literal["rate_limit", "server_error", "timeout", "malformed_json", "disconnect"]
FAULT_KINDS: tuple[str, ...] = ("rate_limit", "server_error", "timeout", "malformed_json", "disconnect")

_PLACEHOLDER = re.compile(r"\{(agent|subtask|phase|execution|call|last_user|max_tokens)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ScriptFaults(_Strict):
    rate: float = Field(default=0.0, ge=0.0, le=1.0)
    kinds: list[FaultKind] = Field(default_factory=lambda: list[FaultKind](["rate_limit", "server_error"]))


class ScriptToolCall(_Strict):
    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


class ScriptRule(_Strict):
    # conditions (all given ones must hold); a list means "any of these"
    phase: str | list[str] | None = None
    agent: str | list[str] | None = None
    subtask: str | list[str] | None = None
    match: str | None = None  # regex searched (case-insensitive) in the last user message
    match_system: str | None = None  # regex searched (case-insensitive) in the system message
    structured: bool | None = None  # only structured calls (True) or only plain ones (False)
    # what to answer
    reply: str | None = None
    json_value: Any = Field(default=None, alias="json")
    tool_calls: list[ScriptToolCall] | None = None
    fault: FaultKind | None = None
    # how
    times: int | None = Field(default=None, ge=1)
    latency_ms: float | None = Field(default=None, ge=0)

    @field_validator("match", "match_system")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regex {value!r}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _answers_something(self) -> ScriptRule:
        if self.reply is None and self.json_value is None and not self.tool_calls and self.fault is None:
            raise ValueError("a rule needs reply, json, tool_calls or fault")
        return self


class Script(_Strict):
    seed: int = 0
    latency_ms: float = Field(default=0.0, ge=0)
    supports_tools: bool = False
    default_reply: str = "Scripted reply from {agent} ({phase})."
    embedding_dim: int = Field(default=64, ge=2, le=4096)
    input_cost_per_mtok: float = Field(default=0.0, ge=0)
    output_cost_per_mtok: float = Field(default=0.0, ge=0)
    faults: ScriptFaults = Field(default_factory=ScriptFaults)
    rules: list[ScriptRule] = Field(default_factory=list)


def load_script(path: str | Path) -> Script:
    """Parse a script file; any problem is one ModelConfigError line naming the file."""
    p = Path(path).expanduser()
    hint = "see 'Scripted model' in the README"
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelConfigError(f"cannot read model script {p}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ModelConfigError(f"model script {p} does not parse: {exc} ({hint})") from None
    try:
        return Script.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top)"
        raise ModelConfigError(f"model script {p} is invalid at {where}: {first['msg']} ({hint})") from None


def approx_tokens(text: str) -> int:
    """Deterministic token count for the scripted model (about 4 characters a token)."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


class ScriptedRequest(BaseModel):
    phase: str = "adhoc"
    agent: str | None = None
    subtask_id: str | None = None
    execution_id: str | None = None
    last_user: str = ""
    system: str = ""
    max_tokens: int | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    structured: bool = False
    tools: bool = False

    model_config = ConfigDict(populate_by_name=True)


class ScriptedReply(BaseModel):
    text: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    latency_s: float = 0.0
    fault: str | None = None


def _condition(cond: str | list[str] | None) -> frozenset[str] | None:
    """A rule's condition as a set: scripts with one rule per subtask stay fast to match."""
    if cond is None:
        return None
    return frozenset([cond] if isinstance(cond, str) else cond)


class ScriptRunner:
    """One loaded script with its state: rule use counts, the call counter and a seeded RNG."""

    def __init__(self, script: Script, path: Path | None = None) -> None:
        self.script = script
        self.path = path
        self.calls = 0
        self._uses = [0] * len(script.rules)
        self._rng = random.Random(script.seed)
        self._patterns = [re.compile(r.match, re.I | re.S) if r.match else None for r in script.rules]
        self._system_patterns = [re.compile(r.match_system, re.I | re.S) if r.match_system else None
                                 for r in script.rules]
        self._conditions = [(_condition(r.phase), _condition(r.agent), _condition(r.subtask))
                            for r in script.rules]

    def _pick(self, req: ScriptedRequest) -> ScriptRule | None:
        for i, rule in enumerate(self.script.rules):
            if rule.times is not None and self._uses[i] >= rule.times:
                continue
            phase, agent, subtask = self._conditions[i]
            if (
                (phase is not None and req.phase not in phase)
                or (agent is not None and req.agent not in agent)
                or (subtask is not None and req.subtask_id not in subtask)
            ):
                continue
            if rule.structured is not None and rule.structured != req.structured:
                continue
            pattern = self._patterns[i]
            if pattern is not None and not pattern.search(req.last_user):
                continue
            system = self._system_patterns[i]
            if system is not None and not system.search(req.system):
                continue
            self._uses[i] += 1
            return rule
        return None

    def _fill(self, text: str, req: ScriptedRequest) -> str:
        values = {
            "agent": req.agent or "assistant",
            "subtask": req.subtask_id or "",
            "phase": req.phase,
            "execution": req.execution_id or "",
            "call": str(self.calls),
            "last_user": req.last_user[:200],
            "max_tokens": "" if req.max_tokens is None else str(req.max_tokens),
        }
        # Only known placeholders are replaced, so JSON braces in replies survive.
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

    def _fill_json(self, value: Any, req: ScriptedRequest) -> Any:
        if isinstance(value, str):
            return self._fill(value, req)
        if isinstance(value, list):
            return [self._fill_json(v, req) for v in value]
        if isinstance(value, dict):
            return {k: self._fill_json(v, req) for k, v in value.items()}
        return value

    def answer(self, req: ScriptedRequest) -> ScriptedReply:
        self.calls += 1
        s = self.script
        rule = self._pick(req)
        latency = s.latency_ms if rule is None or rule.latency_ms is None else rule.latency_ms
        fault = rule.fault if rule is not None else None
        if fault is None and s.faults.rate > 0 and s.faults.kinds and self._rng.random() < s.faults.rate:
            fault = self._rng.choice(s.faults.kinds)

        tool_calls: list[dict[str, Any]] = []
        if rule is not None and rule.json_value is not None:
            text = json.dumps(self._fill_json(rule.json_value, req))
        elif rule is not None and rule.reply is not None:
            text = self._fill(rule.reply, req)
        elif req.structured and req.schema_ is not None and not (rule and rule.tool_calls):
            text = json.dumps(example_instance(req.schema_))
        elif rule is not None and rule.tool_calls:
            text = ""
        else:
            text = self._fill(s.default_reply, req)
        if rule is not None and rule.tool_calls:
            for n, call in enumerate(rule.tool_calls):
                tool_calls.append(
                    {
                        "id": call.id or f"call_{self.calls}_{n}",
                        "name": call.name,
                        "arguments": json.dumps(self._fill_json(call.arguments, req)),
                    }
                )
        if fault == "malformed_json":
            # A reply cut off mid-object: what a weak or truncated model produces.
            text = (
                text[: max(1, len(text) // 2)] if text.lstrip().startswith(("{", "[")) else '{"' + text[:20]
            )
            fault = None
            tool_calls = []
        return ScriptedReply(text=text, tool_calls=tool_calls, latency_s=latency / 1000.0, fault=fault)

    def embed(self, text: str) -> list[float]:
        """A deterministic unit vector from hashed words, so similar texts land near each other."""
        dim = self.script.embedding_dim
        vec = [0.0] * dim
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            idx = int.from_bytes(digest[:4], "little") % dim
            vec[idx] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]
