"""Story summaries on MultiLing 2011 (10 WikiNews events, 10 articles each, 3 human summaries of
~250 words each): ROUGE of ``newsqa.story_summary`` against two baselines, in the same run.

- lead: the first sentences of the event's earliest article;
- centroid: the sentences closest to the story's TF-IDF centroid (scikit-learn), one of two
  sentences alike (TF-IDF cosine >= 0.5) skipped, in time order: the classic extractive
  multi-document baseline;
- newsqa: ``summarize_story`` at its defaults, and by leave-one-event-out cross-validation of
  its two settings (lead weight, repeat likeness): each event scored with the pair that is best
  on the other nine, so that no score is of settings chosen on its own references.

Every summary is cut to 250 words; ROUGE-1/2/L (rouge-score, Porter stemming) F1 against each of
the 3 references, the mean over references (and the best) averaged over the events. Names,
numbers and dates in newsqa's summaries that the cited article lacks are counted (spaCy).
Articles go through the library as a user's would (cleaned, split, dated).

    python benchmarks/eval_story_summaries.py
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA, print_table, write_result  # noqa: E402

from newsqa import NewsQA  # noqa: E402
from newsqa.faithful import unsupported_entities  # noqa: E402
from newsqa.story_summary import (  # noqa: E402
    LEAD_WEIGHT,
    MAX_WORDS,
    REPEAT_LIKENESS,
    story_lines,
    story_order,
    summarize_story,
)
from newsqa.summaries import body_sentences, trimmed  # noqa: E402

DATA = SHARED_DATA / "multiling2011-en-mds.jsonl.gz"
LEAD_WEIGHTS = [0.0, 0.1, 0.2, 0.5, 1.0, 2.0]
LIKENESSES = [0.5, 0.6, 0.7, 0.8, 0.9]
CENTROID_REPEAT = 0.5


def load_events() -> list[dict]:
    with gzip.open(DATA, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def cut(text: str, words: int = MAX_WORDS) -> str:
    return " ".join(text.split()[:words])


class Scorer:
    def __init__(self):
        from rouge_score import rouge_scorer

        self.rouge = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)

    def __call__(self, summary: str, references: list[str]) -> dict[str, float]:
        """Mean and best F1 over the references, per ROUGE type (x100)."""
        scores = [self.rouge.score(reference, cut(summary)) for reference in references]
        found = {}
        for kind in ("rouge1", "rouge2", "rougeL"):
            values = [100 * s[kind].fmeasure for s in scores]
            found[kind] = statistics.mean(values)
            found[f"{kind}_best"] = max(values)
        return found


def lead(story: list[tuple]) -> str:
    first, sentences = story[story_order([a for a, _ in story])[0]]
    return cut(" ".join(trimmed(s).text for s in body_sentences(first, sentences)))


def centroid(story: list[tuple]) -> str:
    """The TF-IDF centroid baseline (see the module docstring)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    pooled = [
        (rank, position, trimmed(s).text)
        for rank, number in enumerate(story_order([a for a, _ in story]))
        for position, s in enumerate(body_sentences(*story[number]))
    ]
    matrix = TfidfVectorizer(stop_words="english").fit_transform([p[2] for p in pooled])
    vectors = matrix.toarray()
    centre = vectors.mean(axis=0)
    merit = vectors @ centre / (np.linalg.norm(centre) or 1.0)
    chosen, words = [], 0
    for index in np.argsort(-merit, kind="stable"):
        if words >= MAX_WORDS:
            break
        if chosen and max(float(vectors[i] @ vectors[index]) for i in chosen) >= CENTROID_REPEAT:
            continue
        chosen.append(int(index))
        words += len(pooled[index][2].split())
    return " ".join(pooled[i][2] for i in sorted(chosen, key=lambda i: pooled[i][:2]))


def unsupported(story: list[tuple], embed) -> tuple[int, int]:
    """(names, numbers and dates in newsqa's summary; those its cited article lacks)."""
    found = missing = 0
    for line, article, _ in story_lines(story, embed):
        total, lacking = unsupported_entities(line, article.text)
        found, missing = found + total, missing + lacking
    return found, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", default="eval_story_summaries", help="results file name")
    options = parser.parse_args()
    events = load_events()
    qa = NewsQA(device="cpu")
    stories = []
    for event in events:
        story = []
        for item in event["articles"]:
            article = qa.add_text(item["text"], title=item["title"], published=item.get("date"))
            story.append((article, qa.library.sentences(article.id)))
        stories.append(story)
    cache: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            cache.update(zip(missing, qa.embedder.encode(missing)))
        return np.stack([cache[t] for t in texts])

    score = Scorer()
    references = [event["references"] for event in events]
    grid = {
        pair: [
            score(summarize_story(story, embed, MAX_WORDS, *pair).text, refs)
            for story, refs in zip(stories, references)
        ]
        for pair in itertools.product(LEAD_WEIGHTS, LIKENESSES)
    }
    picks, held_out = [], []
    for number in range(len(events)):
        rest = [i for i in range(len(events)) if i != number]
        best = max(grid, key=lambda p: statistics.mean(grid[p][i]["rouge2"] for i in rest))
        picks.append(best)
        held_out.append(grid[best][number])
    default = (LEAD_WEIGHT, REPEAT_LIKENESS)
    ours = [summarize_story(story, embed) for story in stories]
    methods = {
        "lead (earliest article)": [score(lead(s), r) for s, r in zip(stories, references)],
        "centroid (TF-IDF)": [score(centroid(s), r) for s, r in zip(stories, references)],
        f"newsqa, defaults {default}": [score(s.text, r) for s, r in zip(ours, references)],
        "newsqa, leave-one-event-out CV": held_out,
    }
    table = {
        name: {k: round(statistics.mean(s[k] for s in scores), 2) for k in scores[0]}
        for name, scores in methods.items()
    }
    entities = [unsupported(story, embed) for story in stories]
    payload = {
        "events": len(events),
        "max_words": MAX_WORDS,
        "rouge": "rouge-score F1 x100, Porter stemming, summaries cut to 250 words; "
        "mean over the 3 references (and *_best: the best of them), averaged over events",
        "methods": table,
        "cv_picks": [list(p) for p in picks],
        "grid_rouge2": {
            f"{w}/{r}": round(statistics.mean(s["rouge2"] for s in scores), 2)
            for (w, r), scores in grid.items()
        },
        "newsqa_entities": sum(e[0] for e in entities),
        "newsqa_entities_unsupported": sum(e[1] for e in entities),
        "newsqa_words": [len(s.text.split()) for s in ours],
    }
    print_table(
        f"Story summaries, MultiLing 2011 ({len(events)} events, {MAX_WORDS} words)",
        ["method", "R-1", "R-2", "R-L", "R-2 best ref"],
        [
            [name, row["rouge1"], row["rouge2"], row["rougeL"], row["rouge2_best"]]
            for name, row in table.items()
        ],
    )
    print(
        f"\nnames, numbers and dates in newsqa's summaries: {payload['newsqa_entities']}, "
        f"not in the cited article: {payload['newsqa_entities_unsupported']}"
    )
    print(f"CV picks (lead weight, repeat likeness): {picks}")
    print(f"\nwrote {write_result(options.name, payload)}")


if __name__ == "__main__":
    main()
