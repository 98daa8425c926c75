"""Library scale: add throughput and ask latency at 100, 1 000 and 10 000 articles.

Articles are SQuAD v1.1 train paragraphs (public text, read here, never stored in the repo).
Latency is the median over repeated questions, retrieval alone and the whole ``ask``; peak RSS is
the process's. Target: ask latency at 10 000 articles within 2x of that at 100.

    python benchmarks/bench_library.py --sizes 100 1000 10000
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA, print_table, write_result  # noqa: E402

from newsqa import NewsQA  # noqa: E402


def paragraphs(limit: int) -> tuple[list[str], list[str]]:
    """``limit`` paragraphs as articles, and one question per article for latency probes."""
    with gzip.open(SHARED_DATA / "squad1-train.json.gz", "rt") as handle:
        data = json.load(handle)["data"]
    texts, questions = [], []
    for article in data:
        for paragraph in article["paragraphs"]:
            texts.append(paragraph["context"])
            questions.append(paragraph["qas"][0]["question"])
            if len(texts) == limit:
                return texts, questions
    return texts, questions


def median_ms(action, inputs: list) -> tuple[float, float]:
    """Median and 95th percentile, in ms, of ``action(x)`` over ``inputs``."""
    times = []
    for value in inputs:
        started = time.perf_counter()
        action(value)
        times.append(1000 * (time.perf_counter() - started))
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    texts, questions = paragraphs(max(args.sizes))
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as folder:
        qa = NewsQA(path=folder, device="cpu")
        added = 0
        for size in sorted(args.sizes):
            started = time.perf_counter()
            qa.add_many(texts[added:size], batch_size=64)
            add_seconds = time.perf_counter() - started
            added_now, added = size - added, size
            probe = questions[:size][:: max(1, size // args.repeats)][: args.repeats]
            qa.retrieve(probe[0], None, 4)  # load the index of this generation
            qa.ask(probe[0])  # warm the generator
            retrieve_p50, retrieve_p95 = median_ms(lambda q: qa.retrieve(q, None, 4), probe)
            ask_p50, ask_p95 = median_ms(qa.ask, probe)
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            results[size] = {
                "add_articles_per_s": round(added_now / add_seconds, 1),
                "retrieve_ms_p50": round(retrieve_p50, 1),
                "retrieve_ms_p95": round(retrieve_p95, 1),
                "ask_ms_p50": round(ask_p50, 1),
                "ask_ms_p95": round(ask_p95, 1),
                "peak_rss_mb": round(rss_mb),
            }
            rows.append([size, *results[size].values()])
    smallest, largest = min(results), max(results)
    ratio = results[largest]["ask_ms_p50"] / results[smallest]["ask_ms_p50"]
    print_table(
        "Library scale (2-core CPU)",
        [
            "articles",
            "add art/s",
            "retrieve p50 ms",
            "retrieve p95 ms",
            "ask p50 ms",
            "ask p95 ms",
            "peak RSS MB",
        ],
        rows,
    )
    print(f"\nask p50 at {largest} / at {smallest}: {ratio:.2f}x (target <= 2x)")
    path = write_result(
        "bench_library", {"results": results, "ask_ratio_largest_vs_smallest": round(ratio, 3)}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
