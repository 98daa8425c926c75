"""Sentences and token-bounded chunks, each with character offsets into the article text.

Both run in time linear in the text, whatever it holds. pysbd is superlinear on long text and
quadratic on text without sentence ends, so it only ever sees windows of at most
``WINDOW_CHARS`` characters (and ``WINDOW_MARKS`` sentence marks), and a window where no line
has a sentence end before its last word skips it: each line is a sentence. No sentence is
longer than a window, so counting a sentence's tokens costs a bounded amount; a sentence over
the token bound is cut into parts that fit, at white space where there is any, and no chunk is
longer than ``CHUNK_CHARS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

WINDOW_CHARS = 1_000
"""The most text pysbd segments at once, and so the longest sentence: a longer run without a
sentence end is cut at its last white space (anywhere, in one giant token). pysbd's cost per
character grows with the window (2,000 characters of prose on one line: 3.2 s/MB; 1,000: 2.6)."""
CHUNK_CHARS = 2_000
"""The longest chunk, whatever its tokens: a word the tokenizer cannot split is one token."""
WINDOW_MARKS = 64
"""The most sentence marks pysbd segments at once: it rescans the window for every one (each
abbreviation), so text dense with them ("U.S. U.S. ...") gets shorter windows."""

_PARAGRAPH = re.compile(r"[^\n]+(?:\n(?![^\S\n]*\n)[^\n]+)*")
"""Lines up to a blank line. The look-ahead scans only to the next line break: one that
crossed line breaks rescanned every later blank line, quadratic on many of them."""
_SENTENCE_END = re.compile(r"[.!?。．！？\r]")
"""What pysbd can end a sentence at."""
_LINE_END = " \t.!?。．！？\"'”’»)]"
"""What may follow a line's last sentence end: its own marks, closing quotes and brackets."""
_GLUED_END = re.compile(r"[a-z]{2}[.!?][\"”’]?(?=[A-Z][a-z])")
"""A sentence end with no space before the next sentence ("the community.Dr Venter"), as
text scraped from paragraphs often has; pysbd reads it as one sentence."""
_HAS_WORD = re.compile(r"\w")
_QUOTE_CLOSED_MID_SENTENCE = re.compile(r"\s*[\"'”’]\s+[a-z]")
"""A piece that starts with a quotation's closing mark and goes on in lower case ("...the
Alliance.' said its president."): the sentence the quotation is in goes on."""
_ENUMERATOR = re.compile(r"\s*\d{1,3}[.)]\s*")
"""A list item's number standing alone, as "7." of "7. He loves peanut butter cups." """
_LAST_SPACE = re.compile(r"\s\S*\Z")
_NEWLINE = re.compile(r"\n")


@dataclass(frozen=True)
class Sentence:
    """One sentence: ``text == article_text[start:end]``."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """Consecutive sentences that fit the token bound (or a part of one sentence that does not);
    ``first_sentence`` and ``last_sentence`` index into the article's sentences."""

    text: str
    start: int
    end: int
    first_sentence: int
    last_sentence: int


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def _cut(text: str, start: int, limit: int) -> int:
    """Where to end a piece that starts at ``start`` and may reach ``limit``: at the last white
    space after ``start``, or at ``limit`` when there is none (inside one giant token)."""
    space = _LAST_SPACE.search(text, start + 1, limit + 1)
    return space.start() if space else limit


def _window_stop(text: str, start: int, end: int) -> int:
    """Where the window that starts at ``start`` ends: within ``WINDOW_CHARS`` characters and
    ``WINDOW_MARKS`` sentence marks, at white space where there is any."""
    limit = min(end, start + WINDOW_CHARS)
    for count, mark in enumerate(_SENTENCE_END.finditer(text, start, limit), 1):
        if count == WINDOW_MARKS:
            limit = mark.end()
            break
    return end if limit == end else _cut(text, start, limit)


