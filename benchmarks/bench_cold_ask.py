"""A cold ``newsqa ask`` across a big library: the keyword index read from disk vs built.

The library is ``bench_library_stories.py``'s synthetic copies of the MultiLing articles, built
once. Each ask runs in a fresh process, as a user runs it. Per round: the baseline code (a
checkout given by ``--baseline``, which builds the keyword index in every process), then this
code right after a change (no saved keyword index: it builds it and saves it), then this code
again (it reads the saved one).

    git worktree add /tmp/before <commit before the change>
    python benchmarks/bench_cold_ask.py --articles 30000 --baseline /tmp/before
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_library_stories import build, counts, run_cli  # noqa: E402
from common import print_table, write_result  # noqa: E402

from newsqa import NewsQA  # noqa: E402

QUESTION = "how many soldiers crossed the border?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=30_000)
    parser.add_argument("--baseline", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", type=Path, help="build here (default: a temporary folder)")
    args = parser.parse_args()

    times: dict[str, list[float]] = {"baseline": [], "first after a change": [], "later": []}
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        library = Path(folder) / "library"
        build(library, args.articles, 2000, NewsQA(device="cpu"))
        articles, chunks = counts(library)
        for _ in range(args.rounds):
            times["baseline"].append(run_cli(library, "ask", QUESTION, code=args.baseline)[0])
            for saved in library.glob("keywords-*"):
                shutil.rmtree(saved)
            times["first after a change"].append(run_cli(library, "ask", QUESTION)[0])
            times["later"].append(run_cli(library, "ask", QUESTION)[0])
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["baseline"]
    print_table(
        f"Cold `newsqa ask` across {articles} articles (median of {args.rounds}, fresh processes)",
        ["code", "seconds", "vs baseline"],
        [[name, f"{value:.2f}", f"{base / value:.2f}x"] for name, value in medians.items()],
    )
    path = write_result(
        "bench_cold_ask",
        {"articles": articles, "chunks": chunks, "seconds": times, "median_seconds": medians},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
