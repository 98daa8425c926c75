"""Summaries of articles of any length: extract, then map-reduce over windows, then recasing.

Map: the generator summarizes each window of sentences (batched). Reduce: the partial
summaries, in article order, are summarized again until they fit ``max_words``. The uncased
model's words get the article's casing back, and each summary sentence cites its closest
article sentence as evidence.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import numpy as np

from newsqa.chunk import Sentence, split_sentences
from newsqa.generate import Request, Seq2SeqGenerator
from newsqa.prompts import NO_ANSWER, summary_input
from newsqa.results import Article, Evidence, Summary

WINDOW_CHARS = 700
"""One map window: about the chunk size the bundled model was trained to summarize."""
MAX_ROUNDS = 4
EXTRACT_RATIO = 2.5
LEAD_WEIGHT = 0.3
_TOKEN = re.compile(r"\w+(?:['’]\w+)?|[^\w\s]")
_CLITIC = re.compile(r"\s*(['’])\s*(s|t|re|ve|ll|d|m)\b", re.IGNORECASE)
_NO_SPACE_BEFORE = set(".,;:!?%)]}”’'")
_NO_SPACE_AFTER = set("([{“‘$")


def windows(text: str, sentences: list[Sentence], limit: int = WINDOW_CHARS) -> list[str]:
    """Consecutive sentences grouped into windows of at most ``limit`` characters."""
    groups: list[str] = []
    first = 0
    while first < len(sentences):
        last = first
        while (
            last + 1 < len(sentences) and sentences[last + 1].end - sentences[first].start <= limit
        ):
            last += 1
        groups.append(text[sentences[first].start : sentences[last].end])
        first = last + 1
    return groups


def select_sentences(
    sentences: list[Sentence], vectors: np.ndarray, budget_words: int
) -> list[Sentence]:
    """The most central sentences, with a lead bonus (news puts the gist first), in order."""
    centroid = vectors.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    scores = vectors @ centroid + LEAD_WEIGHT / (1.0 + np.arange(len(sentences)))
    chosen, words = [], 0
    for index in np.argsort(-scores):
        size = len(sentences[index].text.split())
        if words and words + size > budget_words:
            continue
        chosen.append(int(index))
        words += size
    return [sentences[i] for i in sorted(chosen)]


def summarize_article(
    generator: Seq2SeqGenerator,
    article: Article,
    sentences: list[Sentence],
    max_words: int = 80,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> Summary:
    """Summary of ``article`` in at most ``max_words`` words, with evidence.

    With ``embed``, extract-then-compress: the central and leading sentences (about
    ``EXTRACT_RATIO`` times the word budget) are chosen first and the generator compresses
    them. Without it, map-reduce over the whole article.
    """
    max_words = max(int(max_words), 5)
    chosen = sentences
    if (
        embed is not None
        and sum(len(s.text.split()) for s in sentences) > EXTRACT_RATIO * max_words
    ):
        chosen = select_sentences(
            sentences, embed([s.text for s in sentences]), int(EXTRACT_RATIO * max_words)
        )
        text = " ".join(s.text for s in chosen)
        parts = windows(text, split_sentences(text))
    else:
        parts = windows(article.text, chosen)
    for _ in range(MAX_ROUNDS):
        outputs = generator.generate(
            [Request(summary_input(part)) for part in parts],
            max_new_tokens=min(128, int(max_words * 1.6) + 8),
            num_beams=2,
            no_repeat_ngram_size=3,
        )
        written = [beams[0].text for beams in outputs]
        combined = _dedupe(" ".join(t for t in written if t and t.lower() != NO_ANSWER))
        if len(combined.split()) <= max_words or len(parts) == 1:
            break
        parts = windows(combined, split_sentences(combined))
    text = _truncate(recase(combined, article.text), max_words)
    return Summary(text, _evidence(text, article, sentences))


def recase(text: str, source: str) -> str:
    """Give an uncased model's words the casing they have in ``source``; tidy the spacing."""
    forms: dict[str, Counter] = {}
    for word in re.findall(r"\w+(?:['’]\w+)?", source):
        forms.setdefault(word.lower(), Counter())[word] += 1
    text = _CLITIC.sub(r"\1\2", text)  # the uncased tokenizer writes "army ' s"
    pieces: list[str] = []
    capitalize = True
    for token in _TOKEN.findall(text):
        known = forms.get(token.lower())
        word = known.most_common(1)[0][0] if known else token
        if capitalize and word[:1].isalpha():
            word = word[0].upper() + word[1:]
            capitalize = False
        if pieces and token not in _NO_SPACE_BEFORE and pieces[-1][-1:] not in _NO_SPACE_AFTER:
            pieces.append(" ")
        pieces.append(word)
        if token in {".", "!", "?"}:
            capitalize = True
    return "".join(pieces).strip()


def _dedupe(text: str) -> str:
    seen, kept = set(), []
    for sentence in split_sentences(text):
        key = re.sub(r"\W+", " ", sentence.text.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            kept.append(sentence.text)
    return " ".join(kept)


def _truncate(text: str, max_words: int) -> str:
    """At most ``max_words`` words, cut at a sentence end where one is near."""
    kept, count = [], 0
    for sentence in split_sentences(text):
        words = len(sentence.text.split())
        if count + words > max_words:
            if not kept:
                kept.append(" ".join(sentence.text.split()[:max_words]))
            break
        kept.append(sentence.text)
        count += words
    return " ".join(kept)


def _evidence(summary: str, article: Article, sentences: list[Sentence]) -> list[Evidence]:
    """For each summary sentence, the article sentence that shares most of its words."""
    vocab = [set(re.findall(r"\w+", s.text.lower())) for s in sentences]
    cited: list[Evidence] = []
    for sentence in split_sentences(summary):
        words = set(re.findall(r"\w+", sentence.text.lower()))
        if not words or not sentences:
            continue
        overlaps = [len(words & v) / len(words) for v in vocab]
        best = max(range(len(sentences)), key=overlaps.__getitem__)
        source = sentences[best]
        if overlaps[best] > 0 and all(e.start != source.start for e in cited):
            cited.append(
                Evidence(
                    article.id,
                    article.title,
                    source.text,
                    source.start,
                    source.end,
                    round(overlaps[best], 4),
                )
            )
    return cited
