"""The question sets the QA benchmarks read, and the one way they are answered.

Each row: ``id``, ``question``, ``golds`` (no golds: unanswerable), ``article`` (the text added
as the article) and ``kind`` (answerable, unanswerable, off-topic, on-topic-unanswered).
"""

from __future__ import annotations

import gzip
import json
import random

from common import ROOT, SHARED_DATA

from newsqa import NewsQA
from newsqa.answer import Candidate
from newsqa.calibration import collect_candidates
from newsqa.metrics import best_over_golds, f1_score

NEWS_QA = ROOT / "benchmarks" / "data" / "news_qa.jsonl"


def squad(mode: str = "gold") -> list[dict]:
    """SQuAD v2 public dev: the question's paragraph (``gold``) or whole article as the article."""
    found = json.loads((SHARED_DATA / "squad2-dev-public.json").read_text())["data"]
    rows = []
    for article in found:
        whole = "\n\n".join(p["context"] for p in article["paragraphs"])
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                golds = [a["text"] for a in qa["answers"]] if not qa["is_impossible"] else []
                rows.append(
                    {
                        "id": qa["id"],
                        "question": qa["question"],
                        "golds": golds,
                        "article": paragraph["context"] if mode == "gold" else whole,
                        "kind": "answerable" if golds else "unanswerable",
                    }
                )
    return rows


def tweetqa() -> list[dict]:
    """TweetQA public dev: every question answerable, the tweet as the article."""
    with gzip.open(SHARED_DATA / "tweetqa-dev-public.json.gz", "rt", encoding="utf-8") as handle:
        paragraphs = json.load(handle)["data"][0]["paragraphs"]
    return [
        {
            "id": qa["id"],
            "question": qa["question"],
            "golds": sorted({a["text"] for a in qa["answers"]}),
            "article": p["context"],
            "kind": "answerable",
        }
        for p in paragraphs
        for qa in p["qas"]
    ]


def news() -> list[dict]:
    """Our news QA set (benchmarks/data/news_qa.jsonl) on the public CNN/DM articles and the
    seed article: answerable, off-topic and on-topic-unanswered questions. Written by us, each
    answer copied from its article."""
    from newsqa.cli import default_article_path

    articles = {
        row["id"]: row["article"]
        for row in map(json.loads, (SHARED_DATA / "summ-dev-public.jsonl").open())
    }
    articles["seed"] = default_article_path().read_text(encoding="utf-8")
    rows = []
    for number, line in enumerate(NEWS_QA.read_text().splitlines()):
        item = json.loads(line)
        rows.append(
            {
                "id": f"news-{number}",
                "question": item["question"],
                "golds": item["answers"],
                "article": articles[item["article_id"]],
                "kind": item["kind"],
                "type": item["type"],
            }
        )
    return rows


SETS = {
    "squad-gold": lambda: squad("gold"),
    "squad-article": lambda: squad("article"),
    "tweetqa": tweetqa,
    "news": news,
}


def sample(rows: list[dict], limit: int | None, seed: int = 0) -> list[dict]:
    if limit and limit < len(rows):
        return random.Random(seed).sample(rows, limit)
    return rows


def collect(qa: NewsQA, rows: list[dict]) -> dict[str, list[Candidate]]:
    """Each question's candidates through the library as it runs (``newsqa.calibration``)."""
    return collect_candidates(qa, rows)


def score_f1(prediction: str, golds: list[str]) -> float:
    return best_over_golds(f1_score, prediction, golds)
