"""Summaries are faithful: every sentence is an article sentence or a shortening of one that
keeps its words, names, numbers and main verb; no furniture; a headline in the article's words."""

import re

import pytest

import newsqa
from newsqa.chunk import Sentence, split_sentences
from newsqa.faithful import has_finite_verb, unsupported_entities, written_as
from newsqa.results import Article
from newsqa.summaries import _shortened, body_sentences, closed_quotes, variants


def _assert_faithful(summary, article) -> None:
    sentences = [s.text for s in split_sentences(summary.text)]
    assert sentences and len(summary.evidence) == len(sentences)
    for sentence, evidence in zip(sentences, summary.evidence):
        assert article.text[evidence.start : evidence.end] == evidence.sentence
        assert has_finite_verb(sentence), sentence
        # a shortening of its evidence: the same words, in order, written as the article has them
        words = re.findall(r"\w+", sentence)
        source = re.findall(r"\w+", evidence.sentence)
        position = 0
        for word in words:
            position = source.index(word, position) + 1
    assert unsupported_entities(summary.text, article.text)[1] == 0


def test_the_seed_summary_is_faithful_and_has_no_credit_line(qa):
    article = qa.articles()[0]
    summary = qa.summarize(max_words=80, headline=True)
    _assert_faithful(summary, article)
    assert "46 members" in summary.text
    assert "additional input" not in summary.text.lower()
    assert all("additional input" not in e.sentence.lower() for e in summary.evidence)
    headline = summary.headline
    assert headline and written_as(headline, article.text, inflect_from=article.text) == headline
    assert unsupported_entities(headline, article.text)[1] == 0
    assert summary.headline != summary.text.split(".")[0]


@pytest.mark.parametrize("strategy", ["compress", "map-reduce"])
def test_public_cnndm_summaries_change_no_name_number_or_date(cnndm_articles, strategy):
    engine = newsqa.NewsQA(device="cpu")
    for row in cnndm_articles[:4]:
        article = engine.add(row["article"])
        summary = engine.summarize(article=article.id, max_words=60, strategy=strategy)
        assert 20 <= len(summary.text.split()) <= 60
        _assert_faithful(summary, article)
        engine.remove(article.id)


def test_captions_are_not_summary_sentences():
    text = (
        "Police released footage of the brawl in a parking lot on Monday. "
        "Above, two of the suspects, currently jailed. "
        "Pictured: the family's van. The family had camped outside the store for days. "
        "Wanted: Police have issued a warrant for the father's arrest. "
        "With Star Wars: The Force Awakens out this week, fans queued at the store overnight."
    )
    article = Article("a", None, text)
    kept = [s.text for s in body_sentences(article, split_sentences(text))]
    assert kept == [
        "Police released footage of the brawl in a parking lot on Monday.",
        "The family had camped outside the store for days.",
        # a colon between a title and its subtitle is no caption's
        "With Star Wars: The Force Awakens out this week, fans queued at the store overnight.",
    ]


def test_a_sentence_is_shortened_only_when_it_does_not_fit(seed_text):
    """The ISPR sentence (28 words) has a faithful cut of 19; the capitals one (26) of 9. By
    default the whole sentence is used where it fits and the longest cut that fits where it
    does not; with a compressed share of 0.5 the ISPR cut stands in for its sentence anyway."""
    sentences = {s.text[:12]: s for s in split_sentences(seed_text)}
    ispr = variants("", sentences["The “soldier"])
    assert [len(line.split()) for line in ispr] == [28, 19]
    assert _shortened(ispr, room=80) == ispr[0]
    assert _shortened(ispr, room=20) == ispr[1]
    assert _shortened(ispr, room=80, share=0.5) == ispr[1]
    capitals = variants("", sentences["They are als"])
    assert [len(line.split()) for line in capitals] == [26, 9]
    assert _shortened(capitals, room=80, share=0.5) == capitals[0]
    assert _shortened(capitals, room=12) == capitals[1]
    assert _shortened(capitals, room=5) is None


def test_a_sentence_that_does_not_fit_can_lose_what_it_says_in_passing():
    """An apposition, a non-restrictive relative clause or an opening participle may go, each
    alone or all together; never the subject, a negation, a condition or a source."""

    def lines(text: str) -> list[str]:
        return variants("", Sentence(text, 0, len(text)))

    said = lines(
        "Speaking on Monday, the minister, who took office in May, said the plant, "
        "a former steelworks, would not close."
    )
    assert len(said) == 5 and said[-1] == "The minister said the plant would not close."
    assert (
        "The minister, who took office in May, said the plant, a former steelworks, would not "
        "close." in said
    )
    for line in said:
        assert "minister said" in line or "minister, who" in line
        assert line.endswith("would not close.")
    assert lines("If the union agrees, the plant, a former steelworks, will not close.") == [
        "If the union agrees, the plant, a former steelworks, will not close.",
        "If the union agrees, the plant will not close.",
    ]
    sourced = lines("According to the union, the plant will close in June, with 300 jobs lost.")
    assert all(line.startswith("According to the union, the plant will close") for line in sourced)


def test_a_quotation_cut_open_by_the_sentence_splitter_is_closed():
    assert closed_quotes("The prosecutor said Adeli replied: 'I know.") == (
        "The prosecutor said Adeli replied: 'I know.'"
    )
    assert closed_quotes("She said: “We will win.") == "She said: “We will win.”"
    for whole in ("He said: 'I'm done,' and left.", "The players' union met.", "Plain text."):
        assert closed_quotes(whole) == whole


def test_every_wire_story_gets_a_faithful_headline():
    """Reuters stories pasted as text have no title: the headline is the model's when one of
    its beams passes the checks, else the first sentence's shortest faithful cut; never none."""
    import gzip
    import json

    from conftest import SHARED

    path = SHARED / "data" / "reuters-headlines.jsonl.gz"
    with gzip.open(path, "rt") as handle:
        rows = [json.loads(line) for _, line in zip(range(40), handle)]
    stories = [r["article"] for r in rows if len(r["article"].split()) >= 40][:6]
    engine = newsqa.NewsQA(device="cpu")
    for story in stories:
        article = engine.add(story)
        headline = engine.summarize(article=article.id, max_words=30, headline=True).headline
        engine.remove(article.id)
        assert headline and not re.match(r"[A-Z .]+, .*\d+ -", headline), headline  # no dateline
        assert written_as(headline, story, inflect_from=story) == headline
        assert unsupported_entities(headline, story)[1] == 0
