"""newsqa-mini's training examples, built from real SQuAD v1.1 train articles."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter

import pytest

from models import data
from newsqa.calibration import calibration_questions, topic_words
from newsqa.chunk import split_sentences
from newsqa.prompts import NO_ANSWER


@pytest.fixture(scope="module")
def squad_articles() -> list[dict]:
    """The first 20 SQuAD v1.1 train articles (the training file, never the dev ones)."""
    with gzip.open(data.SHARED_DATA / "squad1-train.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)["data"][:20]


@pytest.fixture(scope="module")
def built(squad_articles, tmp_path_factory):
    path = tmp_path_factory.mktemp("squad") / "train.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump({"data": squad_articles}, handle)
    return data.qa_examples(path, random.Random(0))


def _context(example: data.Example) -> str:
    return example.input.split(" context: ", 1)[1]


def test_every_kind_of_example_is_made_with_the_runtime_prompt(built):
    train, validation = built
    kinds = Counter(e.source for e in train)
    for kind in ("squad", "squad-noans", "squad-swap", "squad-reword"):
        assert kinds[kind] > 0, kind
    assert all(e.input.startswith("question: ") for e in train + validation)
    for example in train:
        if example.source == "squad":
            assert example.target in _context(example)
        else:
            assert example.target == NO_ANSWER


def test_held_out_articles_never_reach_training(built):
    train, validation = built
    assert validation
    shared = {_context(e) for e in train} & {_context(e) for e in validation}
    assert all(len(text) < 40 for text in shared)  # stock phrases only: "[citation needed]"


def test_antonym_and_negation_questions():
    window = "Victoria survived her first assassination attempt in 1840."
    assert data._antonym_question("When was Victoria's first attempt?", window) == (
        "When was Victoria's last attempt?"
    )
    assert data._antonym_question("When was the first attempt?", "the first and last one") is None
    assert data._negated_question("Who was the first queen?") == "Who was not the first queen?"
    assert data._negated_question("Who was never crowned?") is None


def test_cached_sentence_splits_build_the_same_examples(squad_articles, tmp_path, monkeypatch):
    """The sentence cache only saves time: a build from it equals a build that splits."""
    with gzip.open(tmp_path / "squad1-train.json.gz", "wt", encoding="utf-8") as handle:
        json.dump({"data": squad_articles[:12]}, handle)
    with gzip.open(data.SHARED_DATA / "summ-train.jsonl.gz", "rt", encoding="utf-8") as handle:
        lines = [line for _, line in zip(range(300), handle)]
    with gzip.open(tmp_path / "summ-train.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(lines)
    for name, shrink in (
        ("squad2-train-unanswerable.json.gz", lambda d: {"data": d["data"][:3]}),
        (
            "tweetqa-train.json.gz",
            lambda d: {"data": [{"paragraphs": d["data"][0]["paragraphs"][:50]}]},
        ),
    ):
        with gzip.open(data.SHARED_DATA / name, "rt", encoding="utf-8") as handle:
            small = shrink(json.load(handle))
        with gzip.open(tmp_path / name, "wt", encoding="utf-8") as handle:
            json.dump(small, handle)
    cache = tmp_path / "sentences.json.gz"

    monkeypatch.setattr(data, "_sentences", {})
    split = data.build(seed=0, data_dir=tmp_path, sentence_cache=cache)
    assert cache.exists()
    text = squad_articles[0]["paragraphs"][0]["context"]
    assert data._split(text) == split_sentences(text)

    def no_splitting(text):
        raise AssertionError("split again instead of reading the cache")

    monkeypatch.setattr(data, "_sentences", {})
    monkeypatch.setattr(data, "split_sentences", no_splitting)
    cached = data.build(seed=0, data_dir=tmp_path, sentence_cache=cache)
    assert cached == split
    other_seed = data.build(seed=1, data_dir=tmp_path, sentence_cache=cache)
    assert other_seed[0] != split[0]  # a new epoch draws other windows and negatives


def test_human_unanswerables_and_tweets_leave_out_what_calibration_holds_out(tmp_path):
    """SQuAD 2.0's human-written unanswerables train the refusal on a window of their
    paragraph; TweetQA trains span answers on the tweet; held-out articles and tweets never
    reach training, and the validation articles only score checkpoints."""
    rng = random.Random(0)
    validation_titles = data.squad_validation_titles()
    with gzip.open(
        data.SHARED_DATA / "squad2-train-unanswerable.json.gz", "rt", encoding="utf-8"
    ) as handle:
        articles = json.load(handle)["data"]
    held = [a for a in articles if data.held_out(a["title"])]
    assert 0.1 < len(held) / len(articles) < 0.3
    validating = [a for a in articles if a["title"] in validation_titles]
    kept = [a for a in articles if a not in held and a not in validating]
    small = held[:2] + validating[:1] + kept[:2]
    path = tmp_path / "unanswerable.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump({"data": small}, handle)

    train, validation = data.human_unanswerable_examples(path, rng, validation_titles)
    assert all(e.target == NO_ANSWER and e.source == "squad-human" for e in train + validation)

    def paragraphs(chosen):
        return [p["context"] for a in chosen for p in a["paragraphs"]]

    def questions(chosen):
        return [qa["question"] for a in chosen for p in a["paragraphs"] for qa in p["qas"]]

    assert len(train) == 2 * len(questions(kept[:2]))  # two windows each
    assert len(validation) == len(questions(validating[:1]))
    for examples, chosen in ((train, kept[:2]), (validation, validating[:1])):
        for example in examples:
            assert any(_context(example) in context for context in paragraphs(chosen))

    tweets = data.tweet_examples(data.SHARED_DATA / "tweetqa-train.json.gz", rng)
    answered = [e for e in tweets if e.source == "tweetqa"]
    assert len(answered) > 5000
    assert all(e.target in _context(e) and not data.held_out(_context(e)) for e in answered)
    assert {e.target for e in tweets if e.source == "tweetqa-offtopic"} == {NO_ANSWER}


def test_on_topic_tweet_negatives_share_the_topic_but_never_hold_an_answer():
    """Each on-topic negative pairs a TweetQA question with another tweet that shares at least
    two rare words with the question's own tweet, and no reference answer of it."""
    path = data.SHARED_DATA / "tweetqa-train.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        paragraphs = json.load(handle)["data"][0]["paragraphs"]
    answers_of = {
        qa["question"]: [a["text"].lower() for a in qa["answers"] if a["text"].strip()]
        for p in paragraphs
        for qa in p["qas"]
    }
    examples = data.tweet_examples(path, random.Random(0))
    on_topic = [e for e in examples if e.source == "tweetqa-ontopic"]
    assert len(on_topic) > 1000
    assert all(e.target == NO_ANSWER for e in on_topic)
    for example in on_topic[:300]:
        question = example.input.split("question: ", 1)[1].split(" context: ", 1)[0]
        context = _context(example).lower()
        assert not any(a in context for a in answers_of[question])
    contexts = [p["context"] for p in paragraphs[:400]]
    for number, others in enumerate(data.nearest_tweets(contexts)):
        for other in others:
            shared = topic_words(contexts[number]) & topic_words(contexts[other])
            assert len(shared) >= 2 and other != number


def test_calibration_holds_on_topic_tweet_negatives_from_held_out_tweets_only():
    """Calibration puts held-out TweetQA questions to the held-out tweet nearest their own: no
    gold answer there, and never a tweet that training sees."""
    rows = calibration_questions(data.SHARED_DATA, 200)
    tweets = [r for r in rows if r["kind"] == "other-passage" and r["group"].startswith("tweet:")]
    assert len(tweets) >= 50
    for row in tweets:
        assert data.held_out(row["article"])
        assert not row["golds"]
