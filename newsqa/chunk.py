"""Sentences and token-bounded chunks, each with character offsets into the article text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

_PARAGRAPH = re.compile(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*")


@dataclass(frozen=True)
class Sentence:
    """One sentence: ``text == article_text[start:end]``."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """Consecutive sentences that fit the token bound; ``sentences`` index into the article's."""

    text: str
    start: int
    end: int
    first_sentence: int
    last_sentence: int


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[Sentence]:
    """Split text into sentences; a line break always ends a sentence. Offsets are exact."""
    sentences: list[Sentence] = []
    for block in _PARAGRAPH.finditer(text):
        cursor = block.start()
        for piece in _segmenter().segment(block.group()):
            piece = piece.strip()
            if not piece:
                continue
            start = text.find(piece, cursor, block.end())
            if start < 0:  # the segmenter altered the text: fall back to the whole rest
                start = cursor
                piece = text[cursor : block.end()].strip()
                start = text.find(piece, cursor)
            end = start + len(piece)
            sentences.append(Sentence(piece, start, end))
            cursor = end
            if cursor >= block.end():
                break
    return sentences


def chunk_sentences(
    text: str,
    sentences: list[Sentence],
    count_tokens: Callable[[str], int],
    max_tokens: int = 128,
    overlap: int = 1,
) -> list[Chunk]:
    """Group sentences into chunks of at most ``max_tokens`` tokens, overlapping by sentences.

    A sentence longer than the bound becomes a chunk of its own (the model truncates it).
    """
    if not sentences:
        return []
    lengths = [count_tokens(s.text) for s in sentences]
    chunks: list[Chunk] = []
    first = 0
    while first < len(sentences):
        last = first
        total = lengths[first]
        while last + 1 < len(sentences) and total + lengths[last + 1] <= max_tokens:
            last += 1
            total += lengths[last]
        start, end = sentences[first].start, sentences[last].end
        chunks.append(Chunk(text[start:end], start, end, first, last))
        if last + 1 >= len(sentences):
            break
        first = max(last + 1 - overlap, first + 1)
    return chunks
