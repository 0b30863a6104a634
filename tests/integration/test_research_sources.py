"""A research run through the real `podium` command, on the scripted model, against a fake SearXNG
and its pages on loopback: the researcher searches and fetches, cites [S#]; the fact-checker checks
the claims (one supported, one unsupported, one citing a source never recorded); the result ends
with references built from the recorded sources, and the fabricated citations are flagged in the
review, in `podium show` (JSON and Markdown)."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.integration.run_helpers import events_of, rows
from tests.support.search_server import FakeSearch

PAGES = {
    "norway": ("Heat pumps in Norway",
               "In 2023, 60 percent of Norwegian homes heated with a heat pump.\n\n"
               "Installers had a record year."),
    "boilers": ("Gas boilers", "Gas boilers are being phased out in several countries."),
}
SYNTHESIS = ("Norway leads: 60 percent of homes heat with a heat pump [S1]. Sales tripled [S9].\\n\\n"
             "References:\\n- [S1] Wikipedia, made up by the model")
CHECKED = ("In 2023, 60 percent of Norwegian homes heated with a heat pump [S1]. "
           "Gas boilers were banned everywhere in 2020 [S2]. Sales tripled in 2024 [S7].")


def _script(fake: FakeSearch) -> str:
    return f"""
supports_tools = true
default_reply = "Noted ({{agent}}, {{phase}})."

[[rules]]
phase = "planning"
structured = true
[rules.json]
rationale = "Find sources, then check them."
[[rules.json.subtasks]]
id = "t1"
agent = "researcher"
description = "Find sources on heat pumps in Norway"
[[rules.json.subtasks]]
id = "t2"
agent = "fact-checker"
description = "Check the researcher's claims against the sources"
depends_on = ["t1"]

[[rules]]
phase = "execution"
agent = "researcher"
times = 1
[[rules.tool_calls]]
name = "web_search"
arguments = {{ query = "heat pumps norway", max_results = 2 }}

[[rules]]
phase = "execution"
agent = "researcher"
times = 1
[[rules.tool_calls]]
name = "fetch_url"
arguments = {{ url = "{fake.url('norway')}" }}

[[rules]]
phase = "execution"
agent = "researcher"
reply = "In 2023, 60 percent of Norwegian homes heated with a heat pump [S1]. Boilers are fading [S2]."

[[rules]]
phase = "execution"
agent = "fact-checker"
times = 1
[[rules.tool_calls]]
name = "check_claims"
arguments = {{ text = "{CHECKED}" }}

[[rules]]
phase = "execution"
agent = "fact-checker"
reply = "[S1] is supported; [S2] does not say boilers were banned; [S7] was never recorded."

[[rules]]
phase = "synthesis"
reply = "{SYNTHESIS}"

