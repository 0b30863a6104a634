"""`podium plan edit`: $EDITOR on the plan awaiting approval, checked like a leader's, a new version."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from podium.app.session import ProjectSession
from tests.conftest import run_cli
from tests.integration.run_helpers import rows, subtasks, write_script

ADD_T5 = '''
import pathlib, sys
p = pathlib.Path(sys.argv[1])
text = p.read_text().replace('description = "Check claims"', 'description = "Check every claim twice"')
text += """
[[subtasks]]
id = "t5"
agent = "fact-checker"
description = "Check the figures"
depends_on = ["t4"]
acceptance_criteria = ["every figure has a source"]
"""
p.write_text(text)
'''

BREAK = '''
import pathlib, sys
p = pathlib.Path(sys.argv[1])
text = p.read_text().replace('agent = "writer"', 'agent = "poet"')
p.write_text(text.replace('depends_on = []', 'depends_on = ["t4"]', 1))
'''

NOT_TOML = '''
import pathlib, sys
pathlib.Path(sys.argv[1]).write_text("[[subtasks]\\nid = ")
'''


def editor(tmp_path: Path, name: str, code: str) -> dict[str, str]:
    script = tmp_path / f"{name}.py"
    script.write_text(code)
    return {"EDITOR": f"{sys.executable} {script}", "VISUAL": ""}


async def awaiting_approval(tmp_path: Path) -> str:
    """A run of the diamond plan (t1..t4), planned and awaiting approval."""
    model = write_script(tmp_path)
    async with ProjectSession(tmp_path / "project.podium", model=model, tools=False, memory=False) as session:
        execution = await session.create_run("Heat pumps", "research")
        await session.plan(execution.id)
        return execution.id


def plan_events(project: Path, run_id: str) -> list[dict]:
    return [json.loads(r[0]) for r in rows(project, "SELECT payload FROM events WHERE execution_id = ? AND "
                                                    "type = 'plan.proposed' ORDER BY seq", run_id)]


async def test_an_edit_is_the_next_version_by_its_author_and_runs(tmp_path):
    project = tmp_path / "project.podium"
    run_id = await awaiting_approval(tmp_path)

    edited = run_cli("plan", "edit", run_id[:5], env=editor(tmp_path, "add", ADD_T5))
    assert edited.returncode == 0, edited.stderr
    assert f"saved plan v2 of run {run_id} (edited by user, 5 subtasks)" in edited.stdout

    plans = rows(project, "SELECT version, status, author, plan_json FROM plans ORDER BY version")
    assert [(p["version"], p["status"], p["author"]) for p in plans] == [
        (1, "superseded", None), (2, "proposed", "user")]
    v2 = json.loads(plans[1]["plan_json"])
    assert [s["id"] for s in v2["subtasks"]] == ["t1", "t2", "t3", "t4", "t5"]
    assert v2["subtasks"][2]["description"] == "Check every claim twice"
    assert v2["subtasks"][4]["acceptance_criteria"] == ["every figure has a source"]
    proposed = plan_events(project, run_id)
    assert proposed[-1]["author"] == "user" and proposed[-1]["supersedes"] == 1
    assert rows(project, "SELECT status FROM executions")[0][0] == "awaiting_approval"

    shown = run_cli("show", run_id)
    assert "### Plan v1 — superseded" in shown.stdout
    assert "### Plan v2 — proposed (edited by user)" in shown.stdout

    # Approving runs the edited plan, not the leader's.
    done = run_cli("resume", run_id, "--yes", "--no-review")
    assert done.returncode == 0, done.stderr
    ran = subtasks(project, run_id)
    assert list(ran) == ["t1", "t2", "t3", "t4", "t5"] and all(s["status"] == "done" for s in ran.values())
    assert ran["t3"]["description"] == "Check every claim twice"

    refused = run_cli("plan", "edit", run_id, env=editor(tmp_path, "add2", ADD_T5))
    assert refused.returncode == 2
    assert f"run {run_id} is completed: only a plan awaiting approval can be edited" in refused.stderr


async def test_an_invalid_edit_lists_the_problems_and_saves_nothing(tmp_path):
    project = tmp_path / "project.podium"
    run_id = await awaiting_approval(tmp_path)
    before = rows(project, "SELECT count(*) FROM events")[0][0]

    broken = run_cli("plan", "edit", run_id, env=editor(tmp_path, "break", BREAK), input="")
    assert broken.returncode == 2
    assert "unknown agent 'poet'" in broken.stderr and "dependency cycle: t1 -> t4" in broken.stderr
    assert "nothing was saved" in broken.stderr and "Traceback" not in broken.stderr

    garbled = run_cli("plan", "edit", run_id, env=editor(tmp_path, "garble", NOT_TOML), input="")
    assert garbled.returncode == 2 and "not valid TOML" in garbled.stderr

    unchanged = run_cli("plan", "edit", run_id, env={"EDITOR": "true"})
    assert unchanged.returncode == 0 and "no changes" in unchanged.stdout

    missing = run_cli("plan", "edit", run_id, env={"EDITOR": "no-such-editor-podium"})
    assert missing.returncode == 2 and "cannot start the editor" in missing.stderr

    assert rows(project, "SELECT count(*) FROM plans")[0][0] == 1
    assert rows(project, "SELECT count(*) FROM events")[0][0] == before
