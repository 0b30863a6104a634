"""Embedders behind one interface: built-in hashed n-grams, or a model via the gateway.

An embedder has a `name` and a `dim`; together they identify the vector
space its vectors live in. Vectors from different spaces are never compared:
the store keeps one vec0 table per space, and changing the embedder means
re-embedding into a new space (`podium memory reembed`).
"""

from __future__ import annotations

import itertools
import zlib
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np

from podium.errors import PodiumError
from podium.memory.text import STOPWORDS, words

HASHED = "hashed"
DEFAULT_HASHED_DIM = 384


class EmbedderError(PodiumError):
    """The embedder could not produce vectors (model unreachable, wrong output)."""


@runtime_checkable
class Embedder(Protocol):
    name: str
    # Cosine similarity below which a memory is not relevant: it depends on
    # how the embedder spreads unrelated texts, so each embedder sets its own.
    floor: float

    @property
    def dim(self) -> int | None:
        """The vector length, or None until the first call has revealed it."""

    async def embed(self, texts: list[str]) -> np.ndarray:
        """float32 array (len(texts), dim), each row L2-normalised (zero rows stay zero)."""


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


# ----------------------------------------------------------------- hashed


def _hash(feature: str) -> int:
    # zlib.crc32 is stable across processes (Python's hash() is salted) and fast.
    return zlib.crc32(feature.encode("utf-8"))


class HashedEmbedder:
    """Signed feature hashing of words, word pairs and character n-grams. No model.

    Words give exact-term overlap; character 3- and 4-grams of each word
    (with boundary marks) let "Norwegian" meet "Norway" and survive typos;
    pairs of adjacent words add a little phrase sense. Each feature lands
    in one of `dim` buckets with a hash-chosen sign, so unrelated features
    cancel out on average instead of piling up. Deterministic: the same text
    gives the same vector in every process, so archives stay searchable.
    """

    # Unrelated texts land around 0.0 +- 0.05 (1/sqrt(dim) at 384); a shared
    # content word, or a few misspelt ones sharing n-grams, gives 0.17 or more.
    floor = 0.15

    def __init__(self, dim: int = DEFAULT_HASHED_DIM) -> None:
        if dim < 16:
            raise PodiumError(f"hashed embedder dimension must be at least 16, not {dim}")
        self.name = HASHED
        self._dim = dim
        self._word_features = lru_cache(maxsize=200_000)(self._word_features_uncached)

    @property
    def dim(self) -> int:
        return self._dim

    def _bucket(self, feature: str, weight: float) -> tuple[int, float]:
        h = _hash(feature)
        # Bucket from the low bits, sign from the top bit: independent enough.
        return h % self._dim, weight if h & 0x8000_0000 else -weight

    def _word_features_uncached(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        feats = [self._bucket("w:" + word, 1.0)]
        marked = f"<{word}>"
        grams = [marked[i : i + n] for n in (3, 4) for i in range(len(marked) - n + 1)]
        if grams:
            # A word's n-grams share one unit of weight, so long words do not dominate.
            share = 1.0 / np.sqrt(len(grams))
            feats.extend(self._bucket("c:" + g, share) for g in grams)
        idx, val = zip(*feats, strict=True)
        return np.array(idx, dtype=np.int64), np.array(val, dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        tokens = words(text)
        content = [w for w in tokens if w not in STOPWORDS] or tokens
        vec = np.zeros(self._dim, dtype=np.float32)
        if not content:
            return vec
        parts = [self._word_features(w) for w in content]
        idx = np.concatenate([p[0] for p in parts])
        val = np.concatenate([p[1] for p in parts])
        vec += np.bincount(idx, weights=val, minlength=self._dim).astype(np.float32)
        for a, b in itertools.pairwise(content):
            i, v = self._bucket(f"b:{a} {b}", 0.5)
            vec[i] += v
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    async def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.stack([self.embed_one(t) for t in texts])


# ----------------------------------------------------------------- gateway


class GatewayEmbedder:
    """Any litellm embedding model, or the local model ("local"), through the gateway.

    The dimension is whatever the model returns; it is learned from the
    first call and checked on every later one.
    """

    # Neural embedders put unrelated texts well above zero; 0.3 suits the
    # common API models. Override with $PODIUM_MEMORY_FLOOR for others.
    floor = 0.3

    # SmolLM2's mean-pooled embeddings barely separate topics: unrelated
    # sentences measure 0.75-0.9 here. Only near-paraphrases clear this.
    LOCAL_FLOOR = 0.9

    def __init__(self, model: str, gateway: Any, *, batch: int = 64) -> None:
        self.name = model
        if model == "local":
            self.floor = self.LOCAL_FLOOR
        self._gateway = gateway
        self._batch = batch
        self._dim: int | None = None

    @property
    def dim(self) -> int | None:
        return self._dim

    async def embed(self, texts: list[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), self._batch):
            chunk = texts[start : start + self._batch]
            got = await self._gateway.embed(chunk, model=self.name)
            if len(got) != len(chunk):
                raise EmbedderError(
                    f"embedding model {self.name} returned {len(got)} vectors for {len(chunk)} texts"
                )
            rows.extend(got)
        if not rows:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        lengths = {len(r) for r in rows}
        if len(lengths) != 1 or 0 in lengths:
            raise EmbedderError(f"embedding model {self.name} returned vectors of mixed length")
        dim = lengths.pop()
        if self._dim is not None and dim != self._dim:
            raise EmbedderError(
                f"embedding model {self.name} changed dimension ({self._dim} -> {dim})"
            )
        self._dim = dim
        return normalise_rows(np.array(rows, dtype=np.float32))

    async def probe(self) -> int:
        """Learn the dimension with one tiny call (needed before a space can be created)."""
        if self._dim is None:
            await self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim


def make_embedder(name: str, gateway_factory: Any = None, *, dim: int | None = None) -> Embedder:
    """`hashed` or `hashed:DIM` for the built-in one; anything else is a gateway model.

    `dim` (from a recorded space) sizes the hashed embedder to match it.
    """
    if name == HASHED or name.startswith(HASHED + ":"):
        _, _, given = name.partition(":")
        if given and not given.isdigit():
            raise PodiumError(f"bad embedder {name!r}: use hashed or hashed:DIM")
        return HashedEmbedder(int(given) if given else dim or DEFAULT_HASHED_DIM)
    if gateway_factory is None:
        raise PodiumError(f"embedder {name!r} needs the model gateway, which is not available here")
    return GatewayEmbedder(name, gateway_factory())
