"""Fast decoding vs the reference (transformers' ``generate``) on the full public sets.

Reads the candidates that ``eval_qa.py`` kept for each set with each decoding (run it twice:
once as is, once with ``NEWSQA_DECODING=reference``) and decides every question with the
shipped calibrator at its default bar, as ``newsqa ask`` would. Counts the questions whose
answer (text, or answered vs refused) differs and those whose confidence moved by more than
0.001; lists the first few of each.

    python benchmarks/eval_qa.py --sets news tweetqa squad-gold
    NEWSQA_DECODING=reference python benchmarks/eval_qa.py --sets news tweetqa squad-gold \\
        --name eval_qa_reference
    python benchmarks/compare_decoding.py

A sample of each set (both eval_qa.py runs with ``--limit 1000``, then ``--limit 1000`` here)
takes about a third of the time on 2 cores; the reference decoding is the slow half.
"""

from __future__ import annotations

import argparse
import gzip
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import CACHE  # noqa: E402
from common import print_table, write_result  # noqa: E402
from eval_qa import refreshed  # noqa: E402
from qa_sets import SETS  # noqa: E402

from newsqa import NewsQA  # noqa: E402
from newsqa.answer import decide  # noqa: E402

TOLERANCE = 1e-3


def kept(name: str, decoding: str, limit: int | None = None) -> dict:
    """The candidates eval_qa.py kept for set ``name`` with the given decoding (and --limit)."""
    suffix = "_reference" if decoding == "reference" else ""
    path = CACHE / f"eval_qa_{name}_newsqa-mini_fp32_False{suffix}_{limit}.pkl.gz"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run eval_qa.py for {name} ({decoding} decoding)")
    with gzip.open(path, "rb") as handle:
        stored = pickle.load(handle)
    return {key: [refreshed(c) for c in listed] for key, listed in stored.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=["news", "tweetqa", "squad-gold"])
    parser.add_argument("--limit", type=int, help="the --limit both eval_qa.py runs used")
    parser.add_argument("--name", default="compare_decoding", help="results file name")
    args = parser.parse_args()

    calibrator = NewsQA(device="cpu").calibrator
    results, rows = {}, []
    for name in args.sets:
        fast, reference = kept(name, "fast", args.limit), kept(name, "reference", args.limit)
        questions = {row["id"]: row["question"] for row in SETS[name]()}
        differ, moved, largest = [], [], 0.0
        for key in fast:
            a = decide(fast[key], calibrator, calibrator.min_confidence)
            b = decide(reference[key], calibrator, calibrator.min_confidence)
            gap = abs(a.confidence - b.confidence)
            largest = max(largest, gap)
            if a.text != b.text or a.answerable != b.answerable:
                differ.append({"question": questions[key], "fast": a.text, "reference": b.text})
            elif gap > TOLERANCE:
                moved.append({"question": questions[key], "fast": a.confidence, "gap": gap})
        results[name] = {
            "questions": len(fast),
            "answers_differ": len(differ),
            "confidence_moved": len(moved),
            "largest_confidence_gap": round(largest, 6),
            "examples_differ": differ[:10],
            "examples_moved": moved[:10],
        }
        rows.append([name, len(fast), len(differ), len(moved), f"{largest:.6f}"])
    print_table(
        f"Fast vs reference decoding, default bar (confidence tolerance {TOLERANCE})",
        ["set", "questions", "answers differ", f"confidence moved > {TOLERANCE}", "largest gap"],
        rows,
    )
    print(f"wrote {write_result(args.name, {'limit': args.limit, 'sets': results})}")


if __name__ == "__main__":
    main()
