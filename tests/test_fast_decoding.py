"""The fast decoding path of our own models gives what transformers' ``generate`` gives.

``Seq2SeqGenerator(fast=False)`` is the reference: the plain model through
``EncoderDecoderModel.generate``. The fast path (the default for newsqa-mini and newsqa-base)
must return the same answers, spans and confidences, on the seed article and on public news
questions, on whatever CPU runs the tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import newsqa
from newsqa.fast_decoding import PackedLinear
from newsqa.generate import BASE_MODEL, Request, Seq2SeqGenerator
from newsqa.models_install import BASE, installed_path
from newsqa.prompts import NO_ANSWER, qa_request

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEED_QUESTIONS = [
    "how many soldiers?",
    "How many soldiers crossed the border?",
    "where did the soldiers cross?",
    "why did the soldiers flee?",
    "who said the soldiers crossed?",
    "when did the soldiers cross the border?",
    "what were the soldiers given?",
    "How many Taliban fighters were killed in the fighting?",
    "What weapons did the soldiers bring?",
    "which town did the Taliban overrun?",
    "who recalled its ambassador?",
    "what is the capital of Qatar?",
]


def _engine(model: str | None, fast: bool) -> newsqa.NewsQA:
    engine = newsqa.NewsQA(model=model, device="cpu", precision="fp32")
    engine.generator.fast = fast  # before the first question loads the model
    return engine


def _same(reference: list[newsqa.Answer], fast: list[newsqa.Answer]) -> None:
    for expected, got in zip(reference, fast, strict=True):
        assert got.text == expected.text
        assert got.answerable == expected.answerable
        assert got.confidence == pytest.approx(expected.confidence, abs=1e-3)
        assert [(e.start, e.end) for e in got.evidence] == [
            (e.start, e.end) for e in expected.evidence
        ]


def _public_news_questions(count: int) -> dict[str, list[str]]:
    """``count`` questions of our public news set, spread over it, grouped by article text."""
    articles = {
        row["id"]: row["article"]
        for row in map(json.loads, (SHARED / "data" / "summ-dev-public.jsonl").open())
    }
    articles["seed"] = (ROOT / "newsqa" / "data" / "article.txt").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in (ROOT / "benchmarks/data/news_qa.jsonl").open()]
    step = len(rows) // count
    grouped: dict[str, list[str]] = {}
    for row in rows[::step][:count]:
        grouped.setdefault(articles[row["article_id"]], []).append(row["question"])
    return grouped


def _answers(engine: newsqa.NewsQA, grouped: dict[str, list[str]]) -> list[newsqa.Answer]:
    found = []
    for text, questions in grouped.items():
        article = engine.add_text(text)
        found += engine.ask_many(questions, article=article.id)
        engine.remove(article.id)
    return found


def test_the_seed_article_gets_the_reference_answers(seed_text):
    answers = {}
    for fast in (False, True):
        engine = _engine(None, fast)
        engine.add(seed_text)
        answers[fast] = [engine.ask(question) for question in SEED_QUESTIONS]
    _same(answers[False], answers[True])
    assert sum(a.answerable for a in answers[True]) >= 4  # answers, not only refusals, are compared


def test_fifty_public_news_questions_get_the_reference_answers():
    grouped = _public_news_questions(50)
    assert sum(map(len, grouped.values())) == 50
    reference = _answers(_engine(None, False), grouped)
    fast = _answers(_engine(None, True), grouped)
    _same(reference, fast)
    assert sum(a.answerable for a in fast) >= 20


@pytest.mark.parametrize("kernel", ["prepacked", "transposed"])
def test_beams_spans_and_no_answer_scores_match_the_reference(squad_dev, kernel, monkeypatch):
    """Below the answer: every beam's text, span and log-probability, and the no-answer
    score, for a batch of SQuAD passages of different lengths, with either kernel for the
    packed layers (whichever this CPU gets, the other runs correctly too)."""
    from newsqa import fast_decoding, generate

    monkeypatch.setattr(fast_decoding, "output_kernel", lambda: kernel)
    monkeypatch.setattr(generate, "_LOADED", {})  # models packed with this kernel
    requests = [
        Request(*qa_request(qa["question"], paragraph["context"]))
        for paragraph in squad_dev[2]["paragraphs"][:5]
        for qa in paragraph["qas"][:2]
    ]
    outputs = {}
    for fast in (False, True):
        generator = Seq2SeqGenerator(device="cpu", precision="fp32", fast=fast)
        packed = [type(m) is PackedLinear for m in generator.model.modules()]
        unpacked = [type(m) is torch.nn.Linear for m in generator.model.modules()]
        if not fast:
            assert not any(packed)
        elif kernel == "prepacked":  # every linear layer, encoder and decoder
            assert sum(packed) > 40 and not any(unpacked)
        else:  # the output layer only
            assert sum(packed) == 1
        outputs[fast] = generator.generate_and_score(
            requests, NO_ANSWER, num_beams=4, grounded=True, always_allowed=NO_ANSWER
        )
    (reference_beams, reference_scores), (fast_beams, fast_scores) = outputs[False], outputs[True]
    assert fast_scores == pytest.approx(reference_scores, abs=1e-4)
    for expected, got in zip(reference_beams, fast_beams, strict=True):
        assert [(g.text, g.span) for g in got] == [(g.text, g.span) for g in expected]
        assert [g.logprob for g in got] == pytest.approx([g.logprob for g in expected], abs=1e-4)


def _beams_with_and_without_reading_ahead(requests, monkeypatch) -> tuple[list, list]:
    """Beams and no-answer scores of newsqa-mini's fast path with a decoder pass per step and
    with its read-ahead, and the number of decoder passes of each."""
    from newsqa import fast_decoding

    generator = Seq2SeqGenerator(device="cpu", precision="fp32")
    passes = []
    step = fast_decoding._Step.__call__
    monkeypatch.setattr(
        fast_decoding._Step, "__call__", lambda *args: passes.append(1) or step(*args)
    )
    outputs, counts = [], []
    for rows in (0, fast_decoding.AHEAD_ROWS):  # 0: a pass per step
        monkeypatch.setattr(fast_decoding, "AHEAD_ROWS", rows)
        passes.clear()
        outputs.append(
            generator.generate_and_score(
                requests, NO_ANSWER, num_beams=4, grounded=True, always_allowed=NO_ANSWER
            )
        )
        counts.append(len(passes))
    return outputs, counts


def _same_beams(expected_output, got_output) -> None:
    (expected_beams, expected_scores), (got_beams, got_scores) = expected_output, got_output
    assert got_scores == pytest.approx(expected_scores, abs=1e-5)
    for expected, got in zip(expected_beams, got_beams, strict=True):
        assert [(g.text, g.span) for g in got] == [(g.text, g.span) for g in expected]
        assert [g.logprob for g in got] == pytest.approx([g.logprob for g in expected], abs=1e-5)


def test_reading_ahead_returns_what_a_pass_per_step_returns(squad_dev, monkeypatch):
    """Reading each beam's forced path ahead in one decoder pass saves passes and changes
    nothing: every beam's text, span and log-probability, and the no-answer score, are those of
    one pass per step, for SQuAD passages of different lengths and questions. How many passes
    it saves depends on the weights (how often beams follow forced paths): the time it saves is
    ``benchmarks/bench_decoding.py``'s to report."""
    requests = [
        Request(*qa_request(qa["question"], paragraph["context"]))
        for paragraph in squad_dev[5]["paragraphs"][:6]
        for qa in paragraph["qas"][:2]
    ]
    (each, ahead), (each_passes, ahead_passes) = _beams_with_and_without_reading_ahead(
        requests, monkeypatch
    )
    _same_beams(each, ahead)
    assert ahead_passes < each_passes


