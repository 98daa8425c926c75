"""The generator on the shipped newsqa-mini: grounded decoding quotes, batching is faithful."""

import pytest

from newsqa.errors import InputError, ModelError
from newsqa.generate import (
    Request,
    Seq2SeqGenerator,
    bundled_model_path,
    cpu_precision,
)
from newsqa.metrics import normalize_answer
from newsqa.prompts import NO_ANSWER, qa_request


@pytest.fixture(scope="module")
def generator():
    """fp32: int8's activation scales are per batch, so only exact arithmetic can show that
    batching and sorting change nothing."""
    return Seq2SeqGenerator(device="cpu", batch_size=8, precision="fp32")


@pytest.fixture(scope="module")
def squad_requests(squad_dev):
    pairs = []
    for paragraph in squad_dev[1]["paragraphs"][:4]:
        for qa in paragraph["qas"][:4]:
            pairs.append(qa_request(qa["question"], paragraph["context"]) + (paragraph["context"],))
    return pairs


def test_the_shipped_model_is_small_and_complete():
    path = bundled_model_path()
    files = {p.name for p in path.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "MODEL_CARD.md",
        "calibration.json",
    } <= files
    assert sum(p.stat().st_size for p in path.iterdir()) < 100 * 1024 * 1024


def test_grounded_outputs_are_spans_of_the_context_or_no_answer(generator, squad_requests):
    requests = [Request(text, start) for text, start, _ in squad_requests]
    outputs = generator.generate(requests, num_beams=3, grounded=True, always_allowed=NO_ANSWER)
    assert len(outputs) == len(requests)
    for (_, _, context), beams in zip(squad_requests, outputs):
        assert len(beams) == 3
        for beam in beams:
            if beam.text == NO_ANSWER:
                continue
            assert beam.span is not None, beam.text
            quoted = context[beam.span[0] : beam.span[1]]
            assert normalize_answer(quoted).replace(" ", "") == normalize_answer(beam.text).replace(
                " ", ""
            )


def test_batching_and_order_do_not_change_outputs(generator, squad_requests):
    requests = [Request(text, start) for text, start, _ in squad_requests[:6]]
    batched = generator.generate(requests, num_beams=2, grounded=True, always_allowed=NO_ANSWER)
    single = [
        generator.generate([r], num_beams=2, grounded=True, always_allowed=NO_ANSWER)[0]
        for r in reversed(requests)
    ][::-1]
    assert [b[0].text for b in batched] == [s[0].text for s in single]


def test_grounded_search_returns_the_model_s_own_best_answer_when_it_is_a_quote(
    generator, squad_dev
):
    """The span constraint only removes outputs, so where the model's unconstrained best answer
    is a quote of the passage, grounded decoding must return it or one at least as likely (a
    search that stopped at the first finished beams once cut "Ellen Stofan" to "Ellen")."""
    pairs = [
        qa_request(qa["question"], paragraph["context"]) + (paragraph["context"],)
        for article in squad_dev[1:5]
        for paragraph in article["paragraphs"][:3]
        for qa in paragraph["qas"][:3]
        if qa["answers"]
    ]
    requests = [Request(text, start) for text, start, _ in pairs]
    free = generator.generate(requests, num_beams=4)
    grounded = generator.generate(requests, num_beams=4, grounded=True, always_allowed=NO_ANSWER)
    checked = 0
    for (_, _, context), unconstrained, constrained in zip(pairs, free, grounded):
        best = unconstrained[0]
        if best.text == NO_ANSWER or best.text not in context.lower():
            continue
        checked += 1
        assert constrained[0].logprob >= best.logprob - 1e-3, (constrained[0], best)
    assert checked >= 10


def test_span_tables_are_built_once_per_loaded_model(generator, squad_requests):
    """A batch job makes a NewsQA (so a generator) per article: the vocabulary scan is shared."""
    generator.generate([Request(text, start) for text, start, _ in squad_requests[:1]])
    again = Seq2SeqGenerator(device="cpu", batch_size=8, precision="fp32")
    assert again._span_tables is generator._span_tables


def test_no_answer_is_scored_as_a_log_probability(generator, squad_requests):
    requests = [Request(text, start) for text, start, _ in squad_requests[:4]]
    scores = generator.score(requests, NO_ANSWER)
    assert len(scores) == 4 and all(s < 0 for s in scores)


