"""Choose the summary ranking's weights on training pairs, never on the dev files we report.

ROUGE-2 of ``newsqa.summarize`` on news articles of ``summ-train.jsonl.gz`` (BBC News Summary
and Inshorts pairs, not used for the scores we publish), for a grid of lead and redundancy
weights; the best row on Inshorts (short written summaries, what ours are for) is what
``newsqa/summaries.py`` ships.

    python benchmarks/tune_summarize.py --limit 60
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA, print_table, write_result  # noqa: E402
from rouge_score import rouge_scorer  # noqa: E402

from newsqa import NewsQA, summaries  # noqa: E402

SOURCES = {"bbc-news-summary": 80, "inshorts": 60}
"""Training sources with written summaries, and the summary length asked of each."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=60, help="articles per source")
    parser.add_argument("--lead", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0])
    parser.add_argument("--redundancy", type=float, nargs="+", default=[0.0, 0.5])
    args = parser.parse_args()
    rng = random.Random(0)
    with gzip.open(SHARED_DATA / "summ-train.jsonl.gz", "rt") as handle:
        rows = [json.loads(line) for line in handle]
    picked = {
        source: rng.sample([r for r in rows if r["source"] == source], args.limit)
        for source in SOURCES
    }
    scorer = rouge_scorer.RougeScorer(["rouge2"], use_stemmer=True)
    qa = NewsQA(device="cpu")
    table, results = [], []
    for lead in args.lead:
        for redundancy in args.redundancy:
            summaries.LEAD_WEIGHT, summaries.REDUNDANCY_WEIGHT = lead, redundancy
            row = {"lead": lead, "redundancy": redundancy}
            for source, words in SOURCES.items():
                scores = []
                for pair in picked[source]:
                    article = qa.add(pair["article"])
                    text = qa.summarize(article=article.id, max_words=words).text
                    qa.remove(article.id)
                    scores.append(scorer.score(pair["summary"], text)["rouge2"].fmeasure)
                row[source] = round(100 * sum(scores) / len(scores), 2)
            row["mean"] = round(sum(row[s] for s in SOURCES) / len(SOURCES), 2)
            results.append(row)
            table.append(list(row.values()))
            print(row, flush=True)
    print_table("ROUGE-2 F1 x 100 on training pairs", list(results[0]), table)
    # Inshorts' short written summaries are what newsqa's summaries are for; BBC News
    # Summary's are long extracts (about half the article), shown for contrast
    best = max(results, key=lambda r: r["inshorts"])
    print(f"best on inshorts: lead {best['lead']}, redundancy {best['redundancy']}")
    print(f"wrote {write_result('tune_summarize', {'limit': args.limit, 'grid': results})}")


if __name__ == "__main__":
    main()
