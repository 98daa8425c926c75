"""The public API end to end, on the bundled models and the seed article."""

import dataclasses
import re

import pytest

import newsqa
from newsqa.errors import InputError, NotFoundError

COUNT_QUESTION = "how many members of the Afghanistan forces crossed the border?"


def test_a_count_is_answered_with_its_evidence_and_offsets(qa):
    article = qa.articles()[0]
    answer = qa.ask(COUNT_QUESTION)
    assert answer.answerable
    assert "46" in answer.text
    evidence = answer.evidence[0]
    assert evidence.article_id == article.id
    assert evidence.sentence.startswith("The statement said a total of 46 members")
    assert article.text[evidence.start : evidence.end] == answer.text
    assert 0.0 <= answer.confidence <= 1.0


def test_a_question_the_article_does_not_answer_is_refused(qa):
    answer = qa.ask("who won the football match?")
    assert not answer.answerable
    assert answer.evidence == []


def test_answers_keep_the_articles_casing(qa):
    answer = qa.ask("Near which border town did the soldiers cross?")
    assert answer.answerable
    span = qa.articles()[0].text[answer.evidence[0].start : answer.evidence[0].end]
    assert answer.text == span
    assert any(ch.isupper() for ch in answer.text)


def test_the_demo_question_is_answered_with_a_quote_of_the_article(qa):
    """The README's demo: "how many soldiers?" of the seed article is answered at the default
    bar with a span of the sentence it quotes; the question that says who crossed gets the
    count of the statement's sentence."""
    answer = qa.ask("how many soldiers?")
    assert answer.answerable and answer.confidence >= qa.min_confidence
    evidence = answer.evidence[0]
    assert qa.articles()[0].text[evidence.start : evidence.end] == answer.text
    assert answer.text in evidence.sentence
    precise = qa.ask(COUNT_QUESTION)
    assert precise.text == "46" and precise.confidence >= qa.min_confidence
    assert precise.evidence[0].sentence.startswith("The statement said a total of 46 members")


def test_with_abstention_off_an_off_topic_question_still_gets_a_low_confidence(qa):
    eager = newsqa.NewsQA(device="cpu", min_confidence=0.0)
    eager.add(qa.articles()[0].text)
    answer = eager.ask("what is the capital of France?")
    assert answer.answerable  # nothing is refused at a bar of 0
    assert answer.confidence < qa.min_confidence
    assert not qa.ask("what is the capital of France?").answerable


def test_ask_many_matches_ask_one_by_one(qa):
    questions = ["how many soldiers?", COUNT_QUESTION, "Near which border town did they cross?"]
    together = qa.ask_many(questions)
    alone = [qa.ask(q) for q in questions]
    assert [a.text for a in together] == [a.text for a in alone]


def test_ask_across_articles_cites_the_right_one(qa, squad_dev):
    other = squad_dev[0]["paragraphs"][0]
    engine = newsqa.NewsQA(device="cpu")
    seed = engine.add(qa.articles()[0].text)
    added = engine.add(other["context"])
    answer = engine.ask(COUNT_QUESTION)
    assert answer.evidence and answer.evidence[0].article_id == seed.id
    assert "46" in answer.text
    engine.remove(added.id)
    assert [a.id for a in engine.articles()] == [seed.id]


def test_summary_is_short_cased_and_cites_the_article(qa):
    summary = qa.summarize(max_words=60)
    article = qa.articles()[0]
    assert 5 <= len(summary.text.split()) <= 60
    assert summary.text[0].isupper()
    assert summary.evidence
    for evidence in summary.evidence:
        assert article.text[evidence.start : evidence.end] == evidence.sentence


@pytest.mark.parametrize("strategy", ["compress", "map-reduce"])
def test_a_long_article_is_summarized_by_the_model_within_budget(cnndm_articles, strategy):
    """Twelve CNN/DM articles end to end (over 5 000 words): far past the model's window."""
    text = "\n\n".join(row["article"] for row in cnndm_articles[:12])
    assert len(text.split()) > 5000
    engine = newsqa.NewsQA(device="cpu")
    article = engine.add(text)
    summary = engine.summarize(article=article.id, max_words=80, strategy=strategy)
    assert 20 <= len(summary.text.split()) <= 80
    for evidence in summary.evidence:
        assert article.text[evidence.start : evidence.end] == evidence.sentence
    article_words = set(re.findall(r"\w+", article.text.lower()))
    summary_words = re.findall(r"\w+", summary.text.lower())
    assert sum(w in article_words for w in summary_words) / len(summary_words) > 0.9


