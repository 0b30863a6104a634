"""JSON extraction and validation messages used by structured output."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from podium.llm.structured import example_instance, extract_json, json_schema, repair_messages, validate


class Verdict(BaseModel):
    verdict: Literal["accept", "rework"]
    reasons: list[str] = Field(max_length=3)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        'Sure! ```json\n{"a": 1}\n``` hope that helps',
        'The answer is {"a": 1} and more {"b": 2}',
        '  \n{"a": 1}\n',
    ],
)
def test_extract_json_finds_the_first_object(text):
    assert extract_json(text) == {"a": 1}


def test_extract_json_refuses_prose():
    with pytest.raises(ValueError, match="no JSON"):
        extract_json("I think we should accept it.")


def test_validate_reports_readable_errors():
    value, errors = validate('{"verdict": "maybe", "reasons": ["a","b","c","d"]}', Verdict)
    assert value is None
    assert any(e.startswith("verdict:") for e in errors) and any(e.startswith("reasons:") for e in errors)
    value, errors = validate('ok: {"verdict": "accept", "reasons": []}', Verdict)
    assert errors == [] and value == Verdict(verdict="accept", reasons=[])


def test_repair_round_shows_the_reply_and_the_errors():
    msgs = repair_messages('{"verdict": "maybe"}', ["verdict: Input should be 'accept' or 'rework'"])
    assert msgs[0] == {"role": "assistant", "content": '{"verdict": "maybe"}'}
    assert "Input should be" in msgs[1]["content"] and msgs[1]["role"] == "user"


def test_example_instance_satisfies_pydantic_schemas():
    class Step(BaseModel):
        id: str = Field(min_length=2, max_length=4)
        size: int = Field(ge=1)

    class Plan(BaseModel):
        steps: list[Step] = Field(min_length=1, max_length=3)
        mode: Literal["fast", "slow"]
        note: str | None = None

    Plan.model_validate(example_instance(Plan.model_json_schema()))
    Verdict.model_validate(example_instance(Verdict.model_json_schema()))


def test_schema_for_models_drops_generated_titles_but_keeps_a_title_field():
    class Doc(BaseModel):
        title: str = Field(max_length=20, description="the heading")

    schema = json_schema(Doc)
    assert "title" not in schema and schema["properties"]["title"] == {
        "type": "string",
        "maxLength": 20,
        "description": "the heading",
    }
