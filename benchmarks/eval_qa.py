"""SQuAD v2 EM/F1 of the library on ../shared/data/squad2-dev-public.json.

Two modes: ``gold`` (the question's own paragraph is the article) and ``article`` (the whole
Wikipedia article is added and the library's retrieval finds the passage). Scores use SQuAD's
official normalisation, best over gold answers, split HasAns / NoAns.

    python benchmarks/eval_qa.py --limit 1000 --modes gold article
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    SHARED_DATA,
    add_precision_option,
    print_table,
    write_result,
)

from newsqa import NewsQA  # noqa: E402
from newsqa.metrics import best_over_golds, exact_match, f1_score  # noqa: E402


def load_questions(limit: int | None, seed: int = 0) -> list[dict]:
    """Questions with their paragraph and article, a deterministic sample if ``limit``."""
    data = json.loads((SHARED_DATA / "squad2-dev-public.json").read_text())["data"]
    rows = []
    for article in data:
        article_text = "\n\n".join(p["context"] for p in article["paragraphs"])
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                golds = [a["text"] for a in qa["answers"]] if not qa["is_impossible"] else []
                rows.append(
                    {
                        "id": qa["id"],
                        "question": qa["question"],
                        "golds": golds,
                        "paragraph": paragraph["context"],
                        "title": article["title"],
                        "article": article_text,
                    }
                )
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def sweep(
    rows: list[dict],
    model: str | None = None,
    predictions: Path | None = None,
    precision: str | None = None,
) -> dict:
    """Choose the no-answer margin on half the questions, report it on the other half.

    Every question is answered with abstention off; an answer's margin over "unanswerable" is
    recovered from its confidence (a logistic of the margin).
    """
    qa = NewsQA(
        device="cpu", model=model, grounded=True, precision=precision, no_answer_margin=-1e9
    )
    answers = answer_all(qa, rows, "gold")
    margins = {}
    for row in rows:
        answer = answers[row["id"]]
        confidence = min(max(answer.confidence, 1e-6), 1 - 1e-6)
        margins[row["id"]] = (answer.text, math.log(confidence / (1 - confidence)))
    if predictions:  # one line per question: for studying other abstention rules offline
        with predictions.open("w") as handle:
            for row in rows:
                evidence = answers[row["id"]].evidence
                text, margin = margins[row["id"]]
                record = {
                    "id": row["id"],
                    "text": text,
                    "margin": margin,
                    "sentence": evidence[0].sentence if evidence else "",
                }
                handle.write(json.dumps(record) + "\n")
    tune, report = rows[0::2], rows[1::2]

    def at(threshold: float, subset: list[dict]) -> dict:
        return score(
            subset,
            {
                r["id"]: (margins[r["id"]][0] if margins[r["id"]][1] > threshold else "")
                for r in subset
            },
        )

    grid = [x / 4 for x in range(-8, 41)]
    best = max(grid, key=lambda t: at(t, tune)["all"]["f1"])
    balanced = max(
        grid, key=lambda t: min(at(t, tune)["HasAns"]["f1"], at(t, tune)["NoAns"]["exact"])
    )
    curve = {t: at(t, report) for t in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)}
    print_table(
        "No-answer margin on the report half",
        ["margin", "HasAns F1", "NoAns acc", "all F1"],
        [[t, c["HasAns"]["f1"], c["NoAns"]["exact"], c["all"]["f1"]] for t, c in curve.items()],
    )
    return {
        "precision": qa.generator.precision,
        "best_margin_on_tune_half": best,
        "balanced_margin_on_tune_half": balanced,
        "tune_questions": len(tune),
        "report_half_at_best": at(best, report),
        "report_half_at_balanced": at(balanced, report),
        "all_questions_at_balanced": at(balanced, rows),
        "report_half_by_margin": {str(t): c for t, c in curve.items()},
    }


def answer_all(qa: NewsQA, rows: list[dict], mode: str) -> dict:
    """Add each distinct context once, then answer its questions in one batch."""
    by_context: dict[str, list[dict]] = {}
    for row in rows:
        by_context.setdefault(row["paragraph" if mode == "gold" else "article"], []).append(row)
    answers = {}
    for context, group in by_context.items():
        article = qa.add(context)
        for row, answer in zip(
            group, qa.ask_many([r["question"] for r in group], article=article.id)
        ):
            answers[row["id"]] = answer
        qa.remove(article.id)
    return answers


def evaluate(qa: NewsQA, rows: list[dict], mode: str) -> dict:
    """SQuAD scores of the library's answers (an abstention is the empty answer)."""
    started = time.perf_counter()
    answers = answer_all(qa, rows, mode)
    predictions = {i: (a.text if a.answerable else "") for i, a in answers.items()}
    seconds = time.perf_counter() - started
    return score(rows, predictions) | {
        "seconds": round(seconds, 1),
        "questions_per_second": round(len(rows) / seconds, 2),
    }


