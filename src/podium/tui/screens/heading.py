"""The top of the home and board screens: a title line and a read-only banner.

Both screens show the same two lines (the banner only while the screen has the `-readonly`
class, i.e. an archive opened with `podium open`); each keeps its own widget ids.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text


def heading_css(screen: str, title_id: str, banner_id: str) -> str:
    """The CSS for the title line `#title_id` and the banner `#banner_id` of the screen class `screen`."""
    return f"""
    {screen} #{title_id} {{ height: 1; background: $panel; padding: 0 1; }}
    {screen} #{banner_id} {{ height: auto; background: $warning; color: $background; text-style: bold;
        padding: 0 1; display: none; }}
    {screen}.-readonly #{banner_id} {{ display: block; }}
    """


def title_line(project: Path, what: str = "") -> Text:
    """The name Podium in reverse, then what the screen shows (if it says) and the project file."""
    title = Text(" Podium ", "bold reverse")
    if what:
        title.append(f"  {what}", "bold")
    title.append(f"  {project}")
    return title
