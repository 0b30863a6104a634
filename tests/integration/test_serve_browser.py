"""`podium serve` driven in a real headless Chromium, as a person would use it.

The browser is the system's (Debian's `chromium` package, which `.ci/run` installs), driven through
playwright with `executable_path` (playwright's own browser download is never used). Without it the
test is skipped, unless PODIUM_REQUIRE_BROWSER=1 (CI with Chromium installed), where it fails.

The page draws the terminal with xterm.js on a canvas, so the text is read from xterm's buffer: a
script added before the page's own catches textual-serve's terminal object as it is built.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import eventually_sync
from tests.integration.run_helpers import rows

RESEARCH = Path(__file__).parents[1] / "tui" / "scripts" / "research.toml"

CHROMIUM = os.environ.get("PODIUM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
REQUIRED = os.environ.get("PODIUM_REQUIRE_BROWSER") == "1"

# textual-serve's page keeps its terminal wrapper private; it sets `this.fitAddon` in its constructor,
# so a setter on Object.prototype sees that object first and keeps it (then steps aside).
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, 'fitAddon', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'fitAddon', {value, writable: true, configurable: true, enumerable: true});
    window.__podiumTerminal = this;
  },
});
"""
SCREEN_TEXT = """() => {
  const term = window.__podiumTerminal && window.__podiumTerminal.terminal;
  if (!term) return '';
  const buffer = term.buffer.active, lines = [];
  for (let i = 0; i < term.rows; i++) {
    const line = buffer.getLine(buffer.viewportY + i);
    lines.push(line ? line.translateToString(true) : '');
  }
  return lines.join('\\n');
}"""
FIRST = "Brief on heat pumps"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Each execution turn takes a moment, so the tab can close while a subtask runs.
SLOW_TURNS = """
[[rules]]
phase = "execution"
latency_ms = 1500
reply = '''Notes from {agent} on {subtask}.

```json
{"action": "done", "output": "{agent} finished {subtask}."}
```'''
"""


def _browser_or_skip() -> None:
    reason = None
    if not Path(CHROMIUM).is_file():
        reason = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; .ci/run installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[dev]')"
    if reason:
        if REQUIRED:
            pytest.fail(f"PODIUM_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _served_apps(project: Path) -> list[int]:
    """The app processes (one per open tab, or detached) serving `project`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--served" in argv and str(project).encode() in argv:
            found.append(int(entry.name))
    return found


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    _browser_or_skip()
    project = tmp_path / "project.podium"
    # The TUI tests' research script with slow execution turns first (so they win).
    text = RESEARCH.read_text(encoding="utf-8")
    at = text.index("[[rules]]")
    (tmp_path / "model.toml").write_text(text[:at] + SLOW_TURNS + text[at:], encoding="utf-8")
    model = f"scripted:{tmp_path / 'model.toml'}"
    log = tmp_path / "serve.log"  # a file, not a pipe: nothing the server writes can block it
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "podium", "serve", str(project), "--port",
                                   str(_free_port()), "--model", model], stdout=out, stderr=subprocess.STDOUT)
    try:
        line = eventually_sync(lambda: "?token=" in (text := log.read_text()) and text.splitlines()[0],
                               what="the server's link", timeout=60, interval=0.1,
                               detail=lambda: f"{log.read_text()!r}, exit code {server.poll()}")
        url = line.split(" at ", 1)[1].strip()
        yield url, project, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


def _screen(page: Any) -> str:
    return str(page.evaluate(SCREEN_TEXT))


def _wait_for(page: Any, text: str, timeout: float = 60) -> str:
    """Until the terminal in the page shows `text`; the screen is what it shows then."""
    return str(eventually_sync(lambda: text in (shown := _screen(page)) and shown, what=repr(text),
                               timeout=timeout, interval=0.1, detail=lambda: "\n" + _screen(page)))


def _status(project: Path, objective: str) -> str | None:
    if not project.exists():
        return None
    found = rows(project, "SELECT status FROM executions WHERE objective = ?", objective)
    return found[0]["status"] if found else None


def test_type_an_objective_approve_watch_the_board_and_close_the_tab_while_it_runs(served: Any) -> None:
    from playwright.sync_api import sync_playwright

    url, project, server = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 950})
            page.add_init_script(CATCH_TERMINAL)
            page.goto(url)

            def screen() -> str:
                return _screen(page)

            def wait_for(text: str) -> str:
                return _wait_for(page, text)

            # Home: the objective field has the focus; type, Enter, and the team plans.
            wait_for("type an objective below")
            page.focus(".xterm-helper-textarea")
            wait_for("esc leave field")  # the footer of a focused objective field
            page.keyboard.type(FIRST)
            page.keyboard.press("Enter")
            wait_for("plan awaits approval (a / r)")
            assert "To do (3)" in screen()  # the plan's subtasks are cards before anything runs
            page.keyboard.press("a")
            # The board fills as subtasks finish.
            board = wait_for("Done (1)")
            assert "✔ t1 researcher" in board
            assert _status(project, FIRST) == "running"

            # Close the tab while t2 runs: the run goes on without it.
            page.close()
        finally:
            browser.close()

        eventually_sync(lambda: _status(project, FIRST) == "review", timeout=60,
                        what="the run reaching review with no tab open", interval=0.2,
                        detail=lambda: f"status {_status(project, FIRST)}")
        statuses = [r["status"] for r in rows(project, "SELECT status FROM subtasks ORDER BY position")]
        assert statuses == ["review"] * 3, statuses
        halted = rows(project, "SELECT 1 FROM events WHERE type = 'run.status' AND payload LIKE '%halted%'")
        assert not halted, "the run was halted when the tab closed"
        # With nothing left to run, the detached app exits.
        eventually_sync(lambda: not _served_apps(project), what="the detached app to exit", timeout=30,
                        interval=0.2)
        assert server.poll() is None  # the server itself serves on

        # A new tab lists that run; a second run started there is halted (resumable) when the
        # server stops.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 950})
            page.add_init_script(CATCH_TERMINAL)
            page.goto(url)
            _wait_for(page, FIRST)
            page.focus(".xterm-helper-textarea")
            _wait_for(page, "f objective")  # the runs table has the focus: f goes to the objective field
            page.keyboard.press("f")
            _wait_for(page, "esc leave field")
            page.keyboard.type("Second brief")
            page.keyboard.press("Enter")
            _wait_for(page, "plan awaits approval (a / r)")
            page.keyboard.press("a")
            _wait_for(page, "In progress (1)")  # a subtask runs (a halt between approval and the first
            # subtask's start is not applied: an engine race noted in docs/serve.md)
            server.send_signal(signal.SIGINT)
            assert server.wait(30) == 0
        finally:
            browser.close()

    assert _status(project, "Second brief") == "halted"
    assert _status(project, FIRST) == "review"
    eventually_sync(lambda: not _served_apps(project), what="every app to exit with the server", timeout=30)
