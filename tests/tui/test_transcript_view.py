"""The line-drawn transcript: streaming, following, pruning, selection, resizing."""

from __future__ import annotations

import gc
import itertools
from pathlib import Path

from textual.app import App, ComposeResult
from textual.geometry import Offset
from textual.selection import Selection

from podium.tui import heap
from podium.tui.widgets.transcript_view import MARKER_TEXT, AgentLog, MessageEntry
from tests.tui.conftest import wait_for

PARAGRAPHS = [f"Paragraph {i} says **something** about heat pumps and running costs." for i in range(30)]
KEY = ("ana", "t1", "execution")


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield AgentLog(id="log")


def rows(log: AgentLog) -> list[str]:
    width = log.scrollable_content_region.width
    return ["".join(s.text for s in line).rstrip()
            for entry in log.entries for line in entry.lines(log, width)]


async def test_a_streamed_message_renders_like_the_whole_message_and_redoes_only_its_tail() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        log = app.query_one(AgentLog)
        rendered: list[int] = []
        original = log.paint_markdown

        def counting(text, width):  # type: ignore[no-untyped-def]
            lines = original(text, width)
            rendered.append(len(lines))
            return lines

        log.paint_markdown = counting  # type: ignore[method-assign]
        source = "\n\n".join(PARAGRAPHS)
        for start in range(0, len(source), 7):  # a frame's worth of tokens at a time
            log.stream(KEY, "ana · t1", source[start:start + 7])
        await pilot.pause()
        streamed = rows(log)
        # Each frame rendered the open paragraph (and once, each sealed one): never the whole message.
        assert max(rendered) <= 3
        assert "Paragraph 29 says something" in "\n".join(streamed)
        log.finish(KEY, "ana · t1", source)
        assert not log.is_streaming(KEY)
        assert rows(log) == streamed  # the finished message looks as it did while streaming
        assert "**" not in "\n".join(streamed)  # Markdown, not its source


async def test_follows_the_end_and_says_so_when_text_arrives_below() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        log = app.query_one(AgentLog)
        for i in range(60):
            log.add_note(f"note {i}", "status")
        await pilot.pause()
        assert log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y and log.following
        bottom = log.scrollable_content_region.height - 1
        assert "note 59" in log.render_line(bottom).text
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert not log.following and not log.behind
        log.add_note("news", "guidance")
        await pilot.pause()
        assert log.behind and log.scroll_y == 0
        assert MARKER_TEXT in log.render_line(bottom).text
        await pilot.press("end") if log.has_focus else log.action_scroll_end()
        await wait_for(pilot, lambda: log.following and not log.behind, what="following again")
        assert "news" in log.render_line(bottom).text


async def test_old_entries_are_pruned_and_only_recent_ones_keep_their_lines() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        log = app.query_one(AgentLog)
        log.MAX_ENTRIES = 50
        log.stream(KEY, "ana · t1", "still streaming")
        for i in range(200):
            log.add_note(f"note {i}", "tool")
        await pilot.pause()
        assert len(log.entries) == 50
        assert log.is_streaming(KEY) and isinstance(log.entries[1], MessageEntry)  # the live message stays
        assert log.texts("header") == ["ana · t1"]  # with its header
        assert log.texts("tool")[-1] == "note 199" and "note 100" not in log.texts("tool")
        assert sum(entry.has_lines for entry in log.entries) <= log.RETAINED_ENTRIES
        assert log.virtual_size.height == sum(len(e.lines(log, log._width)) for e in log.entries)


async def test_text_can_be_selected_and_user_text_is_not_markup() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        log = app.query_one(AgentLog)
        log.add_note("⚑ guidance: use [bold]metric[/bold] units", "guidance")
        log.add_message("ana · t1", "The answer is *42*.")
        await pilot.pause()
        text, _ = log.get_selection(Selection(Offset(0, 0), None))  # type: ignore[misc]
        assert "use [bold]metric[/bold] units" in text
        assert "ana · t1" in text and "The answer is 42." in text


async def test_a_narrower_terminal_rewraps_the_transcript() -> None:
    app = LogApp()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(AgentLog)
        log.add_message("ana", " ".join(PARAGRAPHS))
        await pilot.pause()
        wide = log.virtual_size.height
        await pilot.resize_terminal(50, 30)
        await wait_for(pilot, lambda: log.virtual_size.height > wide, what="rewrapped")
        assert all(len(row) <= 49 for row in rows(log))


async def test_a_loaded_run_screen_keeps_its_objects_out_of_full_collections(project: Path) -> None:
    from podium.tui.app import PodiumApp
    from tests.tui.test_app_parts import open_run, seed_run

    await seed_run(project)
    gc.unfreeze()
    before = gc.get_threshold()
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(pilot, app)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD  # render garbage dies young
    assert gc.get_threshold() == before  # the process gets its own settings back
    gc.unfreeze()


async def test_a_reply_that_was_only_a_signal_leaves_no_empty_message() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        log = app.query_one(AgentLog)
        log.add_note("before", "status")
        log.stream(KEY, "ana · t1", '```json\n{"action": "done"}\n```')
        log.add_note("after", "status")
        await pilot.pause()
        log.finish(KEY, "ana · t1", "")
        await pilot.pause()
        assert log.texts() == ["before", "after"]
        assert log.virtual_size.height == 2


async def test_signals_are_taken_out_of_the_message_shown(project: Path) -> None:
    from podium import events as ev
    from podium.tui.app import PodiumApp
    from tests.tui.test_app_parts import open_run, seed_run

    await seed_run(project)
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_run(pilot, app)
        assert app.session.is_open
        reply = 'COP 3.1 holds at −15 °C.\n\n```json\n{"action": "done", "summary": "checked"}\n```'
        await app.session.store.append_event(ev.MESSAGE_ADDED, "r1", message_id=7, agent="ana",
                                             subtask_id="t1", role="assistant", phase="execution",
                                             content=reply)
        log = screen.query_one("#log-all", AgentLog)
        await wait_for(pilot, lambda: log.texts("message"), what="message")
        assert log.texts("message") == ["COP 3.1 holds at −15 °C."]


async def test_a_theme_change_repaints_notes_and_code_in_its_colours() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        app.theme = "textual-dark"
        log = app.query_one(AgentLog)
        log.add_note("⚑ guidance", "guidance")
        log.add_message("ana", "```python\nx = 1\n```")
        await pilot.pause()

        def colours() -> set[str]:
            lines = [line for entry in log.entries for line in entry.lines(log, log._width)]
            return {str(seg.style.color) for line in lines for seg in line if seg.style and seg.style.color}

        dark = colours()
        app.theme = "textual-light"
        await pilot.pause()
        await pilot.pause()
        assert colours() != dark


async def test_blocks_are_spaced_by_one_blank_row_and_code_keeps_its_background() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        log = app.query_one(AgentLog)
        source = ("Costs:\n\n| heating | € / year |\n|---|---|\n| oil | 2 900 |\n\n"
                  "```python\nx = 1\n```\n\nAfter.")
        log.add_message("ana", source)
        await pilot.pause()
        shown = rows(log)
        assert shown[-1].strip() == "After." and "x = 1" in "\n".join(shown)
        message = log.entries[-1].lines(log, log._width)

        def empty(line: list) -> bool:  # no text and no background (a code block's padding has one)
            return all(not seg.text.strip() and not (seg.style and seg.style.bgcolor) for seg in line)

        assert not any(empty(a) and empty(b) for a, b in itertools.pairwise(message))
        assert any(seg.style and seg.style.bgcolor for line in message for seg in line)  # the code block
