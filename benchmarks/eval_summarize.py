"""ROUGE-1/2/L (rouge-score, stemming) of the library's summaries on summ-dev-public.jsonl.

Scores, per source (cnndm, xsum) and on the same articles: ``newsqa.summarize``, Lead-3, and
every published system in the file's ``peer_summaries`` (bart-large-cnn, BERTSum, ...). Also
reports how much of our summary is new wording (novel bigrams) rather than copied sentences.

    python benchmarks/eval_summarize.py --limit 50
"""

from __future__ import annotations

import argparse
import json
import re
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
from rouge_score import rouge_scorer  # noqa: E402

from newsqa import NewsQA  # noqa: E402
from newsqa.chunk import split_sentences  # noqa: E402

METRICS = ["rouge1", "rouge2", "rougeL"]


def lead3(article: str) -> str:
    return " ".join(s.text for s in split_sentences(article)[:3])


def novel_bigrams(summary: str, article: str) -> float:
    """Share of the summary's bigrams that the article does not contain (0 = all copied)."""

    def bigrams(text: str) -> set:
        words = re.findall(r"\w+", text.lower())
        return set(zip(words, words[1:]))

    ours = bigrams(summary)
    return len(ours - bigrams(article)) / len(ours) if ours else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="articles per source")
    parser.add_argument(
        "--words",
        type=int,
        default=None,
        help="summary length (default: 80 for cnndm, 30 for xsum)",
    )
    parser.add_argument("--model", default=None)
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=["compress"],
        choices=["compress", "map-reduce"],
        help="pick sentences then compress each, or map-reduce over the whole article",
    )
    add_precision_option(parser)
    parser.add_argument("--name", default="eval_summarize", help="results file name")
    args = parser.parse_args()

    rows = [json.loads(line) for line in (SHARED_DATA / "summ-dev-public.jsonl").open()]
    scorer = rouge_scorer.RougeScorer(METRICS, use_stemmer=True)
    qa = NewsQA(device="cpu", model=args.model, precision=args.precision)
    table, results = [], {}
    for source in ("cnndm", "xsum"):
        subset = [r for r in rows if r["source"] == source][: args.limit]
        words = args.words or (80 if source == "cnndm" else 30)
        systems: dict[str, list[dict]] = {f"newsqa {s}": [] for s in args.strategies}
        systems["lead-3"] = []
        novelty, started = [], time.perf_counter()
        for row in subset:
            article = qa.add(row["article"])
            for strategy in args.strategies:
                ours = qa.summarize(article=article.id, max_words=words, strategy=strategy).text
                systems[f"newsqa {strategy}"].append(scorer.score(row["summary"], ours))
                if strategy == args.strategies[0]:
                    novelty.append(novel_bigrams(ours, row["article"]))
            qa.remove(article.id)
            systems["lead-3"].append(scorer.score(row["summary"], lead3(row["article"])))
            for peer, text in (row.get("peer_summaries") or {}).items():
                systems.setdefault(peer, []).append(scorer.score(row["summary"], text))
        seconds = time.perf_counter() - started
        results[source] = {
            "articles": len(subset),
            "words": words,
            "seconds_newsqa": round(seconds, 1),
            "novel_bigrams_newsqa": round(sum(novelty) / len(novelty), 4),
        }
        for system, scores in systems.items():
            means = {
                m: round(100 * sum(s[m].fmeasure for s in scores) / len(scores), 2) for m in METRICS
            }
            results[source][system] = {"count": len(scores), **means}
            table.append([source, system, len(scores), *means.values()])
        first = results[source][f"newsqa {args.strategies[0]}"]["rouge2"]  # the default
        ratio = first / max(results[source]["lead-3"]["rouge2"], 1e-9)
        results[source]["rouge2_vs_lead3"] = round(ratio, 3)
    print_table(
        "Summaries vs. references (ROUGE F1 x 100)",
        ["source", "system", "n", "R-1", "R-2", "R-L"],
        table,
    )
    for source in ("cnndm", "xsum"):
        print(
            f"{source}: newsqa R-2 / Lead-3 R-2 = {results[source]['rouge2_vs_lead3']}, "
            f"novel bigrams {results[source]['novel_bigrams_newsqa']:.1%}"
        )
    path = write_result(
        args.name,
        {
            "model": args.model or "newsqa-mini",
            "limit": args.limit,
            "precision": qa.generator.precision,
            "results": results,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
