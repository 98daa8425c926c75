"""ROUGE-1/2/L (rouge-score, stemming) of the library's summaries on summ-dev-public.jsonl.

Scores, per source (cnndm, xsum) and on the same articles: ``newsqa.summarize``, Lead-3, and
every published system in the file's ``peer_summaries`` (bart-large-cnn, BERTSum, ...).
Faithfulness of our summaries: the share of their names, numbers and dates (spaCy entities)
that the article lacks, the share of sentences with no finite verb, the share of sentences
copied verbatim, and novel bigrams; ten summaries are printed for reading. Headlines: ROUGE
of ``Summary.headline`` on the Reuters-21578 TEST split against the first sentence, in the
same run.

    python benchmarks/eval_summarize.py --limit 50 --headlines 300
"""

from __future__ import annotations

import argparse
import gzip
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
from newsqa.faithful import has_finite_verb, unsupported_entities  # noqa: E402

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


def faithfulness(summary: str, article: str) -> dict:
    """Counts for one summary: entities and those the article lacks, sentences, verbless
    sentences and sentences copied verbatim from the article; and the failing sentences."""
    entities, unsupported = unsupported_entities(summary, article)
    sentences = [s.text for s in split_sentences(summary)]
    plain = " ".join(article.split())
    verbless = [s for s in sentences if not has_finite_verb(s)]
    return {
        "entities": entities,
        "unsupported": unsupported,
        "sentences": len(sentences),
        "verbless": len(verbless),
        "verbatim": sum(" ".join(s.split()) in plain for s in sentences),
        "failing": verbless + ([summary] if unsupported else []),
    }


def _shares(counts: list[dict]) -> dict:
    total = {key: sum(c[key] for c in counts) for key in counts[0] if key != "failing"}
    total["failing"] = [text for c in counts for text in c["failing"]]
    return {
        **total,
        "unsupported_share": round(total["unsupported"] / max(total["entities"], 1), 4),
        "verbless_share": round(total["verbless"] / max(total["sentences"], 1), 4),
        "verbatim_share": round(total["verbatim"] / max(total["sentences"], 1), 4),
    }


def first_sentence(article: str) -> str:
    sentences = split_sentences(article)
    return sentences[0].text if sentences else ""


def score_headlines(qa: NewsQA, limit: int) -> dict:
    """ROUGE of our headlines and of the first sentence on Reuters TEST (first ``limit``)."""
    rows = []
    with gzip.open(SHARED_DATA / "reuters-headlines.jsonl.gz", "rt") as handle:
        for line in handle:
            row = json.loads(line)
            if row["split"] == "TEST" and len(row["article"].split()) >= 20:
                rows.append(row)
            if len(rows) >= limit:
                break
    scorer = rouge_scorer.RougeScorer(METRICS, use_stemmer=True)
    systems: dict[str, list] = {"newsqa headline": [], "first sentence": []}
    examples, fallbacks = [], 0
    for row in rows:
        article = qa.add(row["article"])
        headline = qa.summarize(article=article.id, max_words=30, headline=True).headline or ""
        fallbacks += headline == (article.title or "")
        qa.remove(article.id)
        systems["newsqa headline"].append(scorer.score(row["summary"], headline))
        lead = first_sentence(row["article"])
        systems["first sentence"].append(scorer.score(row["summary"], lead))
        if len(examples) < 10:
            examples.append({"reference": row["summary"], "newsqa": headline})
    result = {"articles": len(rows), "title_fallbacks": fallbacks, "examples": examples}
    for system, scores in systems.items():
        result[system] = {
            m: round(100 * sum(s[m].fmeasure for s in scores) / len(scores), 2) for m in METRICS
        }
    return result


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
    parser.add_argument(
        "--headlines", type=int, default=300, help="Reuters TEST articles for headlines (0: none)"
    )
    parser.add_argument("--name", default="eval_summarize", help="results file name")
    args = parser.parse_args()

    rows = [json.loads(line) for line in (SHARED_DATA / "summ-dev-public.jsonl").open()]
    scorer = rouge_scorer.RougeScorer(METRICS, use_stemmer=True)
    qa = NewsQA(device="cpu", model=args.model, precision=args.precision)
    table, results, samples = [], {}, []
    for source in ("cnndm", "xsum"):
        subset = [r for r in rows if r["source"] == source][: args.limit]
        words = args.words or (80 if source == "cnndm" else 30)
        systems: dict[str, list[dict]] = {f"newsqa {s}": [] for s in args.strategies}
        systems["lead-3"] = []
        novelty, counts, started = [], [], time.perf_counter()
        for row in subset:
            article = qa.add(row["article"])
            for strategy in args.strategies:
                ours = qa.summarize(article=article.id, max_words=words, strategy=strategy).text
                systems[f"newsqa {strategy}"].append(scorer.score(row["summary"], ours))
                if strategy == args.strategies[0]:
                    novelty.append(novel_bigrams(ours, row["article"]))
                    counts.append(faithfulness(ours, article.text))
                    if len(samples) < 10 and len(counts) % 10 == 1:
                        samples.append({"source": source, "id": row["id"], "summary": ours})
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
            "faithfulness_newsqa": _shares(counts),
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
        shares = results[source]["faithfulness_newsqa"]
        print(
            f"{source}: newsqa R-2 / Lead-3 R-2 = {results[source]['rouge2_vs_lead3']}, "
            f"novel bigrams {results[source]['novel_bigrams_newsqa']:.1%}; names/numbers/dates "
            f"not in the article {shares['unsupported']} of {shares['entities']}, verbless "
            f"sentences {shares['verbless']} of {shares['sentences']}, verbatim "
            f"{shares['verbatim_share']:.0%}"
        )
    print("\nTen summaries to read:")
    for sample in samples:
        print(f"- {sample['source']} {sample['id']}: {sample['summary']}")
    headlines = score_headlines(qa, args.headlines) if args.headlines else None
    if headlines:
        print_table(
            f"Headlines, Reuters TEST ({headlines['articles']} articles, ROUGE F1 x 100)",
            ["system", "R-1", "R-2", "R-L"],
            [[name, *headlines[name].values()] for name in ("newsqa headline", "first sentence")],
        )
        for example in headlines["examples"]:
            print(f"- ours: {example['newsqa']!r}  reference: {example['reference']!r}")
    path = write_result(
        args.name,
        {
            "model": args.model or "newsqa-mini",
            "limit": args.limit,
            "precision": qa.generator.precision,
            "results": results,
            "samples": samples,
            "headlines": headlines,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
