"""One summary of a story: the sentences that say most about the event, taken from all its
articles, each said once and citing the article it comes from.

Every article's body sentences (``summaries.body_sentences``: clauses with a verb, no captions,
no title line) are pooled and ranked by their cosine to the story's centroid, the mean of the
articles' own centroids, so that a long article does not outweigh the others, plus a lead bonus
within their article (``LEAD_WEIGHT`` / position). In rank order, a sentence too like one already
taken (``REPEAT_LIKENESS``: another outlet's version of the same fact) is skipped, and the rest
fill the word budget whole; the last may be cut at a clause end where the cut keeps its subject
and main verb (``summaries.variants``). So every summary sentence is its source's own words:
no name, number or date its article lacks. The summary reads in time order: articles by date
(undated ones last, in the order given), each article's sentences in its own order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from newsqa.chunk import Sentence
from newsqa.results import Article, Summary
from newsqa.summaries import (
    MIN_WORDS,
    _cite,
    _shortened,
    body_sentences,
    closed_quotes,
    trimmed,
    variants,
)

MAX_WORDS = 250
"""A story summary's default length: the length of MultiLing 2011's human summaries."""
LEAD_WEIGHT = 1.0
"""The first sentence of an article gets this over its centrality, the n-th LEAD_WEIGHT / n
(half a single article's 2.0: every article's lead restates the event). With
``REPEAT_LIKENESS``, the pick of leave-one-event-out cross-validation on MultiLing 2011 in 9 of
its 10 folds (benchmarks/eval_story_summaries.py)."""
REPEAT_LIKENESS = 0.8
"""A sentence this like (cosine) one already in the summary repeats it: skipped."""


@dataclass(frozen=True)
class _Pooled:
    article: int  # index into the story's articles
    position: int  # the sentence's rank in its article's body
    sentence: Sentence


def story_order(articles: list[Article]) -> list[int]:
    """Indices of ``articles`` by publication date, undated ones last, ties in given order."""
    return sorted(
        range(len(articles)),
        key=lambda i: (articles[i].published is None, articles[i].published or "", i),
    )


def summarize_story(
    articles: list[tuple[Article, list[Sentence]]],
    embed: Callable[[list[str]], np.ndarray],
    max_words: int = MAX_WORDS,
    lead_weight: float = LEAD_WEIGHT,
    repeat_likeness: float = REPEAT_LIKENESS,
) -> Summary:
    """A summary of at most ``max_words`` words of the story told by ``articles`` (each with
    its sentences), every sentence citing its article."""
    lines = story_lines(articles, embed, max_words, lead_weight, repeat_likeness)
    evidence = [_cite(article, sentence, line) for line, article, sentence in lines]
    sentences = [line for line, _, _ in lines]
    return Summary(" ".join(sentences), evidence, sentences=sentences)


def story_lines(
    articles: list[tuple[Article, list[Sentence]]],
    embed: Callable[[list[str]], np.ndarray],
    max_words: int = MAX_WORDS,
    lead_weight: float = LEAD_WEIGHT,
    repeat_likeness: float = REPEAT_LIKENESS,
) -> list[tuple[str, Article, Sentence]]:
    """The story summary's sentences in reading order, each with its article and the
    sentence it is (or is cut from): see the module docstring."""
    max_words = max(int(max_words), MIN_WORDS)
    pooled = [
        _Pooled(number, position, sentence)
        for number, (article, sentences) in enumerate(articles)
        for position, sentence in enumerate(body_sentences(article, sentences))
    ]
    if not pooled:
        return []
    vectors = np.asarray(embed([trimmed(p.sentence).text for p in pooled]), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    owners = np.array([p.article for p in pooled])
    centres = [vectors[owners == number].mean(axis=0) for number in sorted(set(owners))]
    centroid = np.mean([c / (np.linalg.norm(c) or 1.0) for c in centres], axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    positions = np.array([p.position for p in pooled])
    merit = vectors @ centroid + lead_weight / (1.0 + positions)
    chosen: list[tuple[str, int]] = []  # (the line, its index in pooled)
    words = 0
    for index in np.argsort(-merit, kind="stable"):
        room = max_words - words
        if room < MIN_WORDS:
            break
        taken = [number for _, number in chosen]
        if taken and float(np.max(vectors[taken] @ vectors[index])) >= repeat_likeness:
            continue
        sentence = pooled[index].sentence
        whole = trimmed(sentence).text
        line = whole if len(whole.split()) <= room else _shortened(variants("", sentence), room)
        if line and len(line.split()) >= MIN_WORDS:
            chosen.append((closed_quotes(line), int(index)))
            words += len(line.split())
    rank = {number: place for place, number in enumerate(story_order([a for a, _ in articles]))}
    chosen.sort(key=lambda pair: (rank[pooled[pair[1]].article], pooled[pair[1]].position))
    return [
        (line, articles[pooled[index].article][0], pooled[index].sentence) for line, index in chosen
    ]
