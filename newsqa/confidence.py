"""The calibrator: a candidate answer's features -> the probability that it is right.

A logistic regression fitted on questions held out of training (``benchmarks/calibrate.py``)
and stored as plain numbers beside the model (``calibration.json``): the feature names, one
weight each and an intercept, per precision. A model without that file is judged by the rule
the project used before it had one: its margin over "unanswerable" plus 16 x retrieval
similarity, against a bar of 11.75.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path


def _words(text: str) -> list[str]:
    return text.split()


def _word_set(words: str) -> frozenset[str]:
    return frozenset(_words(words))


FUNCTION_WORDS = _word_set(
    "a an the of in on at to for from by with and or is are was were be been has have had do "
    "does did what which who whom whose when where why how many much that this these those "
    "it its as not no s"
)
_WORD = re.compile(r"\w+")
_NUMBER_WORDS = _word_set(
    "one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty "
    "forty fifty hundred hundreds thousand thousands million millions billion billions "
    "dozen dozens half first second third"
)
_TIME_WORDS = _word_set(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow "
    "morning afternoon evening night week weeks month months year years day days ago last "
    "century decade spring summer autumn winter"
)
_EXPECTS_NUMBER = re.compile(
    r"\bhow (?:many|much|old|long|far|tall|big|large|high|often)\b|\bwhat (?:percentage|number|"
    r"amount|age)\b",
    re.I,
)
_EXPECTS_TIME = re.compile(r"\bwhen\b|\bwhat (?:year|time|date|day|month)\b|\bwhich year\b", re.I)
_EXPECTS_NAME = re.compile(r"\bwho(?:m|se)?\b|\bwhere\b", re.I)
_UNITS = {
    w: n
    for n, w in enumerate(
        _words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
_TENS = {
    w: 10 * n
    for n, w in enumerate(_words("twenty thirty forty fifty sixty seventy eighty ninety"), 2)
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_DIGITS = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(thousand|million|billion|bn|m|k)?\b", re.I)
_SUFFIXES = {"k": 1_000, "m": 1_000_000, "bn": 1_000_000_000} | _SCALES


def content_words(text: str) -> set[str]:
    """Lower-cased words of ``text`` that are not function words."""
    return {w for w in _WORD.findall(text.lower()) if w not in FUNCTION_WORDS}


def _share(part: set[str], whole_text: str) -> float:
    """The share of ``part``'s words found in ``whole_text`` (1 when ``part`` is empty)."""
    if not part:
        return 1.0
    return len(part & set(_WORD.findall(whole_text.lower()))) / len(part)


def stated_number(answer: str) -> float | None:
    """The first number ``answer`` states, in digits ("5,000", "1.5 million", "$2bn") or words
    ("forty-six", "four thousand", "a dozen"); None when it states none."""
    digits = _DIGITS.search(answer)
    if digits:
        value = float(digits.group(1).replace(",", ""))
        return value * _SUFFIXES.get((digits.group(2) or "").lower(), 1)
    total, current, seen = 0, 0, False
    for word in re.findall(r"[a-z]+", answer.lower()):
        if word in _UNITS or word in _TENS:
            current += _UNITS.get(word, 0) + _TENS.get(word, 0)
        elif word == "dozen":
            current = 12 * (current or 1)
        elif word in _SCALES:
            current = (current or 1) * _SCALES[word]
            if _SCALES[word] > 100:
                total, current = total + current, 0
        elif seen and word != "and":
            break
        else:
            continue
        seen = True
    return float(total + current) if seen else None


