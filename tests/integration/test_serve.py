"""`podium serve`: the access token guards every request; bad options are one line and exit 2."""

from __future__ import annotations

import shlex
import socket
import sys
from pathlib import Path

from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

from podium.cli.serve_web import PodiumServer, app_command, is_loopback, token_cookie
from tests.conftest import run_cli

TOKEN = "s3cret-token-for-the-test-0123456789"
TOKEN_COOKIE = token_cookie(8000)


async def _client() -> TestClient:
    server = PodiumServer("true", host="127.0.0.1", port=8000, token=TOKEN, title="Podium")
    server.on_ready = lambda url: None
    client = TestClient(TestServer(await server._make_app()))
    await client.start_server()
    return client


async def test_requests_without_the_right_token_are_refused_and_the_right_one_sets_a_cookie() -> None:
    client = await _client()
    try:
        for path in ("/", "/static/js/textual.js", f"/?token={TOKEN[:-1]}", f"/?token={TOKEN}x",
                     "/?token="):
            response = await client.get(path)
            assert response.status == 403, path
            assert TOKEN_COOKIE not in response.cookies
        # A websocket upgrade without the token never reaches the app (no process is started).
        try:
            await client.ws_connect("/ws")
            raise AssertionError("the websocket opened without the token")
        except WSServerHandshakeError as exc:
            assert exc.status == 403

        page = await client.get(f"/?token={TOKEN}")
        assert page.status == 200
        assert "textual-terminal" in await page.text()
        set_cookie = page.headers["Set-Cookie"]
        assert f"{TOKEN_COOKIE}={TOKEN}" in set_cookie
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
        # The page talks back to the address it was opened on.
        assert f'data-session-websocket-url="ws://{client.host}:{client.port}/ws"' in await page.text()

        # Then the cookie alone opens the assets (the client keeps it, as a browser does).
        asset = await client.get("/static/js/textual.js")
        assert asset.status == 200
        client.session.cookie_jar.clear()
        assert (await client.get("/static/js/textual.js")).status == 403
    finally:
        await client.close()


def test_loopback_hosts() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.4", "example.org", "my-laptop"):
        assert not is_loopback(host), host


def test_each_tab_runs_this_podium_on_the_same_project_with_the_same_options(tmp_path: Path) -> None:
    command = app_command(tmp_path / "my project.podium", model="scripted:/x y.toml", api_base=None,
                          team="software", theme=None)
    project = str(tmp_path / "my project.podium")
    assert shlex.split(command) == [sys.executable, "-m", "podium", "tui", project, "--served",
                                    "--model", "scripted:/x y.toml", "--team", "software"]


def test_a_non_loopback_host_needs_a_token() -> None:
    out = run_cli("serve", "p.podium", "--host", "0.0.0.0", "--port", "8765")
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("podium: error:") and out.stderr.count("\n") == 1
    assert "--token" in out.stderr and "Traceback" not in out.stderr
    assert not Path("p.podium").exists()


def test_a_short_token_and_a_busy_port_are_one_line_errors() -> None:
    out = run_cli("serve", "p.podium", "--token", "short")
    assert out.returncode == 2 and "at least 16" in out.stderr and "Traceback" not in out.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run_cli("serve", "p.podium", "--port", str(port), timeout=30)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "Traceback" not in out.stderr
    assert "token=" not in out.stdout  # no link to a server that never listened
