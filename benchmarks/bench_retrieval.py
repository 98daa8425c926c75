"""Dense search at scale: the exact index vs. the IVF index the library switches to, by size.

For 1 k, 100 k and 1 M chunk vectors (384 dimensions, unit length) it times single-query
searches (p50 over the queries) and measures the IVF's recall@10 against exact search, with the
library's own index builders (``newsqa.index``). Two kinds of vectors:

- ``uniform``: random unit vectors, the worst case for any approximate index (no structure);
- ``clustered``: points around 2 000 topic centres (cosine to their centre about 0.65, like
  sentence embeddings of news on the same story), queries drawn the same way.

    python benchmarks/bench_retrieval.py --sizes 1000 100000 1000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, write_result  # noqa: E402

from newsqa.index import APPROXIMATE_FROM, approximate_index, exact_index  # noqa: E402

DIMENSION = 384


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def make_vectors(kind: str, count: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "uniform":
        return unit(rng.standard_normal((count, DIMENSION), dtype=np.float32))
    centres = unit(np.random.default_rng(7).standard_normal((2000, DIMENSION), dtype=np.float32))
    out = np.empty((count, DIMENSION), dtype=np.float32)
    for start in range(0, count, 100_000):  # in slices: memory stays near the result's size
        size = min(100_000, count - start)
        noise = rng.standard_normal((size, DIMENSION), dtype=np.float32) * 0.06
        out[start : start + size] = unit(centres[rng.integers(0, len(centres), size)] + noise)
    return out


def timed_searches(index, queries: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """p50 milliseconds of one-query searches (as the library does), and the ids found."""
    times, found = [], []
    for query in queries:
        started = time.perf_counter()
        _, ids = index.search(query.reshape(1, -1), k)
        times.append(time.perf_counter() - started)
        found.append(ids[0])
    return 1000 * statistics.median(times), np.stack(found)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000, 1_000_000])
    parser.add_argument("--kinds", nargs="+", default=["clustered", "uniform"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--probe-shares", type=float, nargs="*", default=[0.01, 0.03, 0.1, 0.2])
    args = parser.parse_args()

    rows, results = [], []
    for kind in args.kinds:
        for size in args.sizes:
            rng = np.random.default_rng(size)
            vectors = make_vectors(kind, size, rng)
            queries = make_vectors(kind, args.queries, np.random.default_rng(size + 1))
            ids = np.arange(size, dtype=np.int64)
            exact = exact_index(DIMENSION)
            exact.add_with_ids(vectors, ids)
            exact_ms, truth = timed_searches(exact, queries, args.k)
            started = time.perf_counter()
            approximate = approximate_index(ids, vectors)
            build_s = time.perf_counter() - started
            library_nprobe = approximate.nprobe
            del vectors
            sweep = []
            for share in args.probe_shares:  # what other settings would trade
                approximate.nprobe = max(1, round(share * approximate.nlist))
                ms, ids_found = timed_searches(approximate, queries, args.k)
                sweep.append(
                    {
                        "nprobe": approximate.nprobe,
                        "p50_ms": round(ms, 3),
                        "recall_at_10": round(recall_at(ids_found, truth), 4),
                    }
                )
            approximate.nprobe = library_nprobe
            ivf_ms, found = timed_searches(approximate, queries, args.k)
            recall = recall_at(found, truth)
            used = "ivf" if size >= APPROXIMATE_FROM else "exact"
            result = {
                "kind": kind,
                "chunks": size,
                "exact_p50_ms": round(exact_ms, 3),
                "ivf_p50_ms": round(ivf_ms, 3),
                "ivf_speedup": round(exact_ms / ivf_ms, 2),
                "ivf_recall_at_10": round(recall, 4),
                "ivf_lists": approximate.nlist,
                "ivf_nprobe": approximate.nprobe,
                "ivf_build_s": round(build_s, 1),
                "library_uses": used,
                "nprobe_sweep": sweep,
            }
            results.append(result)
            rows.append(
                [
                    kind,
                    f"{size:,}",
                    round(exact_ms, 2),
                    round(ivf_ms, 2),
                    f"{exact_ms / ivf_ms:.1f}x",
                    round(recall, 3),
                    f"{approximate.nprobe}/{approximate.nlist}",
                    used,
                ]
            )
            print(result, flush=True)
            del exact, approximate
    print_table(
        f"Dense search, {args.queries} single queries, top-{args.k} (p50)",
        ["vectors", "chunks", "exact ms", "ivf ms", "speed-up", "recall@10", "probes", "library"],
        rows,
    )
    path = write_result("bench_retrieval", {"queries": args.queries, "results": results})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