_MEASURE_ASKED = (  # (kind, question pattern), the first that matches names the kind
    ("share", r"\bwhat (?:percentage|proportion|share|percent|fraction)\b"),
    (
        "money",
        r"\bhow much\b.*\b(?:cost|costs|costing|pay|paid|pays|worth|earn|earns|earned|owe|owes|"
        r"owed|spend|spent|charge|charged|sell|sold|buy|bought|raise|raised|fined?|bail|price|"
        r"salary|wages?|fees?|budget|money|funding|invest|invested|compensation|damages)\b|"
        r"\bwhat (?:price|salary|fee|fine|sum)\b",
    ),
    ("age", r"\bhow old\b|\bwhat age\b"),
    ("duration", r"\bhow long\b"),
    ("size", r"\bhow (?:far|high|tall|deep|wide|fast|heavy)\b"),
    ("date", r"\b(?:what|which) (?:date|day)\b"),
    ("year", r"\b(?:what|which) year\b"),
    ("count", r"\bhow many\b|\bwhat number\b|\bhow (?:big|large)\b"),
)
_MEASURE_ASKED_RE = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in _MEASURE_ASKED)
_MONTHS_DAYS = (
    r"jan(?:uary)?|feb(?:ruary)?|march|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|today|yesterday|tomorrow|christmas|easter"
)
_LENGTHS = r"feet|foot|ft|metres?|meters?|km|kilomet(?:re|er)s?|miles?|inch(?:es)?|cm|mm|yards?"
_MEASURE_STATED = {
    "share": r"%|\bper ?cent\b|\bhalf\b|\bthirds?\b|\bquarters?\b|\bin (?:every )?\d|"
    r"\bmajority\b|\bmost\b",
    "money": r"[$£€¥]|\b(?:dollars?|pounds?|euros?|yen|yuan|cents?|pence|rupees?|francs?|lira|"
    r"marks?|usd|gbp|eur|bucks|free|million|billion|bn)\b|\d\s*p\b",
    "age": r"\b(?:years?|yrs|months?|weeks?|days?)\b|-old\b|\bteens?\b|\d0s\b",
    "duration": r"\b(?:years?|yrs?|months?|weeks?|days?|hours?|hrs?|minutes?|mins?|seconds?|"
    rf"secs?|decades?|centur(?:y|ies)|nights?|since|until|half|{_LENGTHS})\b|\d:\d\d|\b1\d{{3}}\b|"
    r"\b20\d\d\b",
    "size": rf"\b(?:{_LENGTHS}|m|mph|km/h|kph|knots?|kg|kilos?|kilograms?|grams?|g|pounds?|lbs?|"
    r"tons?|tonnes?|acres?|hectares?|square|sq|storeys?|stories|floors?)\b|\d\s*(?:m|km|ft|kg|"
    r"mph|cm|mm)\b|\d'|°|%",
    "date": rf"\b(?:{_MONTHS_DAYS})\b|\b1\d{{3}}\b|\b20\d\d\b|\d{{1,2}}/\d{{1,2}}|"
    r"\d(?:st|nd|rd|th)\b",
    "year": r"\b1\d{3}\b|\b20\d\d\b|\b(?:last|this|next) year\b|'\d\d\b|\d0s\b",
    "count": r"\b(?:no|none|once|twice|thrice|dozens?|few|several|couple|half|single|"
    r"infinitely|hundreds|thousands|millions)\b|\d+s\b",
}
_MEASURE_STATED_RE = {kind: re.compile(pattern, re.I) for kind, pattern in _MEASURE_STATED.items()}
_ORDINAL_ONLY = re.compile(
    r"(?:the )?(?:\w+-)?(?:first|second|third|\w+th|\d+(?:st|nd|rd|th))", re.I
)


def measure_asked(question: str) -> str | None:
    """The kind of measure ``question`` asks for (money, age, duration, size, date, year,
    count, share), or None when it asks for none of them."""
    for kind, pattern in _MEASURE_ASKED_RE:
        if pattern.search(question):
            return kind
    return None


def states_measure(kind: str, answer: str) -> bool:
    """Whether ``answer`` states a measure of ``kind``: a currency for money, a time unit for
    a duration, a unit of length or weight for a size, a cardinal (not an ordinal) for a
    count, a number under 130 or an age phrase for an age."""
    if kind == "count" and _ORDINAL_ONLY.fullmatch(answer.strip()):
        return False
    if _MEASURE_STATED_RE[kind].search(answer):
        return True
    if kind in ("age", "count"):
        number = stated_number(answer)
        return number is not None and (kind == "count" or number <= 130)
    return False


@dataclass(frozen=True)
class Evidence:
    """What the features are computed from: one candidate answer, in its context."""

    question: str
    answer: str  # the span as it stands in the article
    sentence: str  # the article sentence that holds it
    chunk: str  # the retrieved passage
    article: str  # the whole article text
    span_logprob: float
    no_answer_logprob: float
    answer_tokens: int
    similarity: float  # the passage's retrieval cosine
    best_similarity: float  # the best of the question's passages
    rank: int  # the passage's place in retrieval, 0 first
    beam_agreement: float  # share of the passage's other beams whose span overlaps this one
    passage_agreement: float  # share of the other passages whose answer overlaps this one
    verifier: float = 0.0  # the answer verifier's logit (``newsqa.verifier``); 0 without one


