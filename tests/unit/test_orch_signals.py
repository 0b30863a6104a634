"""Fenced JSON signals from models without tool calling, and native tool calls."""

from __future__ import annotations

from podium.llm.types import ToolCall
from podium.orchestrator.signals import from_tool_calls, parse_reply


def test_fenced_done_signal_is_split_from_the_prose():
    parsed = parse_reply('Here is the report.\n\n```json\n{"action": "done"}\n```\n')
    assert parsed.text == "Here is the report."
    assert [(s.action, s.args) for s in parsed.signals] == [("done", {})]


def test_signal_arguments_and_normalised_action_names():
    parsed = parse_reply('```json\n{"action": "Ask-Human", "question": "Metric?"}\n```')
    assert parsed.signals[0].action == "ask_human"
    assert parsed.signals[0].args == {"question": "Metric?"}


def test_forgiving_parsing_of_weak_model_output():
    # no language tag, trailing comma, single quotes, bare object without a fence
    assert parse_reply('```\n{"action": "done",}\n```').signals[0].action == "done"
    assert parse_reply("{'action': 'blocked', 'reason': 'no data'}").signals[0].args == {"reason": "no data"}
    assert parse_reply('Done now {"action": "done"} thanks').text == "Done now  thanks"


def test_text_without_a_signal_is_not_a_signal():
    for text in ["Just an answer.", '```json\n{"result": 3}\n```', "```json\n{broken\n```", ""]:
        assert parse_reply(text).signals == [], text
    assert parse_reply('```json\n{"result": 3}\n```').text == '```json\n{"result": 3}\n```'


def test_tool_calls_map_to_actions_or_tools():
    calls = [ToolCall(id="1", name="report_blocked", arguments={"reason": "x"}),
             ToolCall(id="2", name="read_file", arguments={"path": "a.txt"})]
    signals = from_tool_calls(calls, {"report_blocked", "done"})
    assert (signals[0].action, signals[0].call_id) == ("report_blocked", "1")
    assert signals[1].action == "tool"
    assert signals[1].args == {"name": "read_file", "arguments": {"path": "a.txt"}}
