"""The scripted model's script format: parsing, rule matching, templating, seeded faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.llm.scripted import ScriptedRequest, ScriptRunner, load_script
from podium.llm.types import ModelConfigError


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_toml_and_json_scripts_load_the_same(tmp_path):
    toml = write(tmp_path, 'seed = 4\nlatency_ms = 5\n[[rules]]\nagent = "writer"\nreply = "hi {agent}"\n')
    js = write(
        tmp_path,
        json.dumps({"seed": 4, "latency_ms": 5, "rules": [{"agent": "writer", "reply": "hi {agent}"}]}),
        "s.json",
    )
    assert load_script(toml) == load_script(js)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("rules = [", "does not parse"),
        ("[[rules]]\nagent = 'x'\n", "needs reply, json, tool_calls or fault"),
        ("[[rules]]\nmatch = '('\nreply = 'x'\n", "bad regex"),
        ("[faults]\nrate = 2\n", "faults.rate"),
        ("[faults]\nkinds = ['meteor']\n", "faults.kinds"),
        ("surprise = 1\n", "surprise"),
    ],
)
def test_bad_scripts_name_the_file_and_the_problem(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(ModelConfigError) as err:
        load_script(path)
    message = str(err.value)
    assert needle in message and str(path) in message and "\n" not in message


def test_missing_script_is_a_config_error(tmp_path):
    with pytest.raises(ModelConfigError, match="cannot read model script"):
        load_script(tmp_path / "nope.toml")


def test_rules_match_in_order_on_phase_agent_subtask_and_regex(tmp_path):
    runner = ScriptRunner(
        load_script(
            write(
                tmp_path,
                """
[[rules]]
phase = "planning"
reply = "plan"
[[rules]]
agent = ["analyst", "writer"]
subtask = "t2"
reply = "{agent} on {subtask} in {phase}"
[[rules]]
match = "^summari[sz]e"
reply = "summary of: {last_user}"
[[rules]]
agent = "writer"
reply = "writer default"
""",
            )
        )
    )
    ask = lambda **kw: runner.answer(ScriptedRequest(**kw)).text  # noqa: E731
    assert ask(phase="planning", agent="writer") == "plan"
    assert ask(phase="execution", agent="analyst", subtask_id="t2") == "analyst on t2 in execution"
    assert (
        ask(agent="writer", subtask_id="t9", last_user="Summarize the notes")
        == "summary of: Summarize the notes"
    )
    assert ask(agent="writer", subtask_id="t9", last_user="go") == "writer default"
    assert ask(agent="critic") == "Scripted reply from critic (adhoc)."


def test_times_limits_a_rule_then_the_next_one_answers(tmp_path):
    runner = ScriptRunner(
        load_script(
            write(
                tmp_path,
                """
[[rules]]
times = 2
reply = "first {call}"
[[rules]]
reply = "later {call}"
""",
            )
        )
    )
    replies = [runner.answer(ScriptedRequest()).text for _ in range(4)]
    assert replies == ["first 1", "first 2", "later 3", "later 4"]


def test_json_braces_in_replies_survive_templating(tmp_path):
    runner = ScriptRunner(
        load_script(
            write(
                tmp_path,
                """
[[rules]]
reply = 'done ```json {"action": "done", "by": "{agent}"} ```'
""",
            )
        )
    )
    assert runner.answer(ScriptedRequest(agent="w")).text == 'done ```json {"action": "done", "by": "w"} ```'


def test_json_rules_and_schema_defaults_for_structured_calls(tmp_path):
    runner = ScriptRunner(
        load_script(
            write(
                tmp_path,
                """
