"""Embedders: the built-in hashed one, and gateway models (the scripted model's embeddings)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from podium.errors import PodiumError
from podium.memory.embedders import GatewayEmbedder, HashedEmbedder, make_embedder
from podium.memory.text import content_words, text_hash


async def test_hashed_vectors_are_unit_length_and_deterministic():
    a, b = HashedEmbedder(), HashedEmbedder()
    va = await a.embed(["Heat pumps in cold climates", "Our customers are in Norway"])
    vb = await b.embed(["Heat pumps in cold climates", "Our customers are in Norway"])
    assert va.shape == (2, 384) and va.dtype == np.float32
    assert np.allclose(np.linalg.norm(va, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(va, vb)


def test_hashed_vectors_do_not_depend_on_the_process_hash_seed():
    code = (
        "from podium.memory.embedders import HashedEmbedder;"
        "print(HashedEmbedder(64).embed_one('Fjordkraft invoices carry FK').round(5).tolist())"
    )
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1


async def test_related_texts_are_closer_than_unrelated_ones():
    e = HashedEmbedder()
    fact = e.embed_one("Our customers are in Norway")
    related = e.embed_one("Estimate heating costs for our Norwegian customers")
    unrelated = e.embed_one("Write a haiku about autumn leaves")
    assert float(fact @ related) >= e.floor > float(fact @ unrelated)
    # Misspelt words still meet through shared character n-grams.
    typo = e.embed_one("insulaton roofs warmth loss")
    assert float(typo @ e.embed_one("Poorly insulated houses lose warmth through the roof")) >= e.floor


def test_empty_and_stopword_only_texts():
    e = HashedEmbedder(32)
    assert not e.embed_one("").any()
    assert e.embed_one("the and of").any()  # nothing but stopwords: keep them rather than return zero


def test_make_embedder_names():
    assert make_embedder("hashed").dim == 384
    assert make_embedder("hashed:128").dim == 128
    assert make_embedder("hashed", dim=96).dim == 96
    with pytest.raises(PodiumError):
        make_embedder("hashed:big")
    with pytest.raises(PodiumError):
        make_embedder("openai/text-embedding-3-small", None)


def test_text_identity_ignores_case_and_spacing():
    assert text_hash("Our customers  are in\nNorway") == text_hash("our customers are in norway")
    assert text_hash("Norway") != text_hash("Sweden")
    assert content_words("The heat pumps of Norway") == ["heat", "pumps", "norway"]


async def test_gateway_embedder_learns_dimension_and_normalises(tmp_path):
    from podium.llm.gateway import Gateway

    script = tmp_path / "embed.toml"
    script.write_text("embedding_dim = 24\n")
    e = GatewayEmbedder(f"scripted:{script}", Gateway(), batch=2)
    assert e.dim is None
    vecs = await e.embed(["one text", "two texts", "three texts here"])  # two batches
    assert vecs.shape == (3, 24) and e.dim == 24
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert await e.probe() == 24


async def test_gateway_embedder_reports_a_broken_model_as_a_podium_error(tmp_path):
    from podium.llm.gateway import Gateway

    e = GatewayEmbedder(f"scripted:{tmp_path / 'missing.toml'}", Gateway())
    with pytest.raises(PodiumError):
        await e.embed(["anything"])


def test_configured_embedder_precedence(tmp_path, monkeypatch):
    from podium.memory.config import configured_embedder, floor_override

    project = tmp_path / "p.podium"
    assert configured_embedder(project) == ("hashed", "built-in default")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "podium.toml").write_text('[memory]\nembedder = "hashed:64"\n')
    assert configured_embedder(project)[0] == "hashed:64"
    (tmp_path / "podium.toml").write_text('[memory]\nembedder = "ollama/nomic-embed-text"\n')
    assert configured_embedder(project) == ("ollama/nomic-embed-text", str(tmp_path / "podium.toml"))
    monkeypatch.setenv("PODIUM_EMBEDDER", "local")
    assert configured_embedder(project) == ("local", "$PODIUM_EMBEDDER")
    (tmp_path / "podium.toml").write_text("[memory\n")
    monkeypatch.delenv("PODIUM_EMBEDDER")
    with pytest.raises(PodiumError, match="cannot read"):
        configured_embedder(project)
    monkeypatch.setenv("PODIUM_MEMORY_FLOOR", "0.4")
    assert floor_override() == 0.4
    monkeypatch.setenv("PODIUM_MEMORY_FLOOR", "high")
    with pytest.raises(PodiumError):
        floor_override()
