"""The key footer: the keys that fit the terminal's width, most important first.

Textual's Footer lays every key out in one row and clips what does not fit,
so at 80 columns the last keys (quit, the keys list) were cut. This one
keeps the keys list and quit always, at the right next to the command
palette, and adds the others whole, in order of importance
(keys.FOOTER_RANKS), while they fit; a key left out still works and `?`
lists it.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from podium.tui.keys import FOOTER_PINNED, footer_rank


class FooterGap(Widget):
    """Takes the room between the keys that fit and the pinned ones."""

    DEFAULT_CSS = "FooterGap { width: 1fr; height: 1; }"

    def render(self) -> str:
        return ""


def key_cells(key: FooterKey, compact: bool) -> int:
    """Columns a key takes in the footer, as Textual's Footer CSS lays it out: ` k desc ` plain,
    `k desc` and a margin compact. The palette key is drawn compact either way (the footer does
    not bind its style), with its left border and a right padding or margin."""
    description = cell_len(key.description) + 1 if key.description else 0
    if key.has_class("-command-palette"):
        return cell_len(key.key_display) + description + 2
    return cell_len(key.key_display) + description + (1 if compact else 2)


def fit(keys: list[FooterKey], ids: list[str | None], width: int, compact: bool) -> list[Widget]:
    """The keys to show in `width` columns: the pinned ones and the palette key always, then the
    others by rank (ties: in the footer's order) while they fit; one that does not fit leaves its
    room to a shorter, later one. Shown in the footer's order, the pinned ones after a gap, at the
    right."""
    palette = [k for k in keys if k.has_class("-command-palette")]
    ranked = sorted((FOOTER_PINNED.index(i), n) for n, i in enumerate(ids) if i in FOOTER_PINNED)
    pinned = [keys[n] for _, n in ranked]
    others = [(n, k, i) for n, (k, i) in enumerate(zip(keys, ids, strict=True))
              if k not in palette and k not in pinned]
    room = width - sum(key_cells(k, compact) for k in pinned + palette) - 1  # the gap is one at least
    shown: set[int] = set()
    for n, key, _ in sorted(others, key=lambda o: (footer_rank(o[2]), o[0])):
        cells = key_cells(key, compact)
        if cells <= room:
            room -= cells
            shown.add(n)
    return [*(k for n, k, _ in others if n in shown), FooterGap(), *pinned, *palette]


class KeyFooter(Footer):
    """Textual's footer, fitted to its width (see the module's doc)."""

    def __init__(self) -> None:
        super().__init__()
        self._fitted_width = 0

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        if not all(isinstance(w, FooterKey) for w in widgets):
            yield from widgets  # binding groups (Podium defines none): Textual's own row
            return
        keys = [w for w in widgets if isinstance(w, FooterKey)]
        active = self.screen.active_bindings
        ids = [active[k.key].binding.id if k.key in active else None for k in keys]
        self._fitted_width = self.size.width or self.app.size.width
        yield from fit(keys, ids, self._fitted_width, self.compact)

    def on_resize(self) -> None:
        if self.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)
