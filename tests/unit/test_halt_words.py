"""Halt words: which guidance messages are stop requests."""

from __future__ import annotations

import pytest

from podium.app.halt_words import halt_hint, is_stop_request


@pytest.mark.parametrize("text", [
    "stop", "Stop!", "halt", "halt now", "HALT NOW!!", "stop the run", "abort", "Abort.",
    "please stop", "stop everything", "stop it now please", "cancel the run", "kill it",
    "stop, stop, stop", "halt the execution immediately", "stop all agents", "terminate",
])
def test_stop_requests(text):
    assert is_stop_request(text)


@pytest.mark.parametrize("text", [
    "don't stop", "do not stop", "Don’t halt", "never stop", "stop using the web",
    "stop after t3", "stop citing blogs", "halt the analysis of costs and focus on installs",
    "Use metric units", "", "   ", "keep going", "stopwatch the timings", "nonstop",
    "stop " + "and " * 12,
])
def test_not_stop_requests(text):
    assert not is_stop_request(text)


def test_the_hint_says_how_to_halt():
    hint = halt_hint("abc123", " stop ")
    assert "podium halt abc123" in hint and "--as-guidance" in hint and "'stop'" in hint