FEATURES = (
    "margin",
    "span_logprob",
    "no_answer_logprob",
    "logprob_per_token",
    "answer_tokens",
    "similarity",
    "best_similarity",
    "rank",
    "question_in_sentence",
    "question_in_chunk",
    "question_in_article",
    "answer_in_question",
    "number_expected_found",
    "number_expected_missing",
    "time_expected_found",
    "time_expected_missing",
    "name_expected_found",
    "name_expected_missing",
    "measure_expected_found",
    "measure_expected_missing",
    "beam_agreement",
    "passage_agreement",
    "verifier",
)


def features(evidence: Evidence) -> dict[str, float]:
    """The calibrator's inputs for one candidate."""
    question_words = content_words(evidence.question)
    answer_words = set(_WORD.findall(evidence.answer.lower()))
    answer_content = answer_words - FUNCTION_WORDS
    numeric = any(c.isdigit() for c in evidence.answer) or bool(answer_words & _NUMBER_WORDS)
    timely = bool(re.search(r"\b1\d{3}\b|\b20\d\d\b", evidence.answer)) or bool(
        answer_words & _TIME_WORDS
    )
    named = any(w[:1].isupper() for w in evidence.answer.split())
    wants_number = bool(_EXPECTS_NUMBER.search(evidence.question))
    wants_time = bool(_EXPECTS_TIME.search(evidence.question))
    wants_name = bool(_EXPECTS_NAME.search(evidence.question))
    measure = measure_asked(evidence.question)
    measured = measure is not None and states_measure(measure, evidence.answer)
    margin = evidence.span_logprob - evidence.no_answer_logprob
    return {
        "margin": max(min(margin, 30.0), -30.0),
        "span_logprob": max(evidence.span_logprob, -30.0),
        "no_answer_logprob": max(evidence.no_answer_logprob, -30.0),
        "logprob_per_token": max(evidence.span_logprob, -30.0) / max(evidence.answer_tokens, 1),
        "answer_tokens": float(min(evidence.answer_tokens, 24)),
        "similarity": evidence.similarity,
        "best_similarity": evidence.best_similarity,
        "rank": float(evidence.rank),
        "question_in_sentence": _share(question_words, evidence.sentence),
        "question_in_chunk": _share(question_words, evidence.chunk),
        "question_in_article": _share(question_words, evidence.article),
        "answer_in_question": (len(answer_content & question_words) / max(len(answer_content), 1)),
        "number_expected_found": float(wants_number and numeric),
        "number_expected_missing": float(wants_number and not numeric),
        "time_expected_found": float(wants_time and timely),
        "time_expected_missing": float(wants_time and not timely),
        "name_expected_found": float(wants_name and named),
        "name_expected_missing": float(wants_name and not named),
        "measure_expected_found": float(measured),
        "measure_expected_missing": float(measure is not None and not measured),
        "beam_agreement": evidence.beam_agreement,
        "passage_agreement": evidence.passage_agreement,
        "verifier": evidence.verifier,
    }


@dataclass(frozen=True)
class Calibrator:
    """P(right) = logistic(intercept + sum of weight x feature); features not named weigh 0."""

    weights: dict[str, float]
    intercept: float
    min_confidence: float = 0.5  # the default bar: answer when P(right) is at least this
    strict_confidence: float = 0.5  # the documented higher bar of ``strict``
    calibrated: bool = True  # fitted for this model; False for ``margin_rule``

    def probability(self, values: dict[str, float]) -> float:
        total = self.intercept + sum(w * values[name] for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(min(total, 50.0), -50.0)))

    @classmethod
    def margin_rule(cls) -> Calibrator:
        """For a model without a fitted calibrator: 0.5 where margin + 16 x similarity = 11.75.
        A score, not a probability: ``calibrated`` is False (``newsqa calibrate`` fits one)."""
        return cls({"margin": 1.0, "similarity": 16.0}, -11.75, 0.5, 0.75, calibrated=False)

    @classmethod
    def load(cls, path: Path | None, precision: str, key: str | None = None) -> Calibrator:
        """The calibrator fitted for ``precision`` in the ``calibration.json`` at ``path`` (or
        in the folder ``path``; else the one fitted for ``default`` there), or ``margin_rule``
        when the model has none. A ``key`` asks for that entry, which must be there."""
        if path is not None and Path(path).is_dir():
            path = Path(path, "calibration.json")
        if path is None or not Path(path).exists():
            if key is not None:
                raise KeyError(key)
            return cls.margin_rule()
        stored = json.loads(path.read_text())["calibrators"]
        fitted = stored[key] if key is not None else stored.get(precision, stored["default"])
        return cls(
            {k: float(v) for k, v in fitted["weights"].items()},
            float(fitted["intercept"]),
            float(fitted["min_confidence"]),
            float(fitted["strict_confidence"]),
        )
