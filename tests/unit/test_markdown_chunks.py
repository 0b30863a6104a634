"""Safe cuts in a growing Markdown message."""

from podium.tui.markdown_chunks import last_safe_cut


def test_cuts_at_the_last_blank_line_before_text_at_the_margin() -> None:
    text = "First paragraph.\n\nSecond one.\n\nThird, still strea"
    assert text[last_safe_cut(text):] == "Third, still strea"


def test_no_cut_without_a_following_line() -> None:
    assert last_safe_cut("One paragraph.\n\n") == 0
    assert last_safe_cut("One paragraph, no blank line yet") == 0


def test_never_cuts_inside_a_fenced_code_block() -> None:
    text = "Intro.\n\n```python\nx = 1\n\ny = 2\n"
    assert text[last_safe_cut(text):].startswith("```python")
    closed = text + "```\n\nAfter the code."
    assert closed[last_safe_cut(closed):] == "After the code."


def test_indented_continuations_stay_with_the_block_above() -> None:
    text = "- item one\n\n  more of item one\n"
    assert last_safe_cut(text) == 0
    text += "\n- item two"
    assert text[last_safe_cut(text):] == "- item two"


def test_counting_starts_at_a_previous_cut() -> None:
    text = "A.\n\nB.\n\nC."
    first = last_safe_cut(text)
    assert last_safe_cut(text, first) == first
    longer = text + "\n\nD."
    assert longer[last_safe_cut(longer, first):] == "D."
