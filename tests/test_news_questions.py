"""Questions made from news articles for the calibrator: answerable, and on-topic negatives."""

from pathlib import Path

import pytest

from newsqa.calibration import calibration_questions
from newsqa.faithful import nlp
from newsqa.news_questions import news_questions

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
ARTICLE = (
    "46 soldiers crossed the border into the neighbouring country late on Sunday. "
    "Barack Obama visited the flooded town of Riverside on Tuesday morning. "
    "The town's mayor said the river had risen faster than ever before. "
    "Officials in Riverside said Barack Obama met families who had lost their homes."
)


def made() -> dict[str, object]:
    return {q.question: q for q in news_questions(nlp(ARTICLE))}


def test_a_counted_or_named_subject_becomes_the_question_s_answer():
    questions = made()
    count = questions[
        "how many soldiers crossed the border into the neighbouring country late on Sunday?"
    ]
    assert count.answer == "46"
    visit = questions["who visited the flooded town of Riverside on Tuesday morning?"]
    assert visit.answer == "Barack Obama"
    assert visit.sentence.startswith("Barack Obama visited")


def test_the_negative_is_the_article_without_the_sentence_unless_the_fact_is_restated():
    questions = made()
    count = questions[
        "how many soldiers crossed the border into the neighbouring country late on Sunday?"
    ]
    assert count.without is not None
    assert "46" not in count.without and "crossed the border" not in count.without
    assert "Barack Obama visited" in count.without
    # the visit is told again ("Barack Obama met families"): no fair negative
    visit = questions["who visited the flooded town of Riverside on Tuesday morning?"]
    assert visit.without is None


def test_sentences_that_do_not_open_with_their_subject_make_no_question():
    text = "On Monday, the committee approved the new budget for the city's schools."
    assert news_questions(nlp(text)) == []


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")
def test_calibration_can_add_news_questions_and_leaves_the_recipe_as_it_was():
    plain = calibration_questions(SHARED_DATA, 12)
    with_news = calibration_questions(SHARED_DATA, 12, news=True)
    assert with_news[: len(plain)] == plain  # the recipe's rows, ids and draws unchanged
    added = with_news[len(plain) :]
    kinds = {row["kind"] for row in added}
    assert kinds == {"answerable", "other-passage"}
    assert all(row["group"].startswith("news:") for row in added)
    for row in added:
        if row["kind"] == "answerable":
            assert row["golds"][0] in row["article"]
        else:
            assert not row["golds"] and row["question"].endswith("?")
