"""A library of 100,000 articles on disk, and what a user waits for in it.

The articles are synthetic copies of the 100 MultiLing 2011 articles (public, read from
``../shared``, never stored here): each is prepared once (cleaned, chunked, embedded), then
copied under new ids, copy ``c`` of event ``e`` with its grouping vector moved towards a random
direction of its own, so that each copy of an event forms a story of its own (10 per copy) and
the library holds about as many stories as a real archive would. Chunk vectors are the
originals'. The copies go in through ``Library.add`` in batches, as ``newsqa add`` commits them.

Then, each in a fresh process, as a user runs them: ``newsqa stories --json``; ``newsqa add`` of
one more article (the bundled seed article), checking that no other article's story changed;
``newsqa ask`` across the whole library. And a warm ``ask`` in this process.

    python benchmarks/bench_library_stories.py --articles 100000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED_DATA, print_table, write_result  # noqa: E402

from newsqa import NewsQA  # noqa: E402
from newsqa.library import Library, NewArticle  # noqa: E402

SEED = ROOT / "newsqa" / "data" / "article.txt"
SPREAD = 1.2
"""Weight of each copy's own direction in its grouping vectors: copies of one article end at
cosine ~0.4 (below the join threshold, 0.45), articles of one event in one copy stay together."""


def originals(qa: NewsQA) -> tuple[list[NewArticle], list[str]]:
    """The MultiLing articles prepared once, and each one's event."""
    with gzip.open(SHARED_DATA / "multiling2011-en-events.jsonl.gz", "rt") as handle:
        rows = [json.loads(line) for line in handle]
    prepared = [
        qa.prepare(r["text"], title=r["title"], as_text=True, published=r["date"]) for r in rows
    ]
    return prepared, [r["event"] for r in rows]


def copies(
    prepared: list[NewArticle], events: list[str], copy: int, rng: np.random.Generator
) -> list[NewArticle]:
    """Copy number ``copy`` of every original, each event moved its own way."""
    directions = {}
    for event in sorted(set(events)):
        direction = rng.standard_normal(prepared[0].story_vector.shape[0]).astype(np.float32)
        directions[event] = direction / np.linalg.norm(direction)
    made = []
    for item, event in zip(prepared, events):
        vector = item.story_vector + SPREAD * directions[event]
        article = replace(
            item.article, id=f"{item.article.id}-{copy}", title=f"{item.article.title} ({copy})"
        )
        made.append(replace(item, article=article, story_vector=vector / np.linalg.norm(vector)))
    return made


def build(path: Path, articles: int, batch: int, qa: NewsQA) -> tuple[list[float], float]:
    """A library of ``articles`` synthetic copies at ``path``, ``batch`` articles a commit;
    the seconds of each commit, and of the whole build after the originals were prepared."""
    prepared, events = originals(qa)
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    library = Library(path)
    commits, made, copy = [], 0, 0
    pending: list[NewArticle] = []
    while made < articles:
        made_now = copies(prepared, events, copy, rng)[: articles - made]
        pending += made_now
        made += len(made_now)
        copy += 1
        if len(pending) >= batch or made == articles:
            tick = time.perf_counter()
            library.add(pending)
            commits.append(time.perf_counter() - tick)
            pending = []
            print(f"{made} articles, last commit {commits[-1]:.1f} s", flush=True)
    library.close()
    return commits, time.perf_counter() - started


def counts(library: Path) -> tuple[int, int]:
    """(articles, chunks) stored in ``library``."""
    with sqlite3.connect(library / "library.sqlite3") as db:
        articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    return articles, chunks


def run_cli(library: Path, *arguments: str, code: Path = ROOT) -> tuple[float, str]:
    """Wall seconds and stdout of ``newsqa --library LIBRARY ...`` in a fresh process, run from
    the checkout ``code``."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "newsqa", "--library", str(library), *arguments],
        capture_output=True,
        text=True,
        cwd=code,
        env=os.environ | {"NEWSQA_NO_SERVER": "1"},
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"newsqa {' '.join(arguments)} failed:\n{done.stderr}")
    return seconds, done.stdout


def placements(library: Path) -> dict[str, tuple[int, str | None]]:
    """Each article's (story, duplicate of) as stored."""
    opened = Library(library)
    try:
        return {
            article.id: (story.id, article.duplicate_of)
            for story in opened.stories()
            for article in story.articles
        }
    finally:
        opened.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000, help="articles per commit")
    parser.add_argument("--folder", type=Path, help="build here (default: a temporary folder)")
    args = parser.parse_args()

    qa = NewsQA(device="cpu")
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        path = Path(folder) / "library"
        commits, build_s = build(path, args.articles, args.batch, qa)
        _, chunks = counts(path)
        size_mb = sum(f.stat().st_size for f in path.iterdir()) / 2**20

        before = placements(path)
        stories_s, listed = run_cli(path, "stories", "--json")
        stories = json.loads(listed)
        add_s, _ = run_cli(path, "add", str(SEED))
        after = placements(path)
        moved = sum(after[key] != value for key, value in before.items())
        question = "How many soldiers crossed the border?"
        ask_s, answered = run_cli(path, "ask", question, "--json")

        searching = NewsQA(path=path, device="cpu")
        searching.ask(question)
        warm = []
        for _ in range(5):
            tick = time.perf_counter()
            searching.ask(question)
            warm.append(time.perf_counter() - tick)
    result = {
        "articles": args.articles,
        "chunks": chunks,
        "articles_per_commit": args.batch,
        "seconds_to_build": round(build_s, 1),
        "first_commit_s": round(commits[0], 2),
        "last_commit_s": round(commits[-1], 2),
        "library_mb": round(size_mb),
        "stories": len(stories),
        "cli_stories_s": round(stories_s, 2),
        "cli_add_one_s": round(add_s, 2),
        "articles_moved_by_the_add": moved,
        "cli_ask_s": round(ask_s, 2),
        "cli_ask_answer": json.loads(answered)["text"],
        "warm_ask_ms_p50": round(1000 * statistics.median(warm), 1),
    }
    print_table(
        f"A library of {args.articles} articles (synthetic copies of MultiLing 2011)",
        ["measure", "value"],
        [[key, value] for key, value in result.items()],
    )
    print(f"wrote {write_result('bench_library_stories', result)}")


if __name__ == "__main__":
    main()
