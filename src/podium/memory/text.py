"""Text handling shared by the embedder, de-duplication and keyword search."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Letters and digits; underscores split words like FTS5's unicode61 tokenizer does.
_WORD = re.compile(r"[^\W_]+")

# Function words carry no topic: they would make every text look a little
# alike to the embedder and make every keyword query match everything.
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just let me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up use used using
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves s t d ll m re ve
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    """Lower-cased words of `text` in order, stopwords included."""
    return _WORD.findall(normalise(text))


def content_words(text: str) -> list[str]:
    """Words that carry meaning: stopwords dropped, order kept, repeats kept."""
    return [w for w in words(text) if w not in STOPWORDS]


def text_hash(text: str) -> str:
    """Identity of a memory's text: case and spacing do not make a new memory."""
    canonical = " ".join(normalise(text).split())
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
