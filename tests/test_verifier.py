"""The answer verifier: the shipped adapters, merged by hand, and what it tells apart on public
SQuAD v2 dev questions (never trained on)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from models.train_verifier import decoy
from newsqa import verifier
from newsqa.chunk import split_sentences
from newsqa.confidence import content_words

FOLDER = Path(__file__).resolve().parent.parent / "models" / "newsqa-mini" / "verifier"


@pytest.fixture(scope="module")
def judge() -> verifier.Verifier:
    loaded = verifier.load(FOLDER)
    assert loaded is not None
    return loaded


def test_adapters_merged_by_hand_score_as_peft_does(judge):
    import torch
    from peft import PeftModel
    from transformers import AutoModel

    from newsqa.embed import bundled_embedder_path

    triples = [
        ("Who won the race?", "Anna Berg", "Anna Berg won the race on Sunday in Oslo."),
        ("Where was the race?", "Oslo", "Anna Berg won the race on Sunday in Oslo."),
    ]
    base = AutoModel.from_pretrained(bundled_embedder_path(), add_pooling_layer=False)
    reference = PeftModel.from_pretrained(base, FOLDER).eval()
    inputs = verifier.encode(judge.tokenizer, triples)
    with torch.inference_mode():
        expected = judge.head(reference(**inputs).last_hidden_state[:, 0])[:, 0].tolist()
    assert judge.logits(triples) == pytest.approx(expected, abs=1e-4)


def test_prepacked_layers_and_repeated_pairs_give_the_plain_logits(judge):
    """Each distinct pair is read once, and the prepacked layers (where this CPU gets them)
    give the plain model's logits within float rounding."""
    triples = [
        ("Who won the race?", "Anna Berg", "Anna Berg won the race on Sunday in Oslo."),
        ("Where was the race?", "Oslo", "Anna Berg won the race on Sunday in Oslo."),
        ("When was the race?", "Sunday", "Anna Berg won the race on Sunday in Oslo."),
    ]
    plain = verifier.Verifier(FOLDER, packed=False)
    expected = plain.logits(triples)
    repeated = [triples[0], triples[1], triples[0], triples[2], triples[1]]
    got = judge.logits(repeated)
    assert got == pytest.approx([expected[i] for i in (0, 1, 0, 2, 1)], abs=1e-4)
    assert got[0] == got[2] and got[1] == got[4]


def _answer_and_decoy_sentences(squad_dev, limit: int = 200):
    """(question, gold, its sentence, the paragraph's sentence sharing most words with the
    question that lacks the gold) for the first answerable dev questions that have both."""
    found = []
    for article in squad_dev:
        for paragraph in article["paragraphs"]:
            sentences = [s.text for s in split_sentences(paragraph["context"])]
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or len(found) >= limit:
                    continue
                gold = qa["answers"][0]["text"]
                holding = [s for s in sentences if gold in s]
                words = content_words(qa["question"])
                others = [s for s in sentences if gold.lower() not in s.lower()]
                if holding and others:
                    near = max(others, key=lambda s: len(words & content_words(s)))
                    found.append((qa["question"], gold, holding[0], near))
    return found


def test_the_sentence_that_answers_outscores_one_on_the_same_topic(judge, squad_dev):
    """A reader's on-topic mistake: a phrase of the kind asked for, from a sentence about the
    same thing that does not answer; the verifier should rank the real answer above it."""
    rng = random.Random(0)
    rows = [
        (q, gold, sentence, near, decoy(q, near, gold, rng))
        for q, gold, sentence, near in _answer_and_decoy_sentences(squad_dev)
    ]
    rows = [row for row in rows if row[-1]]
    right = judge.logits([(q, gold, sentence) for q, gold, sentence, _, _ in rows])
    wrong = judge.logits([(q, other, near) for q, _, _, near, other in rows])
    share = sum(r > w for r, w in zip(right, wrong)) / len(rows)
    assert len(rows) >= 150
    assert share >= 0.85, share


@pytest.fixture(scope="module")
def verified_qa(seed_text):
    from newsqa import NewsQA

    qa = NewsQA(device="cpu", precision="fp32", verify=True)
    qa.add_text(seed_text)
    return qa


def test_verify_feeds_each_candidate_the_verifiers_logit(verified_qa, judge):
    from newsqa.answer import find_candidates, verify

    qa = verified_qa
    assert qa.verifier is judge
    assert qa.calibrator.weights["verifier"] > 0
    questions = ["why did the soldiers flee?", "who runs the country?"]
    passages = qa.retrieve_many(questions, None, qa.top_k)
    found = verify(find_candidates(qa.generator, questions, passages, qa.grounded), judge)
    candidates = [c for listed in found for c in listed]
    expected = judge.logits([(c.question, c.text, c.sentence.text) for c in candidates])
    assert len(candidates) >= 4
    assert [c.features["verifier"] for c in candidates] == pytest.approx(expected, abs=1e-5)
    answer = qa.ask(questions[0])
    best = max(qa.calibrator.probability(c.features) for c in found[0])
    assert answer.confidence == pytest.approx(best if answer.answerable else 1 - best, abs=1e-4)


def test_verify_is_refused_where_it_was_not_calibrated(monkeypatch):
    from newsqa import NewsQA
    from newsqa.errors import InputError

    with pytest.raises(InputError, match="fp32"):
        NewsQA(device="cpu", precision="int8", verify=True)
    monkeypatch.setenv("NEWSQA_VERIFY", "1")
    assert NewsQA(device="cpu", precision="fp32").calibrator.weights.get("verifier")
    monkeypatch.setenv("NEWSQA_VERIFY", "0")
    assert not NewsQA(device="cpu", precision="fp32").calibrator.weights.get("verifier")


def test_cli_ask_verify_prints_a_json_answer(tmp_path):
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "NEWSQA_LIBRARY": str(tmp_path / "library"), "NEWSQA_NO_SERVER": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsqa.cli",
            "ask",
            "why did the soldiers flee?",
            "--verify",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert 0.0 <= answer["confidence"] <= 1.0
    assert (
        "--verify"
        in subprocess.run(
            [sys.executable, "-m", "newsqa.cli", "ask", "--help"],
            capture_output=True,
            text=True,
            env=env,
        ).stdout
    )
