"""Keep the garbage collector's pauses short while the screen is live.

Two things made keypresses wait behind the collector under streaming load:

- Full (oldest-generation) passes walk every tracked object: with a run on
  screen that is a few hundred thousand (Textual's widgets, styles and line
  caches), ~120 ms a pass. Once a screen has loaded, what exists is mostly
  what stays: `settle()` collects once, then freezes it out of later passes
  (unfreezing first lets a replaced screen's objects go at the next settle).
- Rendering makes short-lived reference cycles (a Textual Strip caches
  itself), ~20k objects a second. With the default young-generation
  threshold (700) they are scanned while still in use and promoted, so the
  old generation fills with garbage only a full pass frees. A larger young
  generation lets them die young: collections are fewer and short, and full
  passes rare. `podium bench tui` shows the difference (p95 and max).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def tune() -> tuple[int, int, int]:
    """Set the young generation's threshold for the app; returns the thresholds to restore."""
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, before[1], before[2])
    return before


def restore(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(*thresholds)


def settle() -> None:
    gc.unfreeze()
    gc.collect()
    gc.freeze()
