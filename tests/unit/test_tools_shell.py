"""The shell tool: timeout, output cap, no secrets in the environment, no network."""

from __future__ import annotations

import time

import pytest

from podium.tools.shell import network_isolation, run_command


async def test_runs_in_the_workspace_and_reports_exit_code(tmp_path):
    result = await run_command("pwd; echo out; echo err >&2; exit 3", tmp_path)
    assert result.exit_code == 3 and not result.timed_out
    assert str(tmp_path) in result.output and "out" in result.output and "err" in result.output


async def test_timeout_kills_the_command_and_its_children(tmp_path):
    start = time.monotonic()
    result = await run_command("sleep 30 & sleep 30; echo never", tmp_path, timeout=0.5)
    assert result.timed_out and result.exit_code is None
    assert time.monotonic() - start < 10
    assert "never" not in result.output


async def test_output_is_capped_without_blocking_the_child(tmp_path):
    result = await run_command(
        "yes abcdefgh | head -c 2000000; echo; echo finished", tmp_path, output_cap=1000
    )
    assert result.exit_code == 0
    assert len(result.output) == 1000 and result.truncated


async def test_secrets_in_podiums_environment_do_not_reach_the_command(tmp_path, monkeypatch):
    planted = "sk-PLANTED-shell-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", planted)
    monkeypatch.setenv("MY_SERVICE_TOKEN", planted)
    result = await run_command("env", tmp_path)
    assert planted not in result.output
    assert "HOME=" + str(tmp_path) in result.output


async def test_no_network_where_the_os_allows_it(tmp_path):
    if network_isolation() is None:
        pytest.skip("this OS does not allow a private network namespace (no unshare -n)")
    probe = (
        "python -c \"import socket; socket.create_connection(('127.0.0.1', 9), timeout=2)\" 2>&1 | tail -1"
    )
    isolated = await run_command(probe, tmp_path)
    # The namespace makes it unreachable; Landlock, where present, refuses the connect first.
    refused = ("unreachable", "permission denied")
    assert isolated.isolated and any(word in isolated.output.lower() for word in refused)
    open_net = await run_command(probe, tmp_path, allow_network=True)
    assert not open_net.isolated and not any(word in open_net.output.lower() for word in refused)
