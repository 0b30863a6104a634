"""Keep the garbage collector's full passes short while the screen is live.

A full (oldest-generation) collection walks every tracked object: with a
run on screen that is a few hundred thousand (Textual's widgets, styles and
line caches), and one pass took ~120 ms, a keypress landing behind it
waited that long. Once a screen has loaded, what exists is mostly what
stays: collect once, then freeze it out of later passes. Unfreezing first
lets a replaced screen's objects be collected at the next settle.
"""

from __future__ import annotations

import gc


def settle() -> None:
    gc.unfreeze()
    gc.collect()
    gc.freeze()
