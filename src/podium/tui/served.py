"""The terminal app as `podium serve` runs it for one browser tab.

textual-serve starts one app process per browser connection and, when the tab
closes (its websocket ends), asks the process to quit. Podium's engine runs
inside the app process, so quitting would stop the runs it drives. Here the
"tab closed" request is taken apart from a real quit:

- nothing running in this process: the app exits at once, as before;
- runs (or the heartbeat) in flight: the app stays up without a screen
  ("detached"; the server keeps draining its output) until nothing runs here
  any more, i.e. each run finished, or stopped where a person must act
  (plan approval, result review: another tab, or `podium resume`, takes it up
  from the file), then exits.

A stop of the server (Ctrl-C, SIGTERM) halts what runs here like the quit key:
state is kept and `podium resume RUN_ID` continues.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from textual.drivers.web_driver import WebDriver
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from podium.tui.app import PodiumApp

# How often a detached app looks whether anything still runs here.
IDLE_CHECK_SECONDS = 0.5


class BrowserClosed(Message):
    """The browser tab went away (textual-serve's "quit")."""


class ServerStopping(Message):
    """The server (or the person at its terminal) stops: halt what runs here, then exit."""


class ServeDriver(WebDriver):
    """textual's web driver, but a closed tab is `BrowserClosed` (not an immediate exit) and
    SIGINT/SIGTERM halt the runs cleanly (not an exit that cancels them mid-write)."""

    def start_application_mode(self) -> None:
        super().start_application_mode()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, lambda: self._app.post_message(ServerStopping()))

    def on_meta(self, packet_type: str, payload: dict[str, object]) -> None:
        if packet_type == "quit":
            self._app.post_message(BrowserClosed())
            return
        super().on_meta(packet_type, payload)


class Detached(Screen[None]):
    """What a detached app shows (to nobody): nothing that redraws while runs stream."""

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("The browser tab is closed; the runs started here go on.", id="loading")


class ServedPodiumApp(PodiumApp):
    """PodiumApp behind `podium serve`: the same screens and keys; closing the tab leaves runs running."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.detached = False

    def get_driver_class(self) -> type[WebDriver]:
        return ServeDriver

    def busy(self) -> bool:
        """Whether this process drives anything: a run (planning, executing, paused here) or the
        heartbeat."""
        heartbeat = self.heartbeat
        return any(n > 0 for n in self._live.values()) or (heartbeat is not None and heartbeat.running)

    async def on_browser_closed(self, _message: BrowserClosed) -> None:
        if not self.busy():
            self.exit()
            return
        if self.detached:
            return
        self.detached = True
        self.leaving = True  # no key acts any more (nobody can type; a stray one must not act)
        await self.push_screen(Detached())
        self.set_interval(IDLE_CHECK_SECONDS, self._exit_when_idle)

    def _exit_when_idle(self) -> None:
        if not self.busy():
            self.exit()

    async def on_server_stopping(self, _message: ServerStopping) -> None:
        await self.action_quit_podium()
