"""From retrieved chunks to an answer: generate, choose, ground in the article, or abstain."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace

from newsqa import confidence
from newsqa.chunk import Chunk, Sentence
from newsqa.confidence import Calibrator
from newsqa.errors import InputError
from newsqa.generate import Generation, Request, Seq2SeqGenerator
from newsqa.metrics import normalize_answer
from newsqa.prompts import NO_ANSWER, qa_request
from newsqa.results import Answer, Article, Evidence, SourceAnswer

MAX_QUESTION_CHARS = 1000
NOT_IN_ARTICLE = "The article does not say."


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with what grounding needs: its article and the article's sentences."""

    article_id: str
    title: str | None
    text: str  # the whole article text
    chunk: Chunk
    sentences: list[Sentence]
    similarity: float
    published: str | None = None  # the article's publication date (ISO), if known


def check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InputError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(
            f"the question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    return " ".join(question.split())


@dataclass(frozen=True)
class Candidate:
    """One passage's best groundable answer, with what the calibrator judges it by."""

    question: str
    passage: Passage
    generation: Generation
    span: tuple[int, int]  # in the passage's chunk
    features: dict[str, float]
    evidence: confidence.Evidence | None = None  # what the features were computed from

    @property
    def article_span(self) -> tuple[int, int]:
        """The answer's character offsets in the whole article."""
        offset = self.passage.chunk.start
        return offset + self.span[0], offset + self.span[1]

    @property
    def text(self) -> str:
        start, end = self.article_span
        return self.passage.text[start:end]

    @property
    def sentence(self) -> Sentence | Chunk:
        """The article sentence that holds the answer (the chunk if none does)."""
        start = self.article_span[0]
        found = (s for s in self.passage.sentences if s.start <= start < s.end)
        return next(found, self.passage.chunk)


def answer_questions(
    generator: Seq2SeqGenerator,
    questions: list[str],
    passages: list[list[Passage]],
    grounded: bool,
    calibrator: Calibrator,
    min_confidence: float,
    num_beams: int = 4,
    verifier=None,
) -> list[Answer]:
    """Answer each question from its passages, all passages generated in one batched call
    (and, with a ``verifier``, every candidate verified in one more)."""
    found = find_candidates(generator, questions, passages, grounded, num_beams)
    if verifier is not None:
        found = verify(found, verifier)
    return [decide(candidates, calibrator, min_confidence) for candidates in found]


def find_candidates(
    generator: Seq2SeqGenerator,
    questions: list[str],
    passages: list[list[Passage]],
    grounded: bool,
    num_beams: int = 4,
) -> list[list[Candidate]]:
    """Each question's candidates: one per passage that yields a groundable answer."""
    requests, owners = [], []
    for number, (question, found) in enumerate(zip(questions, passages)):
        for rank, passage in enumerate(found):
            text, start = qa_request(question, passage.chunk.text)
            requests.append(Request(text, start))
            owners.append((number, rank))
    if not requests:
        return [[] for _ in questions]
    beams, no_answer = generator.generate_and_score(
        requests,
        NO_ANSWER,
        max_new_tokens=24,
        num_beams=num_beams,
        grounded=grounded,
        always_allowed=NO_ANSWER if grounded else None,
        groups=[number for number, _ in owners],
    )
    chosen: list[list[tuple]] = [[] for _ in questions]
    for (number, rank), outputs, refusal in zip(owners, beams, no_answer):
        choice = _choose(outputs, passages[number][rank].chunk.text)
        if choice is not None:
            chosen[number].append((rank, refusal, outputs, *choice))
    return [
        _candidates(question, found, picks, generator)
        for question, found, picks in zip(questions, passages, chosen)
    ]


def _candidates(
    question: str, passages: list[Passage], picks: list[tuple], generator: Seq2SeqGenerator
) -> list[Candidate]:
    """The question's chosen answers, each with its features (agreement needs all of them)."""
    best_similarity = max((p.similarity for p in passages), default=0.0)
    bare = {
        rank: Candidate(question, passages[rank], generation, span, {})
        for rank, *_, generation, span in picks
    }
    found = []
    for rank, refusal, outputs, generation, span in picks:
        candidate = bare[rank]
        others = [
            g.span
            for g in outputs
            if g is not generation and g.span is not None and not _is_no_answer(g.text)
        ]
        same = sum(
            other.passage.article_id == candidate.passage.article_id
            and _overlap(other.article_span, candidate.article_span)
            for other_rank, other in bare.items()
            if other_rank != rank
        )
        evidence = confidence.Evidence(
            question=question,
            answer=candidate.text,
            sentence=candidate.sentence.text,
            chunk=candidate.passage.chunk.text,
            article=candidate.passage.text,
            span_logprob=generation.logprob,
            no_answer_logprob=refusal,
            answer_tokens=len(
                generator.tokenizer(candidate.text, add_special_tokens=False)["input_ids"]
            ),
            similarity=candidate.passage.similarity,
            best_similarity=best_similarity,
            rank=rank,
            beam_agreement=sum(_overlap(span, other) for other in others)
            / max(len(outputs) - 1, 1),
            passage_agreement=same / max(len(passages) - 1, 1),
        )
        found.append(replace(candidate, features=confidence.features(evidence), evidence=evidence))
    return found


def verify(found: list[list[Candidate]], verifier) -> list[list[Candidate]]:
    """The candidates with the verifier's logit in their evidence and features."""
    judged = [c for listed in found for c in listed if c.evidence is not None]
    logits = iter(
        verifier.logits([(c.question, c.evidence.answer, c.evidence.sentence) for c in judged])
    )

    def verified(candidate: Candidate) -> Candidate:
        if candidate.evidence is None:
            return candidate
        evidence = replace(candidate.evidence, verifier=next(logits))
        return replace(candidate, evidence=evidence, features=confidence.features(evidence))

    return [[verified(c) for c in listed] for listed in found]


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _choose(outputs: list[Generation], context: str):
    """The best groundable answer of one passage: (its generation, its span in the chunk)."""
    for generation in outputs:  # best first
        if _is_no_answer(generation.text) or not generation.text:
            continue
        span = generation.span or align(generation.text, context)
        if span is None:
            continue
        return generation, span
    return None


def decide(found: list[Candidate], calibrator: Calibrator, min_confidence: float) -> Answer:
    """The candidate most likely right, if that probability reaches ``min_confidence``; else
    "not in the article", with the probability that this is right (1 - the best's)."""
    best, probability = best_candidate(found, calibrator)
    calibrated = calibrator.calibrated
    if best is None:
        return Answer(NOT_IN_ARTICLE, False, 1.0, [], calibrated=calibrated)
    if probability < min_confidence:
        return Answer(NOT_IN_ARTICLE, False, round(1.0 - probability, 4), [], calibrated=calibrated)
    passage, (start, end) = best.passage, best.article_span
    evidence = Evidence(
        passage.article_id, passage.title, best.sentence.text, start, end, round(probability, 4)
    )
    return Answer(
        passage.text[start:end], True, round(probability, 4), [evidence], calibrated=calibrated
    )


def best_candidate(
    found: list[Candidate], calibrator: Calibrator
) -> tuple[Candidate | None, float]:
    """The candidate the calibrator finds most likely right, and that probability."""
    scored = [(calibrator.probability(c.features), c) for c in found]
    if not scored:
        return None, 0.0
    probability, best = max(scored, key=lambda pair: pair[0])
    return best, probability


def _is_no_answer(text: str) -> bool:
    return text.strip().lower().replace(" ", "") == NO_ANSWER


def align(answer: str, context: str) -> tuple[int, int] | None:
    """Where ``answer`` stands in ``context``: exact, then ignoring case, spacing and
    punctuation spacing, then fuzzy (at least 80 % alike). None when it is not there."""
    answer = answer.strip()
    if not answer:
        return None
    found = context.find(answer)
    if found >= 0:
        return found, found + len(answer)
    lowered = context.lower().find(answer.lower())
    if lowered >= 0:
        return lowered, lowered + len(answer)
    pieces = [re.escape(p) for p in re.findall(r"\w+|[^\w\s]", answer)]
    if pieces:
        match = re.search(r"\s*".join(pieces), context, re.IGNORECASE)
        if match:
            return match.start(), match.end()
    return _fuzzy(answer, context)


def _fuzzy(answer: str, context: str) -> tuple[int, int] | None:
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", context)]
    size = len(answer.split())
    best, best_span = 0.0, None
    for width in {max(size - 1, 1), size, size + 1}:
        for i in range(len(words) - width + 1):
            start, end = words[i][0], words[i + width - 1][1]
            ratio = difflib.SequenceMatcher(
                None, answer.lower(), context[start:end].lower()
            ).ratio()
            if ratio > best:
                best, best_span = ratio, (start, end)
    return best_span if best >= 0.8 else None


def across_sources(answers: list[Answer], articles: list[Article]) -> Answer:
    """A story's answer from each of its articles' own (``answers[i]`` from ``articles[i]``):
    the surest answer, with ``sources`` saying what every article says and whether it agrees.
    When no article answers, the refusal is as sure as the least sure article's refusal."""
    best = max((a for a in answers if a.answerable), key=lambda a: a.confidence, default=None)
    if best is None:
        chosen = replace(min(answers, key=lambda a: a.confidence), evidence=[])
    else:
        chosen = best
    sources = [
        SourceAnswer(
            article.id,
            article.title,
            article.published,
            answer.text,
            answer.answerable,
            answer.confidence,
            best is not None and answer.answerable and agree(answer.text, best.text),
            answer.evidence,
        )
        for answer, article in zip(answers, articles)
    ]
    return replace(chosen, sources=sources)


def agree(one: str, other: str) -> bool:
    """Whether two answers say the same: equal once normalised (SQuAD's rules), or one's words
    all in the other's ("46" and "46 members of the Afghanistan forces")."""
    first, second = normalize_answer(one).split(), normalize_answer(other).split()
    if not first or not second:
        return False
    return set(first) <= set(second) or set(second) <= set(first)
