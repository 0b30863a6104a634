"""A command-palette provider that offers what makes sense on the current screen now.

Screens expose `palette_commands()`: (title, help, callback) triples built
from their current state (e.g. "Approve plan v2" only while a plan awaits
approval, "Answer t3's help request" per open request).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

PaletteCommand = tuple[str, str, Callable[[], Any]]


class PodiumCommands(Provider):
    def _commands(self) -> list[PaletteCommand]:
        screen: Any = self.screen
        # The palette is itself a screen; ask the one below it.
        for candidate in reversed(self.app.screen_stack):
            if hasattr(candidate, "palette_commands"):
                screen = candidate
                break
        commands: list[PaletteCommand] = list(getattr(screen, "palette_commands", lambda: [])())
        commands.extend(getattr(self.app, "palette_commands", lambda: [])())
        return commands

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