[[rules]]
phase = "review"
structured = true
[rules.json]
result_ok = true
reasons = "sourced"
verdicts = [{{ subtask_id = "t1", ok = true }}, {{ subtask_id = "t2", ok = true }}]
"""


def test_a_research_run_cites_recorded_sources_and_flags_fabricated_ones(tmp_path):
    with FakeSearch(PAGES) as fake:
        (tmp_path / "podium.toml").write_text(f'search = "searxng"\nsearch_api_base = "{fake.base_url}"\n')
        (tmp_path / "research.toml").write_text(_script(fake))
        out = run_cli("run", "Heat pumps in Norway, with sources", "--team", "research", "--yes",
                      "--model", f"scripted:{tmp_path / 'research.toml'}", "--allow-tools", "fetch_url",
                      env={"PODIUM_OFFLINE": "0"}, timeout=240)
        assert out.returncode == 0, out.stdout + out.stderr
        assert fake.searches() == ["heat pumps norway"]
        assert ("/page/norway", {}) in fake.requests
    project = tmp_path / "project.podium"
    run_id = rows(project, "SELECT id FROM executions")[0]["id"]

    # What the web tools read is recorded per subtask, with its hash and text.
    recorded = rows(project, "SELECT * FROM sources WHERE execution_id = ? ORDER BY number", run_id)
    assert [(r["number"], r["kind"], r["subtask_id"]) for r in recorded] == [
        (1, "page", "t1"), (2, "search", "t1")]
    assert "record year" in recorded[0]["text"] and len(recorded[0]["sha256"]) == 64
    tool_results = {e["tool"]: e for e in events_of(project, run_id, "tool.called")}
    assert "[S1] Heat pumps in Norway" in tool_results["web_search"]["result"]
    assert tool_results["fetch_url"]["result"].startswith("[S1] Heat pumps in Norway")

    # The fact-checker's check: supported, unsupported, not found.
    checks = rows(project, "SELECT source, verdict, agent FROM claim_checks WHERE execution_id = ?"
                  " ORDER BY id", run_id)
    assert [(c["source"], c["verdict"], c["agent"]) for c in checks] == [
        ("S1", "supported", "fact-checker"), ("S2", "unsupported", "fact-checker"),
        ("S7", "not_found", "fact-checker")]

    # The result's references come from the records, not from the model's text.
    result = rows(project, "SELECT result FROM executions WHERE id = ?", run_id)[0]["result"]
    _, references = result.split("## References")
    assert "made up by the model" not in result
    assert f"[S1] Heat pumps in Norway — {fake.url('norway')}" in references
    assert "[S2]" not in references  # recorded, but the result does not cite it
    assert "Cited but never recorded" in references and "[S9]" in references

    # The review shows the checks and flags the citations no source answers.
    (verdict,) = events_of(project, run_id, "review.verdict")
    assert [c["verdict"] for c in verdict["claims"]] == ["supported", "unsupported", "not_found"]
    assert verdict["unknown_citations"] == {"t2": ["S7"], "result": ["S9"]}
    review_text = rows(project, "SELECT content FROM messages WHERE execution_id = ? AND phase = 'review'",
                       run_id)[-1]["content"]
    assert "Claims checked: 1 supported, 1 unsupported, 1 not found" in review_text
    assert "- result: [S9]" in review_text and "- t2: [S7]" in review_text

    shown = run_cli("show", run_id, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    t1, t2 = report["subtasks"]
    assert [(s["id"], s["kind"], s["url"]) for s in t1["sources"]] == [
        ("S1", "page", fake.url("norway")), ("S2", "search", fake.url("boilers"))]
    assert t1["sources"][0]["sha256"] == recorded[0]["sha256"] and t1["unknown_citations"] == []
    assert t2["sources"] == [] and t2["unknown_citations"] == ["S7"]
    assert report["unknown_citations"] == {"t2": ["S7"], "result": ["S9"]}
    assert [c["verdict"] for c in report["claim_checks"]] == ["supported", "unsupported", "not_found"]
    markdown = run_cli("show", run_id).stdout
    assert f"- [S1] Heat pumps in Norway — {fake.url('norway')} (page" in markdown
    assert "**Cites sources never recorded:** S7" in markdown and "## Claim checks" in markdown


def test_offline_the_researcher_is_not_offered_web_search(tmp_path):
    (tmp_path / "podium.toml").write_text('search = "searxng"\nsearch_api_base = "http://127.0.0.1:9"\n')
    listed = run_cli("tools", "--json", env={"PODIUM_OFFLINE": "1"})
    assert listed.returncode == 0, listed.stderr
    assert "web_search" not in listed.stdout
    online = run_cli("tools", "--json", env={"PODIUM_OFFLINE": "0"})
    assert "web_search" in online.stdout and "via searxng" in online.stdout
    assert json.loads(online.stdout)["search"].startswith("searxng at http://127.0.0.1:9, from ")
    (tmp_path / "podium.toml").write_text('search = "searxng"\n')  # no instance URL
    broken = run_cli("tools", env={"PODIUM_OFFLINE": "0"})
    assert broken.returncode == 0 and "web_search" not in broken.stdout
    assert "web search: off: search provider searxng" in broken.stdout and "search_api_base" in broken.stdout
