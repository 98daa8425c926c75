"""Summaries of articles of any length, written by the generator, with evidence.

Two strategies:

- ``compress`` (default): pick the summary's sentences (news puts the gist first, so a lead
  bonus plus centrality under the article's mean embedding), then the generator rewrites each
  picked sentence shorter, all in one batch. Cost grows with the summary, not the article.
- ``map-reduce``: the generator summarizes every window of the article (batched), then the
  partial summaries again until they fit ``max_words``.

The uncased model's words get the article's casing back, and each summary sentence cites the
article sentence it comes from as evidence.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import numpy as np

from newsqa.chunk import Sentence, split_sentences
from newsqa.errors import InputError
from newsqa.generate import Request, Seq2SeqGenerator
from newsqa.prompts import NO_ANSWER, summary_input
from newsqa.results import Article, Evidence, Summary

STRATEGIES = ("compress", "map-reduce")
WINDOW_CHARS = 700
"""One map window: about the chunk size the bundled model was trained to summarize."""
MAX_ROUNDS = 4
SELECT_RATIO = 1.0
"""Sentences picked for ``compress``: this many times the word budget (compression shortens)."""
LEAD_WEIGHT = 1.0
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
    strategy: str = "compress",
) -> Summary:
    """Summary of ``article`` in at most ``max_words`` words, with evidence.

    ``compress`` needs ``embed`` (sentence embeddings) to pick the sentences it rewrites.
    """
    max_words = max(int(max_words), 5)
    if strategy == "compress":
        if embed is None:
            raise ValueError("the compress strategy needs an embedding function")
        written = _compress(generator, sentences, embed, max_words)
    elif strategy == "map-reduce":
        written = _map_reduce(generator, article.text, sentences, max_words)
    else:
        raise InputError(f"unknown summary strategy {strategy!r}: choose {', '.join(STRATEGIES)}")
    text = _truncate(recase(written, article.text), max_words)
    return Summary(text, _evidence(text, article, sentences))


def _compress(generator, sentences: list[Sentence], embed, max_words: int) -> str:
    """Pick sentences, then let the generator rewrite each one shorter (one batch)."""
    chosen = sentences
    if len(sentences) > 1:
        chosen = select_sentences(
            sentences, embed([s.text for s in sentences]), int(SELECT_RATIO * max_words)
        )
    outputs = generator.generate(
        [Request(summary_input(s.text)) for s in chosen],
        max_new_tokens=min(96, int(max_words * 1.6) + 8),
        num_beams=2,
        no_repeat_ngram_size=3,
    )
    return _dedupe(" ".join(_usable(beams[0].text) for beams in outputs))


def _map_reduce(generator, text: str, sentences: list[Sentence], max_words: int) -> str:
    """Summarize every window, then the summaries, until they fit ``max_words``."""
    parts = windows(text, sentences)
    combined = ""
    for _ in range(MAX_ROUNDS):
        outputs = generator.generate(
            [Request(summary_input(part)) for part in parts],
            max_new_tokens=min(128, int(max_words * 1.6) + 8),
            num_beams=2,
            no_repeat_ngram_size=3,
        )
        combined = _dedupe(" ".join(_usable(beams[0].text) for beams in outputs))
        if len(combined.split()) <= max_words or len(parts) == 1:
            break
        parts = windows(combined, split_sentences(combined))
    return combined


def _usable(text: str) -> str:
    return "" if text.strip().lower() == NO_ANSWER else text.strip()


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