def test_reading_ahead_past_a_short_passage_end(monkeypatch):
    """Beams that ended are read ahead too (they may only end again), beyond the end of a
    one-word passage."""
    requests = [Request(*qa_request("who won?", "Kenya."))]
    (each, ahead), (each_passes, ahead_passes) = _beams_with_and_without_reading_ahead(
        requests, monkeypatch
    )
    _same_beams(each, ahead)
    assert ahead_passes < each_passes


def test_free_decoding_matches_the_reference_too(squad_dev):
    requests = [
        Request(qa_request(qa["question"], squad_dev[3]["paragraphs"][0]["context"])[0])
        for qa in squad_dev[3]["paragraphs"][0]["qas"][:4]
    ]
    texts = {}
    for fast in (False, True):
        generator = Seq2SeqGenerator(device="cpu", precision="fp32", fast=fast)
        texts[fast] = [[g.text for g in beams] for beams in generator.generate(requests)]
    assert texts[True] == texts[False]


@pytest.mark.parametrize("kernel", ["prepacked", "transposed"])
def test_both_output_layer_kernels_compute_the_linear_layer(kernel):
    """Whichever kernel this CPU gets, the other one runs correctly too (CI's CPU may differ)."""
    import torch

    layer = Seq2SeqGenerator(device="cpu", precision="fp32", fast=False).model.decoder.cls
    linear = layer.predictions.decoder
    rows = torch.randn(16, linear.in_features, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected, got = linear(rows), PackedLinear(linear, kernel)(rows)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-5)