def _inner_sentence_end(window: str) -> bool:
    """Whether a line of ``window`` has a sentence end before its last words: if none has,
    each line is one sentence and pysbd (tens of microseconds a line) is not needed."""
    return any(_SENTENCE_END.search(line.rstrip(_LINE_END)) for line in window.split("\n"))


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` narrowed past white space at both ends (``start == end`` if blank)."""
    piece = text[start:end]
    left = len(piece) - len(piece.lstrip())
    return start + left, max(start + left, start + len(piece.rstrip()))


def _sentence_ends(text: str, start: int, stop: int) -> list[int]:
    """Where pysbd ends the sentences of ``text[start:stop]``; the last end is ``stop``.

    Only pysbd's boundaries are used, never its text, so nothing it drops or alters is lost.
    """
    ends: list[int] = []
    cursor = start
    # pysbd's own offsets (segment) search the whole text per sentence: quadratic in a window
    for piece in _segmenter().processor(text[start:stop]).process():
        piece = piece.strip()
        found = text.find(piece, cursor, stop) if piece else -1
        if found >= 0:
            cursor = found + len(piece)
            ends.append(cursor)
    if ends and text[ends[-1] : stop].strip() == "":
        ends.pop()
    glued = [m.end() for m in _GLUED_END.finditer(text, start, stop)]
    return _joined(text, start, sorted({*ends, *glued, stop}))


def _joined(text: str, start: int, ends: list[int]) -> list[int]:
    """``ends`` without the ones that leave no sentence: a closing quote or bracket left alone
    ("...the thing." + "'"), or one that the sentence goes on after ("' said Mr Portnow."),
    joins the sentence before it, and a list number ("7.") the one after it."""
    kept: list[int] = []
    for end in ends:
        piece = text[kept[-1] if kept else start : end]
        if kept and (not _HAS_WORD.search(piece) or _QUOTE_CLOSED_MID_SENTENCE.match(piece)):
            kept[-1] = end
        elif _ENUMERATOR.fullmatch(piece) and end != ends[-1]:
            continue
        else:
            kept.append(end)
    return kept


def split_sentences(text: str) -> list[Sentence]:
    """Split text into sentences; a line break always ends a sentence. Offsets are exact.

    Long blocks are segmented a window at a time: the window's last sentence (which the
    window may have cut) starts the next window, unless it is the only one.
    """
    sentences: list[Sentence] = []
    for block in _PARAGRAPH.finditer(text):
        start, end = block.span()
        while start < end:
            stop = _window_stop(text, start, end)
            if _inner_sentence_end(text[start:stop]):
                ends = _sentence_ends(text, start, stop)
                if stop < end and len(ends) > 1:
                    ends.pop()
            else:  # one sentence per line
                ends = [m.start() for m in _NEWLINE.finditer(text, start, stop)] + [stop]
            for finish in ends:
                first, last = _stripped(text, start, finish)
                if first < last:
                    sentences.append(Sentence(text[first:last], first, last))
                start = finish
    return sentences


def _token_parts(
    text: str, sentence: Sentence, tokens: int, count_tokens: Callable[[str], int], limit: int
) -> list[tuple[int, int]]:
    """Cut a sentence of ``tokens`` tokens into parts of at most ``limit`` tokens, at white
    space where there is any. Part sizes are guessed from the sentence's characters per token
    and shrunk until they fit, so each part costs a count or two."""
    parts: list[tuple[int, int]] = []
    per_token = len(sentence.text) / max(tokens, 1)
    start, end = sentence.start, sentence.end
    while start < end:
        size = max(1, int(limit * per_token * 0.9))
        while True:
            stop = end if start + size >= end else _cut(text, start, start + size)
            first, last = _stripped(text, start, stop)
            count = count_tokens(text[first:last])
            if count <= limit or last - first <= 1:
                break
            size = max(1, min(stop - start - 1, int((stop - start) * limit / count * 0.9)))
        if first < last:
            parts.append((first, last))
        start = stop
    return parts


def chunk_sentences(
    text: str,
    sentences: list[Sentence],
    count_tokens: Callable[[str], int],
    max_tokens: int = 128,
    overlap: int = 1,
    max_chars: int = CHUNK_CHARS,
) -> list[Chunk]:
    """Group sentences into chunks of at most ``max_tokens`` tokens and ``max_chars``
    characters, overlapping by sentences.

    A sentence over the token bound is cut into parts that fit, each a chunk of its own.
    """
    if not sentences:
        return []
    lengths = [count_tokens(s.text) for s in sentences]
    chunks: list[Chunk] = []
    first = 0
    while first < len(sentences):
        if lengths[first] > max_tokens:
            for start, end in _token_parts(
                text, sentences[first], lengths[first], count_tokens, max_tokens
            ):
                chunks.append(Chunk(text[start:end], start, end, first, first))
            first += 1
            continue
        last = first
        total = lengths[first]
        while (
            last + 1 < len(sentences)
            and total + lengths[last + 1] <= max_tokens
            and sentences[last + 1].end - sentences[first].start <= max_chars
        ):
            last += 1
            total += lengths[last]
        start, end = sentences[first].start, sentences[last].end
        chunks.append(Chunk(text[start:end], start, end, first, last))
        if last + 1 >= len(sentences):
            break
        overlapping = max(last + 1 - overlap, first + 1)
        # a sentence cut into parts comes next: nothing to overlap it with
        first = last + 1 if lengths[last + 1] > max_tokens else overlapping
    return chunks
