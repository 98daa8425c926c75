"""Does the count rule of ``answer.best_candidate`` help on public data?

The rule: a question that asks how many, whose best candidate is a vague amount with a size
("Dozens"), is answered with the candidate nearest it in its article that states a number the
amount can stand for, where that one reaches the bar too. This replays the candidates that
``eval_qa.py`` kept for each set (the same settings and ``--limit``), decides every question
with the shipped calibrator at its default bar with and without the rule, and scores both; the
questions whose answer the rule changes are listed with their golds.

    python benchmarks/eval_qa.py --sets news tweetqa squad-gold --limit 1000
    python benchmarks/ablate_count_rule.py --limit 1000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, write_result  # noqa: E402
from compare_decoding import kept  # noqa: E402
from eval_qa import score  # noqa: E402
from qa_sets import SETS, sample  # noqa: E402

from newsqa import NewsQA, confidence  # noqa: E402
from newsqa.answer import decide  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=["news", "tweetqa", "squad-gold"])
    parser.add_argument("--limit", type=int, help="the --limit of the eval_qa.py run")
    parser.add_argument("--name", default="ablate_count_rule", help="results file name")
    args = parser.parse_args()

    calibrator = NewsQA(device="cpu").calibrator
    bar = calibrator.min_confidence
    results, table = {}, []
    for name in args.sets:
        rows = sample(SETS[name](), args.limit)
        found = kept(name, "fast", args.limit)
        with_rule = {r["id"]: decide(found[r["id"]], calibrator, bar) for r in rows}
        with patch.object(confidence, "vague_range", lambda text: None):
            without = {r["id"]: decide(found[r["id"]], calibrator, bar) for r in rows}
        changed = [
            {
                "question": r["question"],
                "golds": r["golds"],
                "with_rule": with_rule[r["id"]].text,
                "without": without[r["id"]].text,
            }
            for r in rows
            if (with_rule[r["id"]].text, with_rule[r["id"]].answerable)
            != (without[r["id"]].text, without[r["id"]].answerable)
        ]
        scores = {"with_rule": score(rows, with_rule), "without": score(rows, without)}
        counts = sum(confidence.asks_count(r["question"]) for r in rows)
        results[name] = {"questions": len(rows), "count_questions": counts, "changed": changed}
        results[name] |= {
            key: {k: s[k] for k in ("HasAns", "answered")} for key, s in scores.items()
        }
        table.append(
            [
                name,
                len(rows),
                counts,
                len(changed),
                f"{scores['with_rule']['HasAns']['f1']:.2f}",
                f"{scores['without']['HasAns']['f1']:.2f}",
            ]
        )
    print_table(
        "The count rule, default bar (HasAns F1 with and without it)",
        ["set", "questions", "ask how many", "answers changed", "with the rule", "without"],
        table,
    )
    for name, result in results.items():
        for change in result["changed"]:
            print(f"{name}: {change}")
    print(f"wrote {write_result(args.name, {'limit': args.limit, 'sets': results})}")


if __name__ == "__main__":
    main()