def test_int8_quantization_keeps_grounded_decoding_and_its_quality(generator, squad_dev):
    """int8 answers are quotes, and on 473 answerable SQuAD v2 dev questions (ten articles) their
    F1 stays within 10 points of fp32's: a broken quantization falls far below. fp32 answers the
    same on every CPU, int8 does not: its kernels round differently between CPUs (one CI machine
    put the first 48 questions 4.5 points lower than an AMD EPYC did), and slices of 48 vary by
    several points on one machine, so the sample is large and the bound leaves room."""
    from newsqa.metrics import best_over_golds, f1_score

    quantized = Seq2SeqGenerator(device="cpu", batch_size=8, precision="int8")
    rows = []
    for article in squad_dev[2:12]:
        rows += [
            (qa_request(qa["question"], p["context"]), [a["text"] for a in qa["answers"]])
            for p in article["paragraphs"][:16]
            for qa in p["qas"]
            if not qa["is_impossible"]
        ][:48]
    requests = [Request(text, start) for (text, start), _ in rows]
    scores = {}
    for name, model in (("int8", quantized), ("fp32", generator)):
        beams = model.generate(requests, num_beams=2, grounded=True)
        assert all(b[0].span is not None for b in beams)
        scores[name] = sum(
            best_over_golds(f1_score, b[0].text, golds) for b, (_, golds) in zip(beams, rows)
        ) / len(rows)
    assert len(rows) == 473
    assert abs(scores["int8"] - scores["fp32"]) <= 0.10, scores
    assert scores["int8"] >= 0.5, scores


def test_cpu_precision_defaults_to_fp32_on_any_cpu(monkeypatch):
    monkeypatch.delenv("NEWSQA_PRECISION", raising=False)
    assert Seq2SeqGenerator(device="cpu").precision == "fp32"
    assert cpu_precision(None) == cpu_precision("auto") == "fp32"
    assert Seq2SeqGenerator(device="cpu", precision="int8").precision == "int8"
    assert Seq2SeqGenerator(device="cpu", precision="fp32").precision == "fp32"
    monkeypatch.setenv("NEWSQA_PRECISION", "BF16")
    assert Seq2SeqGenerator(device="cpu").precision == "bf16"
    with pytest.raises(InputError, match="unknown precision 'fp8'"):
        Seq2SeqGenerator(device="cpu", precision="fp8")


def test_a_model_that_cannot_be_loaded_offline_is_named():
    with pytest.raises(ModelError, match="no-such-org/no-such-model"):
        Seq2SeqGenerator("no-such-org/no-such-model", device="cpu").generate([Request("hi")])


def _allowed_after(prefix: list[int], contexts, fixed=None) -> list[set[int]]:
    """Which tokens the span constraint lets follow ``prefix`` (start token 101 first), per row."""
    import torch

    from newsqa.generate import _SpanConstraint

    eos, continues = 102, torch.zeros(1001, dtype=torch.bool)
    continues[900] = True
    special = torch.tensor([0, 101, 102])
    constraint = _SpanConstraint(contexts, fixed, eos, special, continues)
    rows = torch.tensor([[101, *prefix]] * len(contexts))
    masked = constraint(rows, torch.zeros(len(contexts), 1000))
    return [set(torch.isfinite(row).nonzero().flatten().tolist()) for row in masked]


def test_the_span_constraint_allows_exactly_the_continuations_of_the_context():
    contexts = [[5, 6, 7, 6, 8], [6, 900, 3]]
    # first token: any context token that starts a word (900 continues one)
    assert _allowed_after([], contexts) == [{5, 6, 7, 8}, {6, 3}]
    # after "6": what follows each 6; the end of text only where a word ends
    assert _allowed_after([6], contexts) == [{7, 8, 102}, {900}]
    # a span that ends the context may stop; a prefix found nowhere can only stop
    assert _allowed_after([6, 8], contexts) == [{102}, {102}]
    assert _allowed_after([6, 900], contexts) == [{102}, {3, 102}]
    # the fixed (no-answer) text is always open, token by token, then ends
    assert _allowed_after([], contexts, fixed=[40, 41]) == [{5, 6, 7, 8, 40}, {6, 3, 40}]
    assert _allowed_after([40], contexts, fixed=[40, 41]) == [{41}, {41}]
    assert _allowed_after([40, 41], contexts, fixed=[40, 41]) == [{102}, {102}]


def test_batches_never_mix_groups_and_keep_length_order():
    from newsqa.generate import _batches

    order = [4, 0, 3, 1, 5, 2]  # indices sorted by length
    groups = [0, 0, 1, 1, 0, 1]
    batches = _batches(order, groups, size=2)
    assert sorted(i for batch in batches for i in batch) == list(range(6))
    assert all(len({groups[i] for i in batch}) == 1 and len(batch) <= 2 for batch in batches)
    assert batches == [[4, 0], [1], [3, 5], [2]]
    assert _batches(order, [0] * 6, size=4) == [[4, 0, 3, 1], [5, 2]]


def test_int8_answers_do_not_depend_on_the_other_questions_in_the_batch(seed_text):
    from newsqa import NewsQA

    qa = NewsQA(device="cpu", precision="int8")
    article = qa.add(seed_text)
    questions = [
        "how many officers crossed?",
        "where did the soldiers cross?",
        "who said the soldiers crossed?",
        "where did negotiators meet?",
        "how many American soldiers were there?",
        "what fears are rising?",
        "what did Kabul accuse Islamabad of?",
        "which town did the Taliban overrun?",
    ]
    together = qa.ask_many(questions, article=article.id)
    alone = [qa.ask(q, article=article.id) for q in questions]
    assert [a.text for a in together] == [a.text for a in alone]