[[rules]]
phase = "planning"
json = { rationale = "by {agent}", subtasks = [{ id = "t1", agent = "writer" }] }
""",
            )
        )
    )
    planned = json.loads(
        runner.answer(ScriptedRequest(phase="planning", agent="leader", structured=True)).text
    )
    assert planned == {"rationale": "by leader", "subtasks": [{"id": "t1", "agent": "writer"}]}
    schema = {
        "type": "object",
        "required": ["mood", "n", "tags"],
        "properties": {
            "mood": {"enum": ["calm", "busy"]},
            "n": {"type": "integer", "minimum": 2},
            "tags": {"type": "array", "minItems": 1, "items": {"type": "string", "maxLength": 3}},
        },
    }
    fallback = runner.answer(ScriptedRequest(phase="review", structured=True, schema=schema)).text
    assert json.loads(fallback) == {"mood": "calm", "n": 2, "tags": ["scr"]}


def test_seeded_faults_repeat_exactly_and_roughly_match_the_rate(tmp_path):
    path = write(tmp_path, 'seed = 11\n[faults]\nrate = 0.3\nkinds = ["rate_limit", "timeout"]\n')
    run_a = ScriptRunner(load_script(path))
    run_b = ScriptRunner(load_script(path))
    faults_a = [run_a.answer(ScriptedRequest()).fault for _ in range(200)]
    faults_b = [run_b.answer(ScriptedRequest()).fault for _ in range(200)]
    assert faults_a == faults_b
    hit = [f for f in faults_a if f]
    assert 40 <= len(hit) <= 80 and set(hit) == {"rate_limit", "timeout"}
    other_seed = ScriptRunner(load_script(write(tmp_path, path.read_text().replace("11", "12"), "t.toml")))
    assert [other_seed.answer(ScriptedRequest()).fault for _ in range(200)] != faults_a


def test_malformed_json_fault_cuts_the_reply(tmp_path):
    runner = ScriptRunner(
        load_script(
            write(
                tmp_path,
                """
[[rules]]
times = 1
fault = "malformed_json"
json = { ok = true, note = "complete" }
""",
            )
        )
    )
    reply = runner.answer(ScriptedRequest(structured=True))
    assert reply.fault is None and reply.text.startswith("{") and not reply.text.endswith("}")
    with pytest.raises(ValueError):
        json.loads(reply.text)


def test_embeddings_are_deterministic_unit_vectors(tmp_path):
    runner = ScriptRunner(load_script(write(tmp_path, "embedding_dim = 32\n")))
    a, b, c = (runner.embed(t) for t in ("heat pump costs", "costs of a heat pump", "violin lessons"))
    assert len(a) == 32 and a == runner.embed("heat pump costs")
    assert abs(sum(x * x for x in a) - 1) < 1e-9
    dot = lambda u, v: sum(x * y for x, y in zip(u, v, strict=True))  # noqa: E731
    assert dot(a, b) > dot(a, c)


def test_the_readme_example_script_loads_and_behaves_as_documented(tmp_path):
    readme = (Path(__file__).parents[2] / "docs" / "models.md").read_text()
    section = readme[readme.index("## Scripted model") :]
    block = section[section.index("```toml") + len("```toml") :]
    path = write(tmp_path, block[: block.index("```\n")])
    script = load_script(path)
    script.faults.rate = 0  # the example's random faults are not what this test is about
    runner = ScriptRunner(script)
    plan = json.loads(runner.answer(ScriptedRequest(phase="planning", agent="leader", structured=True)).text)
    assert [s["id"] for s in plan["subtasks"]] == ["t1", "t2"]
    draft = runner.answer(
        ScriptedRequest(phase="execution", agent="editor", subtask_id="t2", last_user="Write it")
    )
    assert draft.text.startswith("Draft by editor for t2.") and draft.latency_s == 0.3
    assert runner.answer(ScriptedRequest(agent="researcher")).fault == "rate_limit"
    assert (
        runner.answer(ScriptedRequest(agent="critic", last_user="my notes")).tool_calls[0]["name"]
        == "read_file"
    )


def test_match_system_searches_the_system_message_only(tmp_path):
    runner = ScriptRunner(load_script(write(tmp_path, """
[[rules]]
match_system = "git worktree of the user's repository"
reply = "told"
[[rules]]
reply = "not told"
""")))
    ask = lambda **kw: runner.answer(ScriptedRequest(**kw)).text  # noqa: E731
    told = "You are a developer. Your workspace is a git worktree of the user's repository x"
    assert ask(system=told) == "told"
    assert ask(last_user=told, system="You are a developer.") == "not told"
