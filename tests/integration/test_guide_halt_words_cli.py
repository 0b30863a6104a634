"""`podium guide RUN "stop"`: a stop request is not sent as guidance; the command says how to halt."""

from __future__ import annotations

from tests.conftest import run_cli
from tests.integration.run_helpers import rows
from tests.integration.test_plan_edit_cli import awaiting_approval


async def test_a_stop_request_is_not_sent_unless_as_guidance(tmp_path):
    project = tmp_path / "project.podium"
    run_id = await awaiting_approval(tmp_path)

    refused = run_cli("guide", run_id, "Halt now!")
    assert refused.returncode == 2
    assert f"podium halt {run_id}" in refused.stderr and "--as-guidance" in refused.stderr
    assert rows(project, "SELECT count(*) FROM interventions")[0][0] == 0
    assert rows(project, "SELECT status FROM executions")[0][0] == "awaiting_approval"  # nothing halted

    sent = run_cli("guide", run_id, "Halt now!", "--as-guidance")
    assert sent.returncode == 0, sent.stderr
    recorded = [tuple(r) for r in rows(project, "SELECT kind, text FROM interventions")]
    assert recorded == [("guidance", "Halt now!")]

    other = run_cli("guide", run_id, "Don't stop at the first source")
    assert other.returncode == 0, other.stderr
    assert rows(project, "SELECT count(*) FROM interventions")[0][0] == 2
