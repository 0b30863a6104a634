"""AgentLog: one transcript drawn line by line (Textual's Line API).

Every entry (a note, a message header, a Markdown message) is rendered to
lines once per width and kept; the widget draws only the rows on screen.
A transcript is one widget however long it grows, so new text never makes
the screen lay out hundreds of Markdown blocks again: with eight agents
streaming, a mounted-widget transcript spent most of each frame in layout
and keypresses waited behind it. A streamed message re-renders only the
text after its last safe cut (see markdown_chunks).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from typing import ClassVar, Protocol

from rich.console import RenderableType
from rich.markdown import Markdown as RichMarkdown
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from podium.tui.markdown_chunks import last_safe_cut

NOTE_KINDS = ("consult", "guidance", "memory", "tool", "help", "status", "plan", "error")
MARKER_TEXT = "▼ new text below (End to follow)"
Line = list[Segment]  # a rendered row; Strips are made only to draw (each holds a dozen caches)


class Painter(Protocol):
    """How entries turn into lines: the log supplies the console, the theme's styles and code colours."""

    def paint(self, renderable: RenderableType, width: int) -> list[Line]: ...

    def paint_markdown(self, text: str, width: int) -> list[Line]: ...

    def style_for(self, name: str) -> Style: ...


class Entry:
    """Something shown in a transcript: its height for the current width, and its
    lines while it is on screen or was recently (the log keeps few entries' lines:
    every cached line holds dozens of objects the garbage collector must walk)."""

    kind = "entry"

    def __init__(self) -> None:
        self._width = -1
        self._height = 0
        self._lines: list[Line] | None = None
        self._stale = False  # the text changed: height and lines must be rendered again

    @property
    def plain(self) -> str:
        raise NotImplementedError

    def _render(self, painter: Painter, width: int) -> list[Line]:
        raise NotImplementedError

    def lines(self, painter: Painter, width: int) -> list[Line]:
        if width != self._width or self._lines is None or self._stale:
            self._width = width
            self._stale = False
            self._lines = self._render(painter, width)
            self._height = len(self._lines)
        return self._lines

    def height(self, painter: Painter, width: int) -> int:
        if width != self._width or self._stale:
            self.lines(painter, width)
        return self._height

    @property
    def has_lines(self) -> bool:
        return self._lines is not None

    def drop_lines(self) -> None:
        self._lines = None

    def invalidate(self) -> None:
        self._width = -1
        self._lines = None


class NoteEntry(Entry):
    """One line of something that is not model text: consultation, guidance, memory, tool…"""

    def __init__(self, text: Text, kind: str) -> None:
        super().__init__()
        self.text = text
        self.kind = kind

    @property
    def plain(self) -> str:
        return self.text.plain

    def _render(self, painter: Painter, width: int) -> list[Line]:
        text = self.text.copy()
        text.stylize(painter.style_for(self.kind), 0, len(text))
        return painter.paint(Padding(text, (0, 1, 0, 2)), width)


class HeaderEntry(Entry):
    """Who is speaking, and in which subtask and phase; a blank line above."""

    kind = "header"

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    @property
    def plain(self) -> str:
        return self.text

    def _render(self, painter: Painter, width: int) -> list[Line]:
        header = Padding(Text(self.text, painter.style_for("header")), (0, 1))
        return [_blank(width), *painter.paint(header, width)]