def test_this_torch_has_a_working_prepacked_linear():
    """The installed torch's oneDNN prepacked linear computes a linear layer (else every CPU falls
    back to the transposed output layer alone, and the speed measured is lost)."""
    from newsqa import fast_decoding

    assert fast_decoding._prepacked_linear_works()


def test_only_our_fp32_cpu_models_get_the_packed_output_layer():
    fast = Seq2SeqGenerator(device="cpu", precision="fp32")
    reference = Seq2SeqGenerator(device="cpu", precision="fp32", fast=False)
    int8 = Seq2SeqGenerator(device="cpu", precision="int8")
    assert isinstance(fast.model.get_output_embeddings(), PackedLinear)
    assert not isinstance(reference.model.get_output_embeddings(), PackedLinear)
    assert not isinstance(int8.model.get_output_embeddings(), PackedLinear)


@pytest.mark.parametrize(
    "model",
    [
        None,
        pytest.param(
            BASE_MODEL,
            marks=pytest.mark.skipif(
                installed_path(BASE) is None,
                reason="all-mpnet-base-v2 is not installed here (newsqa models install base)",
            ),
        ),
    ],
)
def test_the_packed_encoder_gives_the_padded_encoders_states(model, seed_text):
    """newsqa-mini's BERT and newsqa-base's MPNet encoders, packed: each passage's states are
    those of the padded batch (MPNet's relative position bias follows each passage's length)."""
    import torch

    from newsqa.fast_decoding import encode

    generator = Seq2SeqGenerator(model=model, device="cpu", precision="fp32", fast=False)
    encoder = generator.model.get_encoder()
    passages = [seed_text[:700], seed_text[700:900], seed_text[900:2000], seed_text[2000:2100]]
    inputs = generator.tokenizer(passages, return_tensors="pt", padding=True)
    real = inputs["attention_mask"].bool()
    assert not bool(real.all())  # the batch has padding to leave out
    with torch.inference_mode():
        expected = encoder(**inputs).last_hidden_state
        got = encode(encoder, inputs["input_ids"], inputs["attention_mask"])
    assert torch.allclose(got[real], expected[real], atol=1e-4)
    assert not bool(got[~real].any())


@pytest.mark.skipif(
    installed_path(BASE) is None,
    reason="all-mpnet-base-v2 is not installed here (newsqa models install base, 438 MB)",
)
def test_newsqa_base_gets_the_reference_answers(seed_text):
    """newsqa-base's encoder is wider than its decoder: the fast path projects its states once."""
    answers = {}
    for fast in (False, True):
        engine = _engine(BASE_MODEL, fast)
        engine.add(seed_text)
        answers[fast] = engine.ask_many(SEED_QUESTIONS[:6])
    _same(answers[False], answers[True])
