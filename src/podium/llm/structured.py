"""Structured output helpers: schemas for providers, JSON extraction, repair prompts.

No litellm here; the gateway decides which provider gets which form.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


def json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema without pydantic's generated titles.

    Titles ("PlanStep", "Description") carry no meaning a model needs, and small
    models copy them into their answers; descriptions and constraints stay.
    """
    return _drop_titles(schema.model_json_schema())


def _drop_titles(node: Any) -> Any:
    if isinstance(node, dict):
        # a string "title" is the keyword; a property *named* title maps to a dict and stays
        return {k: _drop_titles(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(node, list):
        return [_drop_titles(v) for v in node]
    return node


def schema_instructions(schema: dict[str, Any]) -> str:
    """A compact system note so every model (constrained or not) knows the fields' meaning."""
    return "Reply with one JSON object only, no prose, matching this JSON schema:\n" + json.dumps(
        schema, separators=(",", ":")
    )


def extract_json(text: str) -> Any:
    """The first JSON value in a reply: the whole text, a fenced block, or the first balanced {...}.

    Raises ValueError with a short reason when there is none.
    """
    stripped = text.strip()
    candidates = [stripped]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    # strict=False: a raw newline or tab inside a string is unambiguous, and grammar-constrained
    # small models (llama.cpp's JSON grammar allows them) emit them
    decoder = json.JSONDecoder(strict=False)
    for candidate in candidates:
        try:
            return decoder.decode(candidate)
        except ValueError:
            pass
    for start in (i for i, ch in enumerate(text) if ch in "{["):
        try:
            value, _ = decoder.raw_decode(text, start)
            return value
        except ValueError:
            continue
    raise ValueError("the reply contains no JSON object")


def validate(text: str, schema: type[BaseModel]) -> tuple[BaseModel | None, list[str]]:
    """Parse and validate a reply; return (instance, []) or (None, human-readable errors)."""
    try:
        data = extract_json(text)
    except ValueError as exc:
        return None, [str(exc)]
    try:
        return schema.model_validate(data), []
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "(root)"
            errors.append(f"{where}: {err['msg']}")
        return None, errors


def repair_messages(raw: str, errors: list[str]) -> list[dict[str, Any]]:
    """The repair round: show the model its reply and what was wrong with it."""
    listed = "\n".join(f"- {e}" for e in errors[:12])
    return [
        {"role": "assistant", "content": raw[:4000]},
        {
            "role": "user",
            "content": "Your reply was not valid:\n"
            + listed
            + "\nReply again with only the corrected JSON object.",
        },
    ]


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {})
        return _resolve(target, root)
    return node


def example_instance(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A minimal value that satisfies a JSON schema's basic constraints.

    The scripted model answers structured calls with this when no rule matches,
    so a script need not spell out every structured reply.
    """
    root = root or schema
    node = _resolve(schema, root)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    if "default" in node:
        return node["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if node.get(key):
            options = [o for o in node[key] if _resolve(o, root).get("type") != "null"] or node[key]
            return example_instance(options[0], root)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        required = node.get("required", list(props))
        return {name: example_instance(props[name], root) for name in required if name in props}
    if kind == "array":
        count = int(node.get("minItems", 0))
        return [example_instance(node.get("items", {}), root) for _ in range(count)]
    if kind == "string":
        text = "scripted"
        text = text.ljust(int(node.get("minLength", 0)), "x")
        return text[: int(node["maxLength"])] if "maxLength" in node else text
    if kind in ("integer", "number"):
        low = node.get("minimum", node.get("exclusiveMinimum", 0))
        value = low + 1 if "exclusiveMinimum" in node else low
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        # Yes: a script that leaves a yes/no out (a review's "ok") gets a passing answer, so only
        # the scripts that mean a failing verdict spell one out.
        return True
    return None