class MessageEntry(Entry):
    """A model's message as Markdown.

    While it streams, the text before its last safe cut is rendered once and
    kept; each frame re-renders only the rest. A finished message is rendered
    whole, when it is on screen.
    """

    kind = "message"

    def __init__(self, source: str = "", *, streaming: bool = False) -> None:
        super().__init__()
        self.source = source
        self.streaming = streaming
        self._sealed: list[Line] = []
        self._sealed_upto = 0

    @property
    def plain(self) -> str:
        return self.source

    def append(self, text: str) -> None:
        self.source += text
        self._stale = True  # the sealed lines stay

    def replace(self, source: str) -> None:
        self.source = source
        self.streaming = False
        self.invalidate()

    def invalidate(self) -> None:
        super().invalidate()
        self._sealed, self._sealed_upto = [], 0

    def lines(self, painter: Painter, width: int) -> list[Line]:
        if width != self._width:
            self._sealed, self._sealed_upto = [], 0
        return super().lines(painter, width)

    def _render(self, painter: Painter, width: int) -> list[Line]:
        if not self.streaming:
            return painter.paint_markdown(self.source, width)
        cut = last_safe_cut(self.source, self._sealed_upto)
        if cut > self._sealed_upto:
            chunk = painter.paint_markdown(self.source[self._sealed_upto:cut], width)
            self._sealed = _join(self._sealed, chunk, width)
            self._sealed_upto = cut
        return _join(self._sealed, painter.paint_markdown(self.source[self._sealed_upto:], width), width)


def _is_blank(line: Line) -> bool:
    return all(not segment.text.strip() and not (segment.style and segment.style.bgcolor) for segment in line)


def _tidy_blank(lines: list[Line]) -> list[Line]:
    """Without the extra empty rows Rich puts around some blocks (a table's frame): blocks
    are spaced by one blank line, however the message was cut while it streamed."""
    tidy: list[Line] = []
    for line in lines:
        if _is_blank(line) and (not tidy or _is_blank(tidy[-1])):
            continue
        tidy.append(line)
    while tidy and _is_blank(tidy[-1]):
        tidy.pop()
    return tidy


def _blank(width: int) -> Line:
    return [Segment(" " * width)]


def _join(above: list[Line], below: list[Line], width: int) -> list[Line]:
    """Two runs of Markdown blocks, a blank line between them as Markdown would have."""
    if above and below:
        return [*above, _blank(width), *below]
    return [*above, *below]


