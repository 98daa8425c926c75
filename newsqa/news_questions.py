"""Questions with known answers, made from news articles: news-domain data for the calibrator.

A sentence whose subject is a name ("British Airways has blamed high fuel prices for ...") or a
counted noun ("46 members crossed the border ...") becomes a question by putting a question
word in the subject's place: "what has blamed high fuel prices for ...?" -> "British Airways",
"how many members crossed the border ...?" -> "46". Asked of its whole article, the question is
answerable. Asked of the article without that sentence, it is an on-topic question the article
does not answer: the same people and events, but not this fact. Such a pair is kept only where
no other sentence states the answer or most of the question's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsqa.confidence import content_words

MAX_QUESTION_WORDS = 16
ASKED_AS = {"PERSON": "who", "NORP": "who", "ORG": "what", "GPE": "what"}
_TRAILING = re.compile(r"[\s.!?,;:\"'”’]+$")
_QUOTES = re.compile(r"[\"“”]")


@dataclass(frozen=True)
class NewsQuestion:
    question: str
    answer: str
    sentence: str  # the article sentence the question was made from
    without: str | None  # the article without that sentence, when it makes a fair negative


def subject_questions(doc) -> list[tuple[str, str, object]]:
    """(question, answer, sentence span) for each sentence of a spaCy ``Doc`` that opens with
    its main verb's subject, where the subject is a name or a number and its noun."""
    found = []
    for sentence in doc.sents:
        root = sentence.root
        subjects = [t for t in root.children if t.dep_ in ("nsubj", "nsubjpass")]
        if root.pos_ not in ("VERB", "AUX") or len(subjects) != 1:
            continue
        subject = subjects[0]
        first, last = subject.left_edge.i, subject.right_edge.i
        if first != sentence.start:
            continue
        rest = _TRAILING.sub("", doc[last + 1 : sentence.end].text).strip()
        words = len(rest.split())
        if words < 3 or words > MAX_QUESTION_WORDS - 2 or _QUOTES.search(rest):
            continue
        if rest[:1] in ",-–—(":
            continue
        names = [e for e in sentence.ents if e.start == first and e.end == last + 1]
        if names and names[0].label_ in ASKED_AS:
            found.append((f"{ASKED_AS[names[0].label_]} {rest}?", names[0].text, sentence))
            continue
        number = doc[first]
        if (
            number.dep_ == "nummod"
            and number.head == subject
            and number.like_num
            and number.text.lower() not in ("one", "1")
        ):
            noun = doc[first + 1 : last + 1].text
            found.append((f"how many {noun} {rest}?", number.text, sentence))
    return found


def news_questions(doc) -> list[NewsQuestion]:
    """The questions of one article (``doc``: its spaCy parse), each with the article without
    its sentence where that makes a fair negative (else ``without`` is None)."""
    article, made = doc.text, []
    sentences = [s.text for s in doc.sents]
    for question, answer, sentence in subject_questions(doc):
        asked = content_words(question) - {"many"}
        others = [s for s in sentences if s != sentence.text]
        restated = any(
            answer.lower() in s.lower() or len(asked & content_words(s)) > len(asked) / 2
            for s in others
        )
        start, end = sentence.start_char, sentence.end_char
        without = None if restated else (article[:start] + article[end:]).strip()
        made.append(NewsQuestion(question, answer, sentence.text, without))
    return made
