"""`podium serve`'s web server: textual-serve, behind an access token, keeping closed tabs' runs.

textual-serve serves a page with xterm.js and, per browser connection (a
websocket), starts the app command as a process and relays the terminal both
ways. It has no authentication, so every request here goes through a token
check first; and it kills an app process whose tab closed, so the processes
here are kept (and drained) until they exit on their own (see tui/served.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import os
import secrets
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from podium.errors import PodiumError

log = logging.getLogger("podium.serve")

def token_cookie(port: int) -> str:
    """The cookie's name: cookies ignore ports, so two servers on one host each need their own."""
    return f"podium_token_{port}"

# How long a stopping server gives each app process to halt its runs and exit.
STOP_GRACE_SECONDS = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (a name other than localhost counts as not)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison (the token is a password)."""
    return given is not None and hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def token_middleware(token: str, cookie: str) -> Any:
    """Every request needs the token: once as `?token=` (the link printed at start), which sets
    an HttpOnly cookie, then the cookie (the page's assets and its websocket carry it)."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token_matches(request.query.get("token"), token):
            response = await handler(request)
            if not response.prepared:  # a websocket's headers are long gone
                response.set_cookie(cookie, token, httponly=True, samesite="Strict", path="/")
            return response
        if token_matches(request.cookies.get(cookie), token):
            return await handler(request)
        raise web.HTTPForbidden(text="Podium: open the link with the access token that "
                                     "`podium serve` printed.\n")

    return check


class ServedAppService(AppService):
    """One tab's app process, started without a shell (signals reach the app itself) in a session
    of its own (a Ctrl-C at the server's terminal reaches the server, which stops each app in
    turn). Once the tab is gone, output is drained and dropped until the process exits."""

    browser_gone = False

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_exec(
            *shlex.split(self.command),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=environment, start_new_session=True,
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def on_data(self, payload: bytes) -> None:
        if not self.browser_gone:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await super().on_data(payload)

    async def on_meta(self, data: bytes) -> None:
        if not self.browser_gone:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await super().on_meta(data)

    async def on_packed(self, payload: bytes) -> None:
        if not self.browser_gone:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await super().on_packed(payload)

    async def stop_process(self, grace: float) -> None:
        """Ask the app to halt its runs and exit (SIGTERM); kill it if it has not after `grace`."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()


class PodiumServer(Server):
    """textual-serve's server with the token check, URLs taken from the request (so a page
    opened through any address of this machine talks back to that address), no access log (the
    first request's URL holds the token), and app processes that outlive their tab."""

    def __init__(self, command: str, *, host: str, port: int, token: str, title: str) -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.token = token
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/?token={token}"
        self.services: set[ServedAppService] = set()
        self.on_ready: Callable[[str], None] = print

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.WARNING, format="podium serve: %(message)s")

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(token_middleware(self.token, token_cookie(self.port)))
        return app

    async def on_startup(self, app: web.Application) -> None:
        pass  # textual-serve prints its logo here; the URL is announced once listening (below)

    async def on_shutdown(self, app: web.Application) -> None:
        # Before aiohttp cancels the websocket handlers (which would kill the processes): each app
        # halts what it runs (resumable) and exits.
        await asyncio.gather(*(s.stop_process(STOP_GRACE_SECONDS) for s in list(self.services)))

    def serve(self, debug: bool = False) -> None:
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_exit)
        # run_app calls `print` once, when the socket listens: the moment to announce the URL.
        web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                    print=lambda *_: self.on_ready(self.url), access_log=None)

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        router = request.app.router
        base = f"{request.scheme}://{request.host}"
        websocket = ("wss" if request.scheme == "https" else "ws") + f"://{request.host}"
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": websocket + str(router["websocket"].url_for()),
            "config": {"static": {"url": base + str(router["static"].url_for(filename="/")).rstrip("/")
                                  + "/"}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's handler, with a ServedAppService: when the tab goes, the app is asked to
        quit and this waits (draining its output) for however long it keeps running its runs."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        service: ServedAppService | None = None
        try:
            await websocket.prepare(request)
            service = ServedAppService(self.command, write_bytes=websocket.send_bytes,
                                       write_str=websocket.send_str, close=websocket.close,  # type: ignore[arg-type]
                                       download_manager=self.download_manager, debug=self.debug)
            self.services.add(service)
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:
            log.exception(error)
        finally:
            if service is not None:
                service.browser_gone = True
                with contextlib.suppress(Exception):
                    await websocket.close()
                try:
                    await service.stop()
                finally:
                    self.services.discard(service)
        return websocket


def app_command(project: Path, *, model: str | None, api_base: str | None, team: str | None,
                theme: str | None) -> str:
    """The command each tab's app runs: this Python's `podium` on the same project and options."""
    argv = [sys.executable, "-m", "podium", "tui", str(project), "--served"]
    for flag, value in (("--model", model), ("--api-base", api_base), ("--team", team), ("--theme", theme)):
        if value:
            argv += [flag, value]
    return shlex.join(argv)


def serve_app(project: Path, *, host: str, port: int, token: str | None, model: str | None,
              api_base: str | None, team: str | None, theme: str | None,
              announce: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C (or SIGTERM); the URL with the token is announced once."""
    if not is_loopback(host) and not token:
        raise PodiumError(f"--host {host} can be reached from other machines: give an access token "
                          "with --token (or $PODIUM_SERVE_TOKEN), or serve on 127.0.0.1")
    if token is not None and len(token) < 16:
        raise PodiumError("--token must be at least 16 characters")
    if project.is_dir():
        raise PodiumError(f"{project} is a directory, not a Podium project file")
    # The app processes inherit the environment; the token is only the server's business.
    os.environ.pop("PODIUM_SERVE_TOKEN", None)
    token = token or secrets.token_urlsafe(24)
    command = app_command(project.resolve(), model=model, api_base=api_base, team=team, theme=theme)
    server = PodiumServer(command, host=host, port=port, token=token, title=f"Podium · {project.name}")

    def ready(url: str) -> None:
        print(f"Podium on {project} at {url}", flush=True)
        print("Open that link (it holds the access token; it is not shown again). "
              "Ctrl+C stops the server.", flush=True)

    server.on_ready = announce or ready
    try:
        server.serve()
    except OSError as exc:
        raise PodiumError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
