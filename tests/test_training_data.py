"""newsqa-mini's training examples, built from real SQuAD v1.1 train articles."""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter

import pytest

from models import data
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


def _question(example: data.Example) -> str:
    return re.match(r"question: (.*?) context: ", example.input).group(1)


def _context(example: data.Example) -> str:
    return example.input.split(" context: ", 1)[1]


def test_every_kind_of_example_is_made_with_the_runtime_prompt(built):
    train, validation = built
    kinds = Counter(e.source for e in train)
    for kind in ("squad", "squad-noans", "squad-swap", "squad-reword", "squad-neutral"):
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
    assert not {_context(e) for e in train} & {_context(e) for e in validation}


def test_neutral_questions_swap_one_word_the_passage_holds_for_an_on_topic_one_it_lacks(built):
    train, _ = built
    originals = {_context(e): _question(e) for e in train if e.source == "squad"}
    checked = 0
    for example in (e for e in train if e.source == "squad-neutral"):
        asked, window = _question(example), _context(example).lower()
        original = originals.get(_context(example))
        before, after = re.findall(r"\w+", original or ""), re.findall(r"\w+", asked)
        if len(before) != len(after):
            continue  # another question shares this window
        changed = [(a, b) for a, b in zip(before, after) if a != b]
        if len(changed) != 1:
            continue
        removed, added = changed[0]
        assert re.search(rf"\b{removed}\b", window)
        assert added not in window
        checked += 1
    assert checked >= 20


def test_retrieval_failure_windows_lack_the_answer_but_share_the_question_words(squad_articles):
    rng = random.Random(0)
    overlaps, random_overlaps = [], []
    for article in squad_articles[:5]:
        paragraphs = [(p, data.split_sentences(p["context"])) for p in article["paragraphs"]]
        words = [[data._words(s.text) for s in sentences] for _, sentences in paragraphs]
        for index, (paragraph, sentences) in enumerate(paragraphs):
            for qa in paragraph["qas"][:3]:
                start = qa["answers"][0]["answer_start"]
                centre = next((i for i, s in enumerate(sentences) if s.end > start), None)
                window = data._negative_window(paragraphs, words, index, centre, qa, rng)
                if window is None:
                    continue
                assert all(a["text"].lower() not in window.lower() for a in qa["answers"])
                asked = data._content_words(qa["question"].lower())
                other = rng.choice(paragraphs)[0]["context"]
                overlaps.append(len(asked & data._words(window)))
                random_overlaps.append(len(asked & data._words(other[: len(window)])))
    assert len(overlaps) > 30
    assert sum(overlaps) > 1.5 * sum(random_overlaps)


def test_antonym_and_negation_questions():
    window = "Victoria survived her first assassination attempt in 1840."
    assert data._antonym_question("When was Victoria's first attempt?", window) == (
        "When was Victoria's last attempt?"
    )
    assert data._antonym_question("When was the first attempt?", "the first and last one") is None
    assert data._negated_question("Who was the first queen?") == "Who was not the first queen?"
    assert data._negated_question("Who was never crowned?") is None
