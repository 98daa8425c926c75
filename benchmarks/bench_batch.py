"""Archives at scale: articles/s for ``batch ask`` (4 questions each) and ``add``, in-process and
on a local Ray on this machine, in one run; the measured per-actor throughput; and, on paper,
the cluster a million articles an hour would need.

Articles are the full news articles of ``../shared/data/summ-train.jsonl.gz`` (BBC News Summary
and Inshorts; the headline-only rows are left out), written to a temporary folder for the run,
never into the repository. ``batch ask`` reads them as one JSONL archive, ``add`` as files.

    python benchmarks/bench_batch.py --limit 1000
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA, print_table, write_result  # noqa: E402

from newsqa import NewsQA, batch  # noqa: E402

QUESTIONS = ["Who is the article about?", "What happened?", "Where did it happen?", "When?"]
TARGET_PER_HOUR = 1_000_000


def articles(limit: int) -> list[dict]:
    """The first ``limit`` distinct full articles of the public training archive."""
    found, seen = [], set()
    with gzip.open(SHARED_DATA / "summ-train.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if "article_is" in row.get("meta", {}) or row["article"] in seen:
                continue  # a headline row: the lead paragraph of an article already there
            seen.add(row["article"])
            found.append({"id": row["id"], "text": row["article"]})
            if len(found) == limit:
                break
    return found


def timed_add(sources: list[str], library: Path, ray: bool) -> tuple[float, int]:
    """Seconds to add the sources to a new library, and how many were added."""
    qa = NewsQA(path=str(library), device="cpu")
    started = time.perf_counter()
    results = batch.add_many(qa, sources) if ray else qa.add_many(sources)
    seconds = time.perf_counter() - started
    health = qa.library.check()
    assert health.ok, health.problems
    return seconds, sum(r.status == "added" for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=1000, help="articles (default 1000)")
    parser.add_argument("--cpus", type=int, default=os.cpu_count(), help="the local Ray's CPUs")
    args = parser.parse_args()
    import ray

    rows = articles(args.limit)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as temp:
        folder = Path(temp)
        archive = folder / "articles.jsonl"
        archive.write_text("".join(json.dumps(r) + "\n" for r in rows))
        files = []
        for number, row in enumerate(rows):
            files.append(folder / "files" / f"{number:05}.txt")
            files[-1].parent.mkdir(exist_ok=True)
            files[-1].write_text(row["text"])
        sources = [str(f) for f in files]

        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR")
        for mode in ("in-process", "ray"):
            on_ray = mode == "ray"
            out = folder / f"answers-{mode}.jsonl"
            report = batch.ask(QUESTIONS, [str(archive)], out, ray=on_ray, device="cpu")
            assert report.lines == len(rows) * len(QUESTIONS), report
            seconds, added = timed_add(sources, folder / f"library-{mode}", on_ray)
            results[mode] = {
                "workers": report.workers,
                "ask_articles": report.articles,
                "ask_seconds": round(report.seconds, 1),
                "ask_articles_per_s": round(report.articles_per_second, 3),
                "ask_errors": report.errors,
                "ask_busy_articles_per_s_per_worker": round(
                    report.articles / report.busy_seconds, 3
                ),
                "add_articles": added,
                "add_seconds": round(seconds, 1),
                "add_articles_per_s": round(added / seconds, 3),
            }
        ray.shutdown()

    local, distributed = results["in-process"], results["ray"]
    workers = distributed["workers"]
    per_actor = distributed["ask_articles_per_s"] / workers
    needed = TARGET_PER_HOUR / 3600
    actors_needed = math.ceil(needed / per_actor)
    note = (
        f"{TARGET_PER_HOUR:,} articles an hour is {needed:.0f} articles/s. Measured here, one "
        f"Ray actor (one CPU core, torch on one thread) answers {per_actor:.2f} articles/s "
        f"of {len(QUESTIONS)} questions ({distributed['ask_busy_articles_per_s_per_worker']:.2f} "
        f"counting only its busy time), so about {actors_needed:,} such actors, e.g. "
        f"{math.ceil(actors_needed / 64):,} nodes of 64 cores, plus a reading task per four "
        "actors and the one driver that writes the lines. On paper: it assumes actors scale "
        "linearly, as they share nothing but that driver."
    )
    results["per_actor_articles_per_s"] = round(per_actor, 3)
    results["million_per_hour"] = {"articles_per_s": round(needed, 1), "actors": actors_needed}
    results["note"] = note
    header = ["mode", "workers", "batch ask art/s", "add art/s", "ask s", "add s"]
    table = [
        [m, r["workers"], r["ask_articles_per_s"], r["add_articles_per_s"], r["ask_seconds"]]
        + [r["add_seconds"]]
        for m, r in (("in-process", local), ("local Ray", distributed))
    ]
    print_table(
        f"Batch work on {len(rows)} articles, {len(QUESTIONS)} questions each ({args.cpus} CPUs)",
        header,
        table,
    )
    ratio_ask = distributed["ask_articles_per_s"] / local["ask_articles_per_s"]
    ratio_add = distributed["add_articles_per_s"] / local["add_articles_per_s"]
    print(f"\nRay vs in-process: batch ask {ratio_ask:.2f}x, add {ratio_add:.2f}x")
    print(f"\n{note}")
    payload = {
        "articles": len(rows),
        "questions": QUESTIONS,
        "cpus": args.cpus,
        "results": results,
        "ray_vs_in_process": {"ask": round(ratio_ask, 3), "add": round(ratio_add, 3)},
    }
    print(f"wrote {write_result('bench_batch', payload)}")


if __name__ == "__main__":
    main()