class AgentLog(ScrollView, can_focus=True):
    """One agent's (or everyone's) transcript.

    Follows new text unless the person scrolled up; then the bottom row says
    that new text is below until they scroll back to the end.
    """

    MAX_ENTRIES = 1200
    RETAINED_ENTRIES = 64  # entries whose rendered lines are kept (a screen shows fewer)
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "transcript--header", "transcript--marker", "transcript--note",
        *(f"transcript--{kind}" for kind in NOTE_KINDS),
    }
    DEFAULT_CSS = """
    AgentLog { height: 1fr; overflow-x: hidden; overflow-y: scroll; scrollbar-size-vertical: 1;
        background: transparent; }
    AgentLog > .transcript--header { color: $primary; text-style: bold; }
    AgentLog > .transcript--marker { background: $primary 40%; color: $text; }
    AgentLog > .transcript--note { color: $text-muted; }
    AgentLog > .transcript--consult { color: $secondary; }
    AgentLog > .transcript--guidance { color: $warning; text-style: bold; }
    AgentLog > .transcript--memory { color: $accent; text-style: italic; }
    AgentLog > .transcript--tool { color: $foreground 70%; }
    AgentLog > .transcript--help { color: $warning; text-style: bold; background: $warning 15%; }
    AgentLog > .transcript--status { color: $text-muted; }
    AgentLog > .transcript--plan { color: $primary; }
    AgentLog > .transcript--error { color: $error; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[Entry] = []
        self._streams: dict[object, MessageEntry] = {}
        self._ends: list[int] = []  # cumulative line count after each entry
        self._clean = 0  # entries before this index have up-to-date ends
        self._following = True
        self._behind = False
        self._styles: dict[str, Style] | None = None
        self._retained: OrderedDict[int, Entry] = OrderedDict()

    # ------------------------------------------------------------ content

    def add_note(self, text: str | Text, kind: str) -> None:
        # Text, not markup: model and user text may contain [brackets].
        self._add(NoteEntry(Text(text) if isinstance(text, str) else text, kind))

    def add_message(self, header: str, content: str) -> None:
        self._add(HeaderEntry(header), MessageEntry(content))

    def stream(self, key: object, header: str, text: str) -> None:
        """Append streamed text to the message for `key`, starting it if new."""
        entry = self._streams.get(key)
        if entry is None:
            entry = MessageEntry(streaming=True)
            self._streams[key] = entry
            self._add(HeaderEntry(header), entry)
        entry.append(text)
        self._changed(self._index(entry))

    def finish(self, key: object, header: str, content: str) -> None:
        """The whole message landed: replace the streamed text with it (or add it)."""
        entry = self._streams.pop(key, None)
        if not content.strip():  # nothing to read (the reply was only a signal): no message
            if entry is not None:
                self._remove_message(entry)
            return
        if entry is None:
            self.add_message(header, content)
            return
        entry.replace(content)
        self._changed(self._index(entry))

    def _remove_message(self, entry: MessageEntry) -> None:
        index = self._index(entry)
        first = index - 1 if index and isinstance(self.entries[index - 1], HeaderEntry) else index
        del self.entries[first:index + 1]
        self._retained.pop(id(entry), None)
        self._ends = self._ends[:first]
        self._clean = first
        self._changed(first)

    def is_streaming(self, key: object) -> bool:
        return key in self._streams

    def clear(self) -> None:
        self.entries.clear()
        self._retained.clear()
        self._streams.clear()
        self._ends.clear()
        self._clean = 0
        self._behind = False
        self._following = True
        self._update_size()
        self.scroll_to(y=0, animate=False, immediate=True)

    def texts(self, kind: str | None = None) -> list[str]:
        """The plain text of each entry (of one kind: a note kind, "header" or "message")."""
        return [e.plain for e in self.entries if kind is None or e.kind == kind]

    def notes(self) -> list[str]:
        """The plain text of every note (consultation, guidance, status…)."""
        return [e.plain for e in self.entries if isinstance(e, NoteEntry)]

    def _add(self, *entries: Entry) -> None:
        first = len(self.entries)
        self.entries.extend(entries)
        if len(self.entries) > self.MAX_ENTRIES:
            first = self._prune()
        self._changed(first)

    def _prune(self) -> int:
        """Drop the oldest entries (never a message still streaming); returns 0 (all moved)."""
        live = set(map(id, self._streams.values()))
        for above, entry in zip(self.entries, self.entries[1:], strict=False):
            if id(entry) in live and isinstance(above, HeaderEntry):
                live.add(id(above))  # a live message keeps its header
        excess = len(self.entries) - self.MAX_ENTRIES
        kept: list[Entry] = []
        for entry in self.entries:
            if excess > 0 and id(entry) not in live:
                excess -= 1
                continue
            kept.append(entry)
        self.entries = kept
        alive = set(map(id, kept))
        for key in [key for key in self._retained if key not in alive]:
            del self._retained[key]
        return 0

    def _index(self, entry: Entry) -> int:
        # Streams are near the end: search from there.
        for i in range(len(self.entries) - 1, -1, -1):
            if self.entries[i] is entry:
                return i
        return 0

    # ------------------------------------------------------------ geometry

    @property
    def _width(self) -> int:
        return self.scrollable_content_region.width

    # The Painter entries draw with: this log's console, theme styles and code colours.

    def style_for(self, name: str) -> Style:
        if self._styles is None:
            self._styles = {kind: self.get_component_rich_style(f"transcript--{kind}", partial=True)
                            for kind in ("header", *NOTE_KINDS)}
        return self._styles.get(name, Style())

    def paint(self, renderable: RenderableType, width: int) -> list[Line]:
        console = self.app.console
        lines = console.render_lines(renderable, console.options.update_width(width), pad=False)
        return [Segment.adjust_line_length(line, width) for line in lines]

    def paint_markdown(self, text: str, width: int) -> list[Line]:
        if not text.strip():
            return []
        code_theme = "monokai" if self.app.current_theme.dark else "friendly"
        markdown = Padding(RichMarkdown(text, code_theme=code_theme, hyperlinks=False), (0, 1, 0, 2))
        return _tidy_blank(self.paint(markdown, width))

    def _lines_of(self, entry: Entry) -> list[Line]:
        lines = entry.lines(self, self._width)
        self._retain(entry)
        return lines

    def _retain(self, entry: Entry) -> None:
        """Keep the lines of the entries drawn last; drop the oldest (their height stays)."""
        retained = self._retained
        key = id(entry)
        if key in retained:
            retained.move_to_end(key)
            return
        retained[key] = entry
        while len(retained) > self.RETAINED_ENTRIES:
            _, old = retained.popitem(last=False)
            old.drop_lines()

    def _changed(self, first: int) -> None:
        self._clean = min(self._clean, first)
        was_at_end = self._following
        self._update_size()
        if was_at_end:
            self._scroll_to_end()
        elif not self._behind:
            self._behind = True
        self.refresh()

    def _update_size(self) -> None:
        width = self._width
        if width <= 0:
            return  # not laid out yet: measured on the first resize
        ends = self._ends[: self._clean]
        total = ends[-1] if ends else 0
        for entry in self.entries[self._clean:]:
            total += entry.height(self, width)
            if entry.has_lines:
                self._retain(entry)
            ends.append(total)
        self._ends = ends
        self._clean = len(self.entries)
        size = Size(width, total)
        if size != self.virtual_size:
            # Set without the reactive's layout refresh: this widget's own size does not
            # change, so the screen need not be laid out again; only the scrollbar moves.
            self.set_reactive(AgentLog.virtual_size, size)
            self._scroll_update(size)

    def _scroll_to_end(self) -> None:
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self._following = True

    def on_resize(self) -> None:
        self._relayout()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        if self.is_mounted:
            self._relayout()

    def _relayout(self) -> None:
        for entry in self.entries:
            entry.invalidate()
        self._clean = 0
        following = self._following
        self._update_size()
        if following:
            self._scroll_to_end()
        self.refresh()

    # ------------------------------------------------------------ following

    @property
    def following(self) -> bool:
        return self._following

    @property
    def behind(self) -> bool:
        """True when the person scrolled up and text arrived below."""
        return self._behind

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        at_end = new >= self.max_scroll_y
        if at_end != self._following or (at_end and self._behind):
            self._following = at_end
            if at_end:
                self._behind = False
            self.refresh()

    def release_anchor(self) -> None:
        self._following = False

    def action_scroll_end(self) -> None:
        self._scroll_to_end()
        self._behind = False
        self.refresh()

    # ------------------------------------------------------------ drawing

    def _line(self, y: int) -> Line | None:
        if not self._ends or y < 0 or y >= self._ends[-1]:
            return None
        index = bisect_right(self._ends, y)
        start = self._ends[index - 1] if index else 0
        lines = self._lines_of(self.entries[index])
        return lines[y - start] if y - start < len(lines) else None

    def render_line(self, y: int) -> Strip:
        width = self._width
        base = self.rich_style
        if self._behind and y == self.scrollable_content_region.height - 1:
            style = base + self.get_component_rich_style("transcript--marker")
            return Strip([Segment(MARKER_TEXT.center(width), style)], width)
        scroll_x, scroll_y = self.scroll_offset
        line_y = scroll_y + y
        line = self._line(line_y)
        if line is None:
            return Strip.blank(width, base)
        strip = Strip(line, width)
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(line_y)) is not None:
            strip = _highlight(strip, span, self.screen.get_component_rich_style("screen--selection"))
        strip = strip.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)
        return strip.apply_offsets(scroll_x, line_y)

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        width = self._width
        rows = ["".join(segment.text for segment in line).rstrip()
                for entry in self.entries for line in entry.lines(self, width)]
        for entry in self.entries:
            if id(entry) not in self._retained:
                entry.drop_lines()
        return selection.extract("\n".join(rows)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()


def _highlight(strip: Strip, span: tuple[int, int], style: Style) -> Strip:
    start, end = span
    end = strip.cell_length if end == -1 else end
    before, middle, after = strip.divide([start, end, strip.cell_length])
    # On top of the text's own colours, as a selection is.
    selected = Strip([Segment(text, (own or Style()) + style, control) for text, own, control in middle])
    return Strip.join([before, selected, after])


