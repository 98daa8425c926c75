"""A cold ``newsqa ask`` across a big library: the keyword index read from disk vs built.

Each ask runs in a fresh process, as a user runs it. Per round: the baseline code (a checkout
given by ``--baseline``, which builds the keyword index in every process), then this code right
after a change (no saved keyword index: it builds it and saves it), then this code again (it
reads the saved one). Build the library first, e.g. with ``bench_library_stories.py --folder``.

    git worktree add /tmp/before <commit before the change>
    python benchmarks/bench_cold_ask.py --library LIBRARY --baseline /tmp/before
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, print_table, write_result  # noqa: E402

QUESTION = "how many soldiers crossed the border?"


def cold_ask(code: Path, library: Path) -> float:
    """Wall seconds of ``newsqa --library LIBRARY ask`` run from ``code`` in a new process."""
    env = os.environ | {"HF_HUB_OFFLINE": "1", "NEWSQA_NO_SERVER": "1"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "newsqa", "--library", str(library), "ask", QUESTION],
        cwd=code,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--library", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    times: dict[str, list[float]] = {"baseline": [], "first after a change": [], "later": []}
    for _ in range(args.rounds):
        times["baseline"].append(cold_ask(args.baseline, args.library))
        for folder in args.library.glob("keywords-*"):
            shutil.rmtree(folder)
        times["first after a change"].append(cold_ask(ROOT, args.library))
        times["later"].append(cold_ask(ROOT, args.library))
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["baseline"]
    print_table(
        f"Cold `newsqa ask` across {args.library} (median of {args.rounds}, fresh processes)",
        ["code", "seconds", "vs baseline"],
        [[name, f"{value:.2f}", f"{base / value:.2f}x"] for name, value in medians.items()],
    )
    with sqlite3.connect(args.library / "library.sqlite3") as db:
        articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    path = write_result(
        "bench_cold_ask",
        {"articles": articles, "chunks": chunks, "seconds": times, "median_seconds": medians},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
