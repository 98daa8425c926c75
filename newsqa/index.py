"""Hybrid retrieval: FAISS inner product over unit vectors plus BM25, fused by reciprocal rank.

BM25 keeps what the dense side blurs: numbers, names, rare words of the question. The dense side
is exact (a flat index) up to ``APPROXIMATE_FROM`` chunks and an inverted-file index (IVF) above,
where exact search grows slower than a question's generation (benchmarks/bench_retrieval.py).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RRF_K = 60
APPROXIMATE_FROM = 250_000
"""Chunks from which the dense side switches from exact search (14 ms at 100k, 150 ms at 1M on
2 cores) to IVF (4 ms at 1M, recall@10 1.00 on clustered vectors; benchmarks/bench_retrieval.py).
At 100k the IVF's recall was only 0.85-0.93, so exact search keeps going to 250k."""
IVF_PROBE_SHARE = 0.03
"""Share of the IVF lists searched per query (at least ``IVF_MIN_PROBES``)."""
IVF_MIN_PROBES = 32
IVF_TRAINING_POINTS = 64
"""Training vectors per IVF list (k-means cost stays bounded)."""


def exact_index(dimension: int):
    """A flat inner-product index with our own chunk ids."""
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def approximate_index(ids: np.ndarray, vectors: np.ndarray, seed: int = 0):
    """An IVF inner-product index over ``vectors`` (about sqrt(n) lists), ids kept, removable."""
    import faiss

    count, dimension = vectors.shape
    lists = int(min(max(np.sqrt(count), 64), 8192))
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFFlat(quantizer, dimension, lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    sample = min(count, lists * IVF_TRAINING_POINTS)
    rows = np.random.default_rng(seed).choice(count, sample, replace=False)
    index.train(np.ascontiguousarray(vectors[np.sort(rows)]))
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by id
    index.add_with_ids(np.ascontiguousarray(vectors), ids.astype(np.int64))
    index.nprobe = max(IVF_MIN_PROBES, int(np.ceil(IVF_PROBE_SHARE * lists)))
    return index


def stored_ids(vectors) -> np.ndarray:
    """Every id held by an exact or IVF index."""
    import faiss

    if isinstance(vectors, faiss.IndexIDMap2):
        return faiss.vector_to_array(vectors.id_map)
    invlists = faiss.extract_index_ivf(vectors).invlists
    parts = [
        faiss.rev_swig_ptr(invlists.get_ids(number), invlists.list_size(number)).copy()
        for number in range(invlists.nlist)
        if invlists.list_size(number)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def all_vectors(vectors) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of an index, to rebuild it as another kind."""
    ids = stored_ids(vectors)
    if len(ids) == 0:
        return ids, np.zeros((0, vectors.d), dtype=np.float32)
    return ids, vectors.reconstruct_batch(ids)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk id with its fused score and its dense (cosine) similarity."""

    chunk_id: int
    score: float
    similarity: float


ASKING = frozenset(
    ["how", "many", "much", "what", "which", "who", "whom", "whose", "when", "where", "why"]
    + ["did", "does", "do", "is", "are", "was", "were"]
)
"""Words that make a question a question: matched by BM25, "how many soldiers?" ranked chunks
by "many" ("For many Afghans...") as much as by "soldiers"."""
_QUERY_WORD = re.compile(r"\w+")


class HybridIndex:
    """Chunks by integer id; vectors in FAISS (``IndexIDMap2``), words in a BM25 index."""

    def __init__(self, dimension: int):
        self.dimension = dimension
        self.vectors = exact_index(dimension)
        self._texts: dict[int, str] = {}
        self._bm25 = None
        self._bm25_ids: list[int] = []
        self.saved_keywords: Path | None = None
        """A keyword index saved for exactly these chunks (``save_keywords``), read on first use."""
        self.keywords_built = False
        """Whether this index built its keyword index itself (so it is worth saving)."""

    @classmethod
    def from_faiss(cls, vectors, texts: dict[int, str]) -> HybridIndex:
        """An index over a loaded FAISS ``IndexIDMap2`` and the texts of its ids."""
        index = cls(vectors.d)
        index.vectors = vectors
        index._texts = dict(texts)
        return index

    def __len__(self) -> int:
        return int(self.vectors.ntotal)

    @property
    def approximate(self) -> bool:
        import faiss

        return not isinstance(self.vectors, faiss.IndexIDMap2)

    def add(self, ids: list[int], vectors: np.ndarray, texts: list[str]) -> None:
        if not ids:
            return
        self.vectors.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )
        self._texts.update(zip(ids, texts))
        self._forget_keywords()
        if not self.approximate and len(self) >= APPROXIMATE_FROM:
            self.vectors = approximate_index(*all_vectors(self.vectors))

    def remove(self, ids: list[int]) -> None:
        self.vectors.remove_ids(np.asarray(ids, dtype=np.int64))
        for chunk_id in ids:
            self._texts.pop(chunk_id, None)
        self._forget_keywords()
        if self.approximate and len(self) < APPROXIMATE_FROM // 2:
            ids_left, vectors = all_vectors(self.vectors)
            self.vectors = exact_index(self.dimension)
            if len(ids_left):
                self.vectors.add_with_ids(vectors, ids_left)

    def _forget_keywords(self) -> None:
        self._bm25, self._bm25_ids = None, []
        self.saved_keywords, self.keywords_built = None, False

    def _lexical(self):
        if self._bm25 is None and self._texts and self.saved_keywords is not None:
            self._load_keywords(self.saved_keywords)
        if self._bm25 is None and self._texts:
            import bm25s

            self._bm25_ids = list(self._texts)
            corpus = bm25s.tokenize(
                [self._texts[i] for i in self._bm25_ids], stopwords="en", show_progress=False
            )
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)
            self.keywords_built = True
        return self._bm25

    def save_keywords(self, folder: Path) -> None:
        """Write the keyword index (built if need be) to ``folder``, whole or not at all."""
        if self._lexical() is None:
            return
        partial = Path(tempfile.mkdtemp(prefix=f"{folder.name}.partial-", dir=folder.parent))
        self._bm25.save(partial, show_progress=False)
        np.save(partial / "chunk_ids.npy", np.asarray(self._bm25_ids, dtype=np.int64))
        try:
            os.replace(partial, folder)
        except OSError:  # another process saved it first
            shutil.rmtree(partial, ignore_errors=True)

    def _load_keywords(self, folder: Path) -> None:
        """Use the keyword index saved in ``folder`` if it holds exactly this index's chunks."""
        import bm25s

        try:
            ids = np.load(folder / "chunk_ids.npy").tolist()
            if len(ids) != len(self._texts) or set(ids) != self._texts.keys():
                raise ValueError("saved for other chunks")
            retriever = bm25s.BM25.load(folder, mmap=True, show_progress=False)
        except (OSError, ValueError, KeyError):  # JSONDecodeError is a ValueError
            shutil.rmtree(folder, ignore_errors=True)  # built afresh, and saved again
            return
        self._bm25, self._bm25_ids = retriever, ids

    def search(
        self, query_vector: np.ndarray, query_text: str, k: int, allowed: set[int] | None = None
    ) -> list[Hit]:
        """Top ``k`` chunks by reciprocal-rank fusion; ``allowed`` limits the ids considered."""
        total = len(self)
        if total == 0 or k <= 0:
            return []
        if allowed is not None:  # one article: score its few chunks exactly
            scored = self._similarities(query_vector, sorted(allowed))
            dense = sorted(scored.items(), key=lambda item: -item[1])
        else:
            depth = min(total, max(4 * k, 20))
            query = query_vector.reshape(1, -1).astype(np.float32)
            scores, ids = self.vectors.search(query, depth)
            dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
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
        query = " ".join(w for w in _QUERY_WORD.findall(query_text) if w.lower() not in ASKING)
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        depth = len(self._bm25_ids) if allowed is not None else min(len(self._bm25_ids), 4 * k)
        results, scores = retriever.retrieve(tokens, k=depth, show_progress=False)
        ranking = [self._bm25_ids[int(d)] for d, s in zip(results[0], scores[0]) if float(s) > 0]
        if allowed is not None:
            ranking = [i for i in ranking if i in allowed]
        return ranking[: max(4 * k, 20)]

    def _similarities(self, query_vector: np.ndarray, ids: list[int]) -> dict[int, float]:
        if not ids:
            return {}
        vectors = self.vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        return dict(zip(ids, (vectors @ query_vector.reshape(-1)).tolist()))
