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
from newsqa.answer import best_candidate, check_question, find_candidates  # noqa: E402
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
    modes: list[str],
    model: str | None = None,
    predictions: Path | None = None,
    precision: str | None = None,
) -> dict:
    """Choose the similarity weight and no-answer threshold on half the questions, report both.

    Every retrieved passage's candidate answer (its margin over "unanswerable" and the passage's
    retrieval similarity) is collected once per mode; the library's decision rule
    (``newsqa.answer.decide``) is then replayed for each weight and threshold. The tune half
    (even rows, modes pooled) picks where HasAns F1 and NoAns accuracy balance; the report half
    (odd rows) is scored there.
    """
    qa = NewsQA(device="cpu", model=model, grounded=True, precision=precision)
    found = {mode: collect_candidates(qa, rows, mode) for mode in modes}
    if predictions:  # every candidate of every question, for studying other rules offline
        with predictions.open("w") as handle:
            for mode in modes:
                for row in rows:
                    record = {
                        "id": row["id"],
                        "mode": mode,
                        "golds": row["golds"],
                        "candidates": [
                            {"margin": c.margin, "similarity": c.passage.similarity, "text": c.text}
                            for c in found[mode][row["id"]]
                        ],
                    }
                    handle.write(json.dumps(record) + "\n")
    tune, report = rows[0::2], rows[1::2]
    chosen: dict[tuple[float, str], dict] = {}  # (weight, mode) -> id -> (support, text)

    def picks_at(weight: float, mode: str) -> dict:
        """``decide``'s choice per question: the viable candidate with the most support."""
        if (weight, mode) not in chosen:
            picks = {}
            for row in rows:
                best = best_candidate(found[mode][row["id"]], weight)
                picks[row["id"]] = (best.support(weight), best.text) if best else (-math.inf, "")
            chosen[weight, mode] = picks
        return chosen[weight, mode]

    def at(weight: float, threshold: float, mode: str, subset: list[dict]) -> dict:
        picks = picks_at(weight, mode)
        return score(
            subset,
            {r["id"]: (picks[r["id"]][1] if picks[r["id"]][0] > threshold else "") for r in subset},
        )

    def balance(weight: float, threshold: float) -> float:
        pooled = [at(weight, threshold, mode, tune) for mode in modes]
        return min(min(r["HasAns"]["f1"], r["NoAns"]["exact"]) for r in pooled)

    grid = [x / 4 for x in range(-8, 81)]
    table, by_weight = [], {}
    for weight in SWEEP_WEIGHTS:
        threshold = max(grid, key=lambda t: balance(weight, t))
        reported = {mode: at(weight, threshold, mode, report) for mode in modes}
        by_weight[str(weight)] = {"threshold": threshold, "report_half": reported}
        table.append(
            [weight, threshold]
            + [reported[m][k]["f1" if k != "NoAns" else "exact"] for m in modes for k in KEYS]
        )
    print_table(
        "Report half, each weight at its balanced threshold (chosen on the tune half)",
        ["weight", "threshold"] + [f"{m} {k}" for m in modes for k in KEYS],
        table,
    )
    best = max(SWEEP_WEIGHTS, key=lambda w: balance(w, by_weight[str(w)]["threshold"]))
    threshold = by_weight[str(best)]["threshold"]
    return {
        "precision": qa.generator.precision,
        "modes": modes,
        "chosen_weight": best,
        "chosen_threshold": threshold,
        "tune_questions": len(tune),
        "by_weight": by_weight,
        "all_questions_at_chosen": {mode: at(best, threshold, mode, rows) for mode in modes},
        "report_half_by_threshold_at_chosen_weight": {
            mode: {str(t): at(best, t, mode, report) for t in range(-2, 21, 2)} for mode in modes
        },
    }


SWEEP_WEIGHTS = (0.0, 4.0, 8.0, 12.0, 16.0)
KEYS = ("HasAns", "NoAns", "all")


def by_context(rows: list[dict], mode: str) -> dict[str, list[dict]]:
    """Questions grouped by what is added as the article: their paragraph, or whole article."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["paragraph" if mode == "gold" else "article"], []).append(row)
    return groups


def collect_candidates(qa: NewsQA, rows: list[dict], mode: str) -> dict[str, list]:
    """Each question's candidates, through the library's retrieval as it runs."""
    found = {}
    for context, group in by_context(rows, mode).items():
        article = qa.add(context)
        questions = [check_question(r["question"]) for r in group]
        passages = qa.retrieve_many(questions, article.id, qa.top_k)
        candidates = find_candidates(qa.generator, questions, passages, grounded=True)
        found.update((row["id"], listed) for row, listed in zip(group, candidates))
        qa.remove(article.id)
    return found


def answer_all(qa: NewsQA, rows: list[dict], mode: str) -> dict:
    """Add each distinct context once, then answer its questions in one batch."""
    answers = {}
    for context, group in by_context(rows, mode).items():
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
        found = sweep(rows, args.modes, args.model, args.predictions, args.precision)
        print(
            f"chosen on the tune half: similarity weight {found['chosen_weight']}, "
            f"threshold {found['chosen_threshold']}"
        )
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
