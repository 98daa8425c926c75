"""Hybrid retrieval: FAISS inner product over unit vectors plus BM25, fused by reciprocal rank.

BM25 keeps what the dense side blurs: numbers, names, rare words of the question.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RRF_K = 60


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk id with its fused score and its dense (cosine) similarity."""

    chunk_id: int
    score: float
    similarity: float


class HybridIndex:
    """Chunks by integer id; vectors in FAISS (``IndexIDMap2``), words in a BM25 index."""

    def __init__(self, dimension: int):
        import faiss

        self.dimension = dimension
        self.vectors = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._texts: dict[int, str] = {}
        self._bm25 = None
        self._bm25_ids: list[int] = []

    @classmethod
    def from_faiss(cls, vectors, texts: dict[int, str]) -> HybridIndex:
        """An index over a loaded FAISS ``IndexIDMap2`` and the texts of its ids."""
        index = cls(vectors.d)
        index.vectors = vectors
        index._texts = dict(texts)
        return index

    def __len__(self) -> int:
        return int(self.vectors.ntotal)

    def add(self, ids: list[int], vectors: np.ndarray, texts: list[str]) -> None:
        if not ids:
            return
        self.vectors.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )
        self._texts.update(zip(ids, texts))
        self._bm25 = None

    def remove(self, ids: list[int]) -> None:
        self.vectors.remove_ids(np.asarray(ids, dtype=np.int64))
        for chunk_id in ids:
            self._texts.pop(chunk_id, None)
        self._bm25 = None

    def _lexical(self):
        if self._bm25 is None and self._texts:
            import bm25s

            self._bm25_ids = list(self._texts)
            corpus = bm25s.tokenize(
                [self._texts[i] for i in self._bm25_ids], stopwords="en", show_progress=False
            )
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)
        return self._bm25

    def search(
        self, query_vector: np.ndarray, query_text: str, k: int, allowed: set[int] | None = None
    ) -> list[Hit]:
        """Top ``k`` chunks by reciprocal-rank fusion; ``allowed`` limits the ids considered."""
        total = len(self)
        if total == 0 or k <= 0:
            return []
        depth = total if allowed is not None else min(total, max(4 * k, 20))
        scores, ids = self.vectors.search(query_vector.reshape(1, -1).astype(np.float32), depth)
        dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        if allowed is not None:
            dense = [(i, s) for i, s in dense if i in allowed]
        similarity = dict(dense)
        fused: dict[int, float] = {}
        for rank, (chunk_id, _) in enumerate(dense[: max(4 * k, 20)]):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, chunk_id in enumerate(self._lexical_ranking(query_text, k, allowed)):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        ranked = sorted(fused.items(), key=lambda item: -item[1])[:k]
        missing = [i for i, _ in ranked if i not in similarity]
        if missing:
            similarity.update(self._similarities(query_vector, missing))
        return [Hit(i, s, similarity[i]) for i, s in ranked]

    def _lexical_ranking(self, query_text: str, k: int, allowed: set[int] | None) -> list[int]:
        import bm25s

        retriever = self._lexical()
        if retriever is None:
            return []
        tokens = bm25s.tokenize([query_text], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        depth = len(self._bm25_ids) if allowed is not None else min(len(self._bm25_ids), 4 * k)
        results, scores = retriever.retrieve(tokens, k=depth, show_progress=False)
        ranking = [self._bm25_ids[int(d)] for d, s in zip(results[0], scores[0]) if float(s) > 0]
        if allowed is not None:
            ranking = [i for i in ranking if i in allowed]
        return ranking[: max(4 * k, 20)]

    def _similarities(self, query_vector: np.ndarray, ids: list[int]) -> dict[int, float]:
        vectors = np.stack([self.vectors.reconstruct(int(i)) for i in ids])
        return dict(zip(ids, (vectors @ query_vector.reshape(-1)).tolist()))
