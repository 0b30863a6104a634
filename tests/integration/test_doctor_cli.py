"""`podium doctor`: one line per check, exit 1 only when something needed does not work."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


@pytest.mark.local_model
def test_doctor_checks_the_local_model_in_its_worker_and_passes_here(tmp_path):
    result = run_cli("doctor", "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    findings = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    assert {"cpu", "llama.cpp", "local model", "model", "project", "vault", "shell"} <= set(findings)
    assert findings["llama.cpp"]["details"]["pid"] > 0
    assert "CPU" in findings["llama.cpp"]["details"]["system_info"]
    assert findings["local model"]["details"]["tokens"] > 0
    assert findings["local model"]["details"]["tokens_per_s"] > 0
    assert findings["cpu"]["details"]["extra_bufts"] is (not findings["cpu"]["details"]["amx"])
    assert not (tmp_path / "project.podium").exists()  # a check never creates the project

    text = run_cli("doctor", timeout=180)
    assert text.returncode == 0
    assert text.stdout.strip().endswith("all good")
    assert any(line[2:].startswith("local model") and "tokens/s" in line for line in text.stdout.splitlines())


def test_doctor_reports_a_damaged_project_as_one_problem_line_and_exits_1(tmp_path):
    (tmp_path / "project.podium").write_text("this is not a database")
    result = run_cli("doctor", "--no-local")
    assert result.returncode == 1, result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines() if line.startswith("✘")]
    assert len(problems) == 1 and "project" in problems[0]
    assert "Traceback" not in result.stderr
    assert (tmp_path / "project.podium").read_text() == "this is not a database"


def test_doctor_names_a_model_that_cannot_work(tmp_path):
    result = run_cli("doctor", "--no-local", "--model", "scripted:missing.toml", "--json")
    assert result.returncode == 1
    [model] = [f for f in json.loads(result.stdout)["findings"] if f["check"] == "model"]
    assert model["level"] == "problem" and "missing.toml" in model["summary"]


def test_doctor_says_which_json_mode_a_local_server_gets(tmp_path):
    from tests.support.openai_server import FakeOpenAIServer

    with FakeOpenAIServer("json_object") as server:
        result = run_cli("doctor", "--no-local", "--model", "openai/smollm2", "--api-base",
                         server.base_url, "--json", env={"OPENAI_API_KEY": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    [model] = [f for f in json.loads(result.stdout)["findings"] if f["check"] == "model"]
    assert model["level"] == "ok" and model["details"]["api_base"] == server.base_url
    assert "json_object + schema" in model["details"]["json_mode"]
