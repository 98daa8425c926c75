import numpy as np
import pytest

from newsqa.chunk import chunk_sentences, split_sentences
from newsqa.embed import BUNDLED_SHA256, Embedder, bundled_embedder_path
from newsqa.errors import ModelError
from newsqa.index import HybridIndex


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


def test_bundled_weights_are_the_published_all_minilm(embedder):
    import hashlib

    path = bundled_embedder_path()
    assert hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest() == BUNDLED_SHA256
    assert embedder.dimension == 384


def test_vectors_are_unit_length_and_meaningful(embedder):
    vectors = embedder.encode(
        [
            "Afghan soldiers fled across the border into Pakistan.",
            "Troops from Afghanistan crossed into Pakistani territory.",
            "The recipe needs two cups of flour and an egg.",
        ]
    )
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_unknown_embedding_model_is_a_model_error():
    with pytest.raises(ModelError, match="cannot load embedding model"):
        Embedder("no-such-org/no-such-embedder").encode(["text"])


@pytest.fixture(scope="module")
def seed_index(embedder, seed_text):
    sentences = split_sentences(seed_text)
    chunks = chunk_sentences(seed_text, sentences, embedder.count_tokens, max_tokens=48)
    index = HybridIndex(embedder.dimension)
    index.add(
        list(range(len(chunks))),
        embedder.encode([c.text for c in chunks]),
        [c.text for c in chunks],
    )
    return index, chunks


def test_hybrid_search_finds_the_numbers_and_names_of_the_question(embedder, seed_index):
    index, chunks = seed_index
    for question, needle in [
        ("what happened to the 35 soldiers?", "35 Afghan soldiers"),
        ("Spin Boldak", "Spin Boldak"),
        ("how many district centres are there?", "419"),
    ]:
        hits = index.search(embedder.encode([question])[0], question, k=2)
        assert any(needle in chunks[h.chunk_id].text for h in hits), question


def test_removed_vectors_are_gone(embedder, seed_index, seed_text):
    index, chunks = seed_index
    before = len(index)
    target = next(i for i, c in enumerate(chunks) if "46 members" in c.text)
    index.remove([target])
    assert len(index) == before - 1
    hits = index.search(embedder.encode(["46 members"])[0], "46 members", k=len(chunks))
    assert target not in {h.chunk_id for h in hits}
