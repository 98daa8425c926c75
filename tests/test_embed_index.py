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


def test_the_direct_path_gives_sentence_transformers_vectors(embedder, seed_text):
    """The default model skips importing sentence-transformers; its vectors must not change."""
    from sentence_transformers import SentenceTransformer

    from newsqa.embed import MeanPooledEncoder

    assert isinstance(embedder.model, MeanPooledEncoder)
    sentences = [s.text for s in split_sentences(seed_text)] + ["x", "a " * 400]
    reference = SentenceTransformer(str(bundled_embedder_path()), device="cpu").encode(
        sentences, normalize_embeddings=True
    )
    assert np.abs(embedder.encode(sentences) - reference).max() < 1e-5


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


def _clustered(count: int, dimension: int = 384, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(32, dimension))
    points = centres[rng.integers(0, 32, count)] + 0.3 * rng.normal(size=(count, dimension))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def test_large_indexes_switch_to_ivf_and_back(monkeypatch):
    import newsqa.index as index_module

    monkeypatch.setattr(index_module, "APPROXIMATE_FROM", 2000)
    vectors = _clustered(3000)
    index = HybridIndex(384)
    index.add(list(range(1000)), vectors[:1000], [f"chunk {i}" for i in range(1000)])
    assert not index.approximate
    index.add(list(range(1000, 3000)), vectors[1000:], [f"chunk {i}" for i in range(1000, 3000)])
    assert index.approximate and len(index) == 3000
    assert set(index_module.stored_ids(index.vectors).tolist()) == set(range(3000))
    hits = index.search(vectors[1234], "nothing lexical", k=3)
    assert hits[0].chunk_id == 1234 and hits[0].similarity == pytest.approx(1.0, abs=1e-4)
    scoped = index.search(vectors[10], "", k=2, allowed={10, 11})
    assert [h.chunk_id for h in scoped][0] == 10 and len(scoped) == 2
    index.remove(list(range(2200)))
    assert not index.approximate and len(index) == 800
    assert index.search(vectors[2500], "", k=1)[0].chunk_id == 2500


def test_embedding_batches_keep_padding_within_the_token_budget():
    from newsqa.embed import TOKENS_PER_BATCH, token_budget_batches

    lengths = [12, 256, 30, 9, 200, 45, 256, 18] * 20
    batches = token_budget_batches(lengths, most=64)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 64
        assert len(batch) * max(lengths[i] for i in batch) <= TOKENS_PER_BATCH
    assert len(batches) < len(lengths) / 4  # short sentences still share batches