def score(rows: list[dict], predictions: dict[str, str]) -> dict:
    parts = {"all": [], "HasAns": [], "NoAns": []}
    for row in rows:
        prediction = predictions[row["id"]]
        pair = (
            best_over_golds(exact_match, prediction, row["golds"]),
            best_over_golds(f1_score, prediction, row["golds"]),
        )
        parts["all"].append(pair)
        parts["HasAns" if row["golds"] else "NoAns"].append(pair)
    result = {}
    for name, pairs in parts.items():
        if pairs:
            result[name] = {
                "count": len(pairs),
                "exact": round(100 * sum(p[0] for p in pairs) / len(pairs), 2),
                "f1": round(100 * sum(p[1] for p in pairs) / len(pairs), 2),
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="sample this many questions")
    parser.add_argument(
        "--modes", nargs="+", default=["gold", "article"], choices=["gold", "article"]
    )
    parser.add_argument("--decoding", nargs="+", default=["grounded"], choices=["grounded", "free"])
    parser.add_argument("--model", default=None, help="seq2seq model (default: newsqa-mini)")
    add_precision_option(parser)
    parser.add_argument("--name", default="eval_qa", help="results file name")
    parser.add_argument(
        "--margin", type=float, default=None, help="no-answer margin (default: the library's)"
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="choose the no-answer margin on half the sample, report the other",
    )
    parser.add_argument(
        "--predictions", type=Path, default=None, help="with --sweep: write each answer (JSONL)"
    )
    args = parser.parse_args()

    rows = load_questions(args.limit)
    if args.sweep:
        found = sweep(rows, args.model, args.predictions, args.precision)
        print(f"best all-F1 margin on the tune half: {found['best_margin_on_tune_half']}")
        print(f"balanced margin on the tune half: {found['balanced_margin_on_tune_half']}")
        write_result(
            args.name,
            {
                "model": args.model or "newsqa-mini",
                "limit": args.limit,
                "precision": found["precision"],
                "sweep": found,
            },
        )
        return
    table, results = [], {}
    for decoding in args.decoding:
        qa = NewsQA(
            device="cpu",
            model=args.model,
            grounded=decoding == "grounded",
            precision=args.precision,
            no_answer_margin=args.margin,
        )
        for mode in args.modes:
            result = evaluate(qa, rows, mode)
            results[f"{mode}/{decoding}"] = result
            table.append(
                [
                    mode,
                    decoding,
                    result["all"]["count"],
                    result["HasAns"]["f1"],
                    result["HasAns"]["exact"],
                    result["NoAns"]["exact"],
                    result["all"]["f1"],
                    result["questions_per_second"],
                ]
            )
    print_table(
        "SQuAD v2 dev (public half)",
        ["mode", "decoding", "questions", "HasAns F1", "HasAns EM", "NoAns acc", "all F1", "q/s"],
        table,
    )
    path = write_result(
        args.name,
        {
            "model": args.model or "newsqa-mini",
            "limit": args.limit,
            "precision": qa.generator.precision,
            "margin": qa.no_answer_margin,
            "results": results,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
