"""Where a growing Markdown message can be cut into blocks that will not change.

A streamed message is rendered in chunks: everything before the last safe
cut is rendered once and kept; only the text after it is rendered again as
tokens arrive. A cut is safe at a blank line outside a fenced code block
when the next line starts at the margin (an indented line may still belong
to the list item or code block above it).
"""

from __future__ import annotations

_FENCES = ("```", "~~~")


def last_safe_cut(text: str, start: int = 0) -> int:
    """The offset of the last safe cut in `text` after `start` (`start` if none).

    `start` must itself be a safe cut (or 0): fence state is counted from there.
    """
    in_fence = False
    cut = start
    blank_before = False
    pos = start
    length = len(text)
    while pos < length:
        end = text.find("\n", pos)
        if end == -1:
            line, complete = text[pos:], False
        else:
            line, complete = text[pos:end], True
        stripped = line.strip()
        if blank_before and not in_fence and stripped and not line[0].isspace() and pos > start:
            cut = pos
        if stripped.startswith(_FENCES):
            in_fence = not in_fence
        if not complete:
            break
        blank_before = not stripped
        pos = end + 1
    return cut