def test_an_unknown_summary_strategy_is_a_user_error(qa):
    with pytest.raises(InputError, match="strategy"):
        qa.summarize(strategy="abstractive-magic")


def test_one_shot_helpers(seed_text):
    assert "46" in newsqa.ask(COUNT_QUESTION, seed_text).text
    assert newsqa.summarize(seed_text, max_words=40).text


def test_result_types_have_the_documented_fields():
    assert [f.name for f in dataclasses.fields(newsqa.Answer)] == [
        "text",
        "answerable",
        "confidence",
        "evidence",
        "notice",
        "date",
        "sources",
        "calibrated",
    ]
    assert [f.name for f in dataclasses.fields(newsqa.Evidence)] == [
        "article_id",
        "title",
        "sentence",
        "start",
        "end",
        "score",
    ]
    assert [f.name for f in dataclasses.fields(newsqa.Summary)] == [
        "text",
        "evidence",
        "notice",
        "headline",
        "sentences",
    ]
    assert [f.name for f in dataclasses.fields(newsqa.Article)][:3] == ["id", "title", "text"]


@pytest.mark.parametrize("question", ["", "   ", "x" * 10_000])
def test_bad_questions_are_refused(qa, question):
    with pytest.raises(InputError):
        qa.ask(question)


def test_unknown_article_id_is_refused(qa):
    with pytest.raises(NotFoundError):
        qa.ask("how many soldiers?", article="nope")


def test_the_bar_is_the_calibrators_unless_given():
    from newsqa.confidence import Calibrator
    from newsqa.generate import bundled_model_path

    default = newsqa.NewsQA(precision="fp32")
    fitted = Calibrator.load(bundled_model_path(), "fp32")
    assert default.calibrator == fitted != Calibrator.margin_rule()
    assert default.min_confidence == fitted.min_confidence
    strict = newsqa.NewsQA(precision="fp32", strict=True)
    assert strict.min_confidence == fitted.strict_confidence > fitted.min_confidence
    assert newsqa.NewsQA(precision="int8", min_confidence=0.9).min_confidence == 0.9
    with pytest.raises(InputError, match="probability"):
        newsqa.NewsQA(min_confidence=1.5)


def test_models_load_once_per_process(qa):
    """Every NewsQA with the same model, device and precision (and each one-shot helper)
    shares the loaded models: a second engine costs no second load."""
    other = newsqa.NewsQA(device="cpu")
    assert other.generator.model is qa.generator.model
    assert other.embedder.model is qa.embedder.model
    other_precision = "int8" if qa.generator.precision != "int8" else "fp32"
    assert newsqa.NewsQA(device="cpu", precision=other_precision).generator.model is not (
        qa.generator.model
    )


def test_passage_size_and_count_are_the_callers_to_choose(qa, seed_text):
    """``chunk_tokens`` bounds the passages an added article is split into, ``top_k`` how many
    a question reads; values the model cannot read are refused in one line."""
    narrow = newsqa.NewsQA(device="cpu", chunk_tokens=48, top_k=2)
    wide = qa.prepare(seed_text, as_text=True).chunks
    split = narrow.prepare(seed_text, as_text=True).chunks
    assert len(split) > len(wide)
    assert all(narrow.embedder.count_tokens(c.text) <= 48 for c in split)
    narrow.add_text(seed_text)
    answer = narrow.ask(COUNT_QUESTION)
    assert "46" in answer.text
    assert len(narrow.retrieve_many([COUNT_QUESTION], None, narrow.top_k)[0]) == 2
    for bad in ({"chunk_tokens": 8}, {"chunk_tokens": 100_000}, {"top_k": 0}):
        with pytest.raises(InputError, match="chunk_tokens|top_k"):
            newsqa.NewsQA(device="cpu", **bad)
