"""Integrity of our news QA set (benchmarks/data/news_qa.jsonl): no model is run.

Every answer must be a span of its article as the library reads it (the cleaned text that
``NewsQA.add_text`` stores and answers from), every row needs a known kind and question type,
and the set must keep the sizes the README promises.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from newsqa.cli import default_article_path
from newsqa.ingest import load_text

ROOT = Path(__file__).resolve().parent.parent
NEWS_QA = ROOT / "benchmarks" / "data" / "news_qa.jsonl"
SUMM_DEV = ROOT.parent / "shared" / "data" / "summ-dev-public.jsonl"

KINDS = {"answerable", "off-topic", "on-topic-unanswered"}
TYPES = {"count", "place", "why", "when", "who", "what", "other"}
FIELDS = {"article_id", "question", "answers", "kind", "type"}
DEMO_QUESTION = "how many soldiers"


def _normal(question: str) -> str:
    return re.sub(r"\s+", " ", question.strip().lower()).rstrip(" ?")


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [json.loads(line) for line in NEWS_QA.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def articles() -> dict[str, str]:
    found = {row["id"]: row["article"] for row in map(json.loads, SUMM_DEV.open())}
    found["seed"] = default_article_path().read_text(encoding="utf-8")
    return found


def test_rows_are_well_formed(rows, articles):
    for row in rows:
        assert set(row) == FIELDS, row
        assert row["article_id"] in articles, row
        assert row["kind"] in KINDS, row
        assert row["type"] in TYPES, row
        assert row["question"].strip(), row
        if row["kind"] == "answerable":
            assert 1 <= len(row["answers"]) <= 3, row
            assert all(isinstance(a, str) and a.strip() == a and a for a in row["answers"]), row
        else:
            assert row["answers"] == [], row


def test_answers_are_spans_of_the_article_as_read(rows, articles):
    cleaned = {key: load_text(articles[key]).text for key in {r["article_id"] for r in rows}}
    missing = [
        (row["article_id"], row["question"], answer)
        for row in rows
        for answer in row["answers"]
        if answer not in articles[row["article_id"]] or answer not in cleaned[row["article_id"]]
    ]
    assert not missing


def test_sizes(rows):
    kinds = Counter(row["kind"] for row in rows)
    types = Counter(row["type"] for row in rows if row["kind"] != "off-topic")
    assert len(rows) >= 300
    assert kinds["on-topic-unanswered"] >= 80
    assert kinds["off-topic"] >= 30 and kinds["answerable"] >= 150
    assert types["count"] >= 30 and types["place"] >= 30 and types["why"] >= 20


def test_seed_questions(rows):
    seed = [row for row in rows if row["article_id"] == "seed"]
    assert len(seed) >= 20
    assert {row["kind"] for row in seed} == KINDS
    assert DEMO_QUESTION not in {_normal(row["question"]) for row in seed}


def test_no_question_twice_on_an_article(rows):
    seen = Counter((row["article_id"], _normal(row["question"])) for row in rows)
    assert [key for key, count in seen.items() if count > 1] == []


def test_benchmark_rows_carry_kind_and_type(rows):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from qa_sets import news
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    loaded = news()
    assert len(loaded) == len(rows)
    for row, item in zip(rows, loaded):
        assert (item["golds"], item["kind"], item["type"]) == (
            row["answers"],
            row["kind"],
            row["type"],
        )
