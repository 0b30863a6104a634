"""`podium tools`, `mcp`, `vault` and `workspace` through the real command, bad input included."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

SERVER = str(Path(__file__).resolve().parents[1] / "tools_mcp_server.py")
ENV = {"PODIUM_VAULT": "file"}


def _one_line_error(out) -> None:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert out.stderr.startswith("podium: error:") and out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr


def test_mcp_add_test_list_tools_remove(tmp_path):
    added = run_cli("mcp", "add", "tiny", "--", sys.executable, SERVER, env=ENV)
    assert added.returncode == 0, added.stderr
    assert "5 tools: add, shout, echo_env, slow, crash" in added.stdout

    listed = run_cli("mcp", "list", "--json")
    (server,) = json.loads(listed.stdout)
    assert server["name"] == "tiny" and server["command"] == sys.executable and server["cwd"] == str(tmp_path)

    tested = run_cli("mcp", "test", "tiny")
    assert tested.returncode == 0 and "tiny__add (read-only)" in tested.stdout

    tools = run_cli("tools", "--team", "software", "--json")
    rows = {r["name"]: r for r in json.loads(tools.stdout)["tools"]}
    assert rows["tiny__add"]["policy"] == "always" and rows["tiny__shout"]["policy"] == "ask"
    assert rows["run_command"]["policy"] == "ask" and rows["write_file"]["policy"] == "always"
    assert rows["run_command"]["agents"] == "all"

    assert run_cli("tools", "policy", "tiny__*", "never").returncode == 0
    text = run_cli("tools").stdout
    assert "tiny__shout     mcp:tiny        never" in text
    assert run_cli("tools", "policy", "tiny__*", "default").returncode == 0
    assert "tiny__shout     mcp:tiny        ask" in run_cli("tools").stdout

    assert run_cli("mcp", "remove", "tiny").returncode == 0
    assert "no MCP servers" in run_cli("mcp", "list").stdout


def test_an_http_server_with_a_vault_secret_stores_names_only(tmp_path):
    run_cli("vault", "set", "SEARCH_API_KEY", input="sk-PLANTED-http-1\n", env=ENV)
    out = run_cli(
        "mcp",
        "add",
        "search",
        "--url",
        "http://127.0.0.1:9/mcp",
        "--secret",
        "SEARCH_API_KEY",
        "--timeout",
        "2",
        env=ENV,
    )
    assert out.returncode == 0 and "did not start now" in out.stdout
    assert b"sk-PLANTED-http-1" not in (tmp_path / "project.podium").read_bytes()
    assert "secrets: SEARCH_API_KEY" in run_cli("mcp", "list").stdout


@pytest.mark.parametrize(
    "args",
    [
        ["mcp", "add", "x"],
        ["mcp", "add", "Bad_Name", "--", "ls"],
        ["mcp", "add", "x", "--url", "ftp://host"],
        ["mcp", "add", "x", "--url", "http://user:pw@host/mcp"],
        ["mcp", "add", "x", "--url", "http://h/mcp", "--", "ls"],
        ["mcp", "add", "x", "--secret", "not a name", "--", "ls"],
        ["mcp", "add", "x", "--env", "NOEQUALS", "--", "ls"],
        ["mcp", "test", "ghost"],
        ["mcp", "remove", "ghost"],
        ["vault", "set", "bad name"],
        ["vault", "delete", "NOT_THERE"],
        ["tools", "policy", "run_command", "sometimes"],
        ["workspace", "no-such-run"],
        ["approve", "no-such-run"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(args):
    run_cli("init")
    _one_line_error(run_cli(*args, input="", env=ENV))


def test_a_server_that_will_not_start_fails_mcp_test_clearly():
    run_cli("mcp", "add", "broken", "--no-check", "--", sys.executable, SERVER, "--fail")
    out = run_cli("mcp", "test", "broken")
    _one_line_error(out)
    assert "will not start" in out.stderr and "refusing to start" in out.stderr


def test_vault_set_list_delete_never_shows_values(tmp_path):
    secret = "sk-PLANTED-vault-cli-2"
    stored = run_cli("vault", "set", "GH_TOKEN", input=secret + "\n", env=ENV)
    assert stored.returncode == 0 and "encrypted file" in stored.stdout
    listed = run_cli("vault", "list", env=ENV)
    assert "GH_TOKEN" in listed.stdout and secret not in listed.stdout
    for path in (tmp_path / "config").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()
    assert run_cli("vault", "delete", "GH_TOKEN", env=ENV).returncode == 0
    assert "GH_TOKEN" not in run_cli("vault", "list", env=ENV).stdout
    _one_line_error(run_cli("vault", "set", "EMPTY", input="\n", env=ENV))
