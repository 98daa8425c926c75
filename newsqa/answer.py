"""From retrieved chunks to an answer: generate, choose, ground in the article, or abstain."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from newsqa.chunk import Chunk, Sentence
from newsqa.errors import InputError
from newsqa.generate import Generation, Request, Seq2SeqGenerator
from newsqa.prompts import NO_ANSWER, qa_request
from newsqa.results import Answer, Evidence

MAX_QUESTION_CHARS = 1000
NOT_IN_ARTICLE = "The article does not say."
NO_ANSWER_MARGIN = 11.75
"""Answer only when the best candidate's support clears this bar. Support is its span's
log-probability minus that of "unanswerable", plus ``SIMILARITY_WEIGHT`` x its chunk's
retrieval similarity. Weight and bar were chosen on one half of the 6,307 public SQuAD v2 dev
questions, gold-paragraph and whole-article modes pooled, where HasAns F1 and NoAns accuracy
balance (benchmarks/eval_qa.py --sweep --precision fp32; results/eval_qa_sweep_fp32_similarity
.json). On the other half: gold paragraph all-F1 55.8 -> 56.4 and whole article 52.9 -> 53.5
against the margin alone (3.5). Lower it to answer more often."""
SIMILARITY_WEIGHT = 16.0
"""How much a chunk's retrieval similarity (cosine, 0..1) adds to its answer's support, both to
choose among the chunks' answers and to clear the bar."""
NO_ANSWER_MARGINS = {"int8": 9.0}
SIMILARITY_WEIGHTS = {"int8": 12.0}
"""The same two choices for precisions that shift the margins, each swept on its own
(eval_qa.py --sweep --precision int8; results/eval_qa_sweep_int8_similarity.json: whole
article 52.0 -> 53.5, gold paragraph 55.0 -> 55.1 on the report half). bf16 and fp16 use
fp32's: bf16 measured within 0.1 F1 of fp32."""
MIN_SIMILARITY = 0.05
"""Below this cosine similarity no retrieved chunk is about the question at all."""


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with what grounding needs: its article and the article's sentences."""

    article_id: str
    title: str | None
    text: str  # the whole article text
    chunk: Chunk
    sentences: list[Sentence]
    similarity: float


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
    """One passage's best groundable answer."""

    margin: float  # its log-probability minus that of "unanswerable"
    passage: Passage
    generation: Generation
    span: tuple[int, int]  # in the passage's chunk

    def support(self, similarity_weight: float) -> float:
        return self.margin + similarity_weight * self.passage.similarity

    @property
    def article_span(self) -> tuple[int, int]:
        """The answer's character offsets in the whole article."""
        offset = self.passage.chunk.start
        return offset + self.span[0], offset + self.span[1]

    @property
    def text(self) -> str:
        start, end = self.article_span
        return self.passage.text[start:end]


def answer_questions(
    generator: Seq2SeqGenerator,
    questions: list[str],
    passages: list[list[Passage]],
    grounded: bool,
    num_beams: int = 4,
    margin_threshold: float = NO_ANSWER_MARGIN,
    similarity_weight: float = SIMILARITY_WEIGHT,
) -> list[Answer]:
    """Answer each question from its passages, all passages generated in one batched call."""
    found = find_candidates(generator, questions, passages, grounded, num_beams)
    return [decide(candidates, margin_threshold, similarity_weight) for candidates in found]


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
        for passage in found:
            text, start = qa_request(question, passage.chunk.text)
            requests.append(Request(text, start))
            owners.append((number, passage))
    candidates: list[list[Candidate]] = [[] for _ in questions]
    if not requests:
        return candidates
    beams, no_answer = generator.generate_and_score(
        requests,
        NO_ANSWER,
        max_new_tokens=24,
        num_beams=num_beams,
        grounded=grounded,
        always_allowed=NO_ANSWER if grounded else None,
        groups=[number for number, _ in owners],
    )
    for (number, passage), outputs, refusal in zip(owners, beams, no_answer):
        choice = _choose(outputs, passage, refusal)
        if choice is not None:
            candidates[number].append(Candidate(choice[0], passage, choice[1], choice[2]))
    return candidates


def _choose(outputs: list[Generation], passage: Passage, no_answer_logprob: float):
    """The best groundable answer of one passage and its margin over "no answer"."""
    for generation in outputs:  # best first
        if _is_no_answer(generation.text) or not generation.text:
            continue
        span = generation.span or align(generation.text, passage.chunk.text)
        if span is None:
            continue
        return generation.logprob - no_answer_logprob, generation, span
    return None


def decide(
    found: list[Candidate], margin_threshold: float, similarity_weight: float = 0.0
) -> Answer:
    """The candidate with the most support, if it clears the threshold; else "not in the article".

    Support is the margin plus ``similarity_weight`` x the passage's retrieval similarity. The
    confidence is a logistic of how far the support clears the threshold: 0.5 at the threshold
    (for an abstention, the confidence in abstaining).
    """
    best = best_candidate(found, similarity_weight)
    if best is None:
        return Answer(NOT_IN_ARTICLE, False, 1.0 if not found else 0.5, [])
    clearance = best.support(similarity_weight) - margin_threshold
    confidence = 1.0 / (1.0 + math.exp(-max(min(clearance, 50.0), -50.0)))
    if clearance <= 0:
        return Answer(NOT_IN_ARTICLE, False, round(1.0 - confidence, 4), [])
    passage, (start, end) = best.passage, best.article_span
    sentence = next((s for s in passage.sentences if s.start <= start < s.end), passage.chunk)
    evidence = Evidence(
        passage.article_id, passage.title, sentence.text, start, end, round(confidence, 4)
    )
    return Answer(passage.text[start:end], True, round(confidence, 4), [evidence])


def best_candidate(found: list[Candidate], similarity_weight: float) -> Candidate | None:
    """The candidate with the most support among those whose chunk is about the question."""
    viable = [c for c in found if c.passage.similarity >= MIN_SIMILARITY]
    return max(viable, key=lambda c: c.support(similarity_weight), default=None)


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
