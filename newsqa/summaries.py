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
from collections.abc import Callable

import numpy as np

from newsqa.chunk import Sentence, split_sentences
from newsqa.errors import InputError
from newsqa.faithful import (
    has_finite_verb,
    have_finite_verbs,
    is_clause,
    parsed,
    unsupported_entities,
    written_as,
    written_from,
)
from newsqa.generate import Request, Seq2SeqGenerator
from newsqa.prompts import NO_ANSWER, headline_input, summary_input
from newsqa.results import Article, Evidence, Summary

STRATEGIES = ("compress", "map-reduce")
WINDOW_CHARS = 700
"""One map window: about the chunk size the bundled model was trained to summarize."""
MAX_ROUNDS = 4
SELECT_RATIO = 1.5
"""Sentences the model shortens for ``compress``: this many times the word budget."""
MIN_WORDS = 4
"""The shortest summary sentence (and clause cut) kept."""
COMPRESSED_SHARE = 1.0
"""A faithful shortening (the model's or a clause cut) that keeps at least this share of its
sentence's words is used in place of the sentence, freeing room for another; at 1.0 a sentence
is shortened only when it does not fit, since the clauses a cut drops carry facts (the model
card, session 13, has the measurements; benchmarks/tune_summarize.py sweeps it)."""
_CAPTION_LABEL = re.compile(r"^([A-Z][\w'’-]*(?: [\w'’-]+){0,3}):\s")
_CAPTION_POINTER = re.compile(
    r"^(?:Above|Below|Pictured|Inset|Top|Bottom)(?: (?:left|right|above|below|centre|center))?,\s"
)
"""How a caption points at its picture, as "Above, two of the suspects, currently jailed." """
_TITLE_COLON = re.compile(r"^\S+(?: \S+)* [A-Z][\w'’-]*: [A-Z]")
"""A colon between a title and its subtitle ("With the new Avengers: Age of Ultron out,
..."): the words on both sides of it are capitalised, where a caption's label ends in a
lower-case word ("Strictly business: ...") or is one word ("Wanted: ...")."""
_CLAUSE_END = re.compile(r"(,|;|:|\s[-–—])\s")
_QUOTES = [
    (re.compile(r"“"), re.compile(r"”"), "”"),
    (re.compile(r"(?:^|(?<=\s))‘(?=\w)"), re.compile(r"(?<=[\w.,!?])’(?!\w)"), "’"),
    (re.compile(r"(?:^|(?<=\s))'(?=\w)"), re.compile(r"(?<=[\w.,!?])'(?!\w)"), "'"),
]
"""Opening and closing quotation marks, and the mark that closes: an apostrophe inside a word
("I'm") or after one ("the players' union") is not a quotation's end, nor its start."""
LEAD_WEIGHT = 2.0
"""The first sentence's bonus over its centrality; the n-th gets LEAD_WEIGHT / n. Chosen on
the Inshorts training pairs (benchmarks/tune_summarize.py), whose short written summaries are
what this summary is for; BBC News Summary's long extractive ones prefer less (1.0)."""
REDUNDANCY_WEIGHT = 0.0
"""How much a sentence's likeness to those ranked above it counts against it (maximal marginal
relevance). On training pairs any weight (0.5, 1) lowered ROUGE-2, so only near-duplicates
(``DUPLICATE_LIKENESS``) are dropped."""
DUPLICATE_LIKENESS = 0.9
"""A sentence this like (cosine) one ranked above it says the same thing again: skipped."""
HEADLINE_LEAD_WORDS = 60
HEADLINE_MAX_WORDS = 16
_DATELINE = re.compile(
    r"^(\(CNN\)\s*(--|—|-)?\s*|[A-Z][A-Z.'’ -]{2,30}(,\s*[A-Z][A-Za-z0-9. ]{1,20}){0,2}"
    r"(\s*\([A-Za-z. ]{1,20}\))?\s*(:|--|—|–|-)\s+)"
)


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


def rank_sentences(sentences: list[Sentence], vectors: np.ndarray) -> list[Sentence]:
    """Sentences best first: central to the article (cosine to its mean embedding) with a lead
    bonus (news puts the gist first), each penalised by its likeness to those ranked before it
    (maximal marginal relevance); near-duplicates of a better sentence are left out."""
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    centroid = vectors.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    merit = vectors @ centroid + LEAD_WEIGHT / (1.0 + np.arange(len(sentences)))
    order: list[int] = []
    likeness = np.zeros(len(sentences))
    remaining = list(range(len(sentences)))
    while remaining:
        best = max(remaining, key=lambda i: merit[i] - REDUNDANCY_WEIGHT * likeness[i])
        remaining.remove(best)
        if likeness[best] < DUPLICATE_LIKENESS:
            order.append(best)
            likeness = np.maximum(likeness, vectors @ vectors[best])
    return [sentences[i] for i in order]


def summarize_article(
    generator: Seq2SeqGenerator,
    article: Article,
    sentences: list[Sentence],
    max_words: int = 80,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    strategy: str = "compress",
    headline: bool = False,
) -> Summary:
    """Summary of ``article`` in at most ``max_words`` words, with evidence.

    Every summary sentence is a faithful rewrite of one article sentence (see
    :mod:`newsqa.faithful`) or that sentence itself. ``compress`` needs ``embed`` (sentence
    embeddings) to pick the sentences it rewrites. With ``headline``, the model also writes a
    headline from the lead.
    """
    max_words = max(int(max_words), 5)
    body = body_sentences(article, sentences)
    if strategy == "compress":
        if embed is None:
            raise ValueError("the compress strategy needs an embedding function")
        written = _compress(generator, body, embed, max_words)
    elif strategy == "map-reduce":
        written = _map_reduce(generator, article.text, body, max_words)
    else:
        raise InputError(f"unknown summary strategy {strategy!r}: choose {', '.join(STRATEGIES)}")
    kept = [(closed_quotes(line), source) for line, source in _fit(written, max_words)]
    text = " ".join(line for line, _ in kept)
    evidence = [_cite(article, source, line) for line, source in kept]
    title = write_headline(generator, article, body) if headline else None
    return Summary(text, evidence, headline=title, sentences=[line for line, _ in kept])


def body_sentences(article: Article, sentences: list[Sentence]) -> list[Sentence]:
    """The sentences a summary may use: clauses with a finite verb, not the title line, not a
    photo caption ("Strictly business: Julia Louis-Dreyfus covers...")."""
    title = (article.title or "").strip()
    shaped = [
        s
        for s in sentences
        if s.text.strip() != title
        and len(s.text.split()) >= MIN_WORDS
        and not _is_caption(trimmed(s).text)
    ]
    verbs = have_finite_verbs([s.text for s in shaped])
    return [s for s, verb in zip(shaped, verbs) if verb]


def _is_caption(text: str) -> bool:
    """How pages caption their pictures: a short label and a colon, the label one word
    ("Wanted: ...") or no clause ("Strictly business: ..."), or a pointer at the picture
    ("Above, ..."); not a title with a subtitle ("Fall of an Empire: The Story of ...")."""
    if _CAPTION_POINTER.match(text):
        return True
    label = _CAPTION_LABEL.match(text)
    if not label or _TITLE_COLON.match(text[: label.end() + 1]):
        return False
    return " " not in label.group(1) or not has_finite_verb(label.group(1))


def trimmed(sentence: Sentence) -> Sentence:
    """``sentence`` without a leading dateline ("ISLAMABAD:", "(CNN)", "LONDON (Reuters) -")."""
    match = _DATELINE.match(sentence.text)
    if not match:
        return sentence
    return Sentence(sentence.text[match.end() :], sentence.start + match.end(), sentence.end)


def variants(rewrite: str, source: Sentence, room: int | None = None) -> list[str]:
    """Faithful ways to say ``source``, longest first: the sentence itself (without a
    dateline), the model's ``rewrite`` if it is a faithful shortening, the sentence cut at
    a clause end ("...; ", "..., ") where the cut keeps its main verb, subject and quotes, and
    the sentence without its asides (``_without_asides``) where it keeps its subject. With
    ``room``, cuts longer than ``room`` words are not looked at."""
    text = trimmed(source).text
    room = len(text.split()) if room is None else room
    found = {text}
    written = written_from(rewrite, text) if rewrite else None
    if written:
        found.add(_ended(written))
    for cut in _CLAUSE_END.finditer(text):
        prefix = text[: cut.start()].rstrip()
        if (
            MIN_WORDS <= len(prefix.split()) <= room
            and written_from(prefix, text) == prefix
            and has_finite_verb(prefix)
        ):
            found.add(_ended(prefix))
    for pruned in _without_asides(text) if _may_fit_without_asides(text, room) else []:
        written = written_from(pruned, text)
        if written and MIN_WORDS <= len(written.split()) <= room and is_clause(written):
            found.add(_ended(written))
    return sorted(found, key=lambda line: -len(line.split()))


_ASIDES = {"appos", "relcl", "acl"}
"""What a sentence says in passing between commas: an apposition (", a reporter for ESPN,"), a
non-restrictive relative clause (", who took office in May,"), a participle (", aged 54,")."""
_OPENER_MARKS = {"after", "before", "while", "whilst", "as", "since", "although", "though"}
"""Words that open a clause before the subject that may go ("After the match, he said...");
not "if", "unless" or "when": without its condition a sentence claims more."""


def _may_fit_without_asides(text: str, room: int) -> bool:
    """Whether ``text`` without asides could fit ``room`` words: asides end at a comma, so
    what follows the last comma always stays (a cheap test that spares a parse)."""
    return "," in text and len(text.rsplit(",", 1)[1].split()) <= room


def _is_opener(token) -> bool:
    """Whether ``token`` heads a phrase before the subject that the sentence's claim does not
    rest on: a participle ("Speaking to reporters, ..."), a clause of time or concession, a
    time or linking word ("Last week, ...", "However, ..."); not a condition ("If ...") nor a
    source or scope ("According to police, ...", "In Britain, ...")."""
    if token.dep_ in ("npadvmod", "advmod"):
        return True
    if token.dep_ != "advcl":
        return False
    marks = [c.lower_ for c in token.children if c.dep_ == "mark" or c.tag_ == "WRB"]
    return all(mark in _OPENER_MARKS for mark in marks)


def _without_asides(text: str) -> list[str]:
    """``text`` without what it says in passing, set off by commas (``_ASIDES``, a phrase
    before the subject that ``_is_opener``), each alone, then all together; a list's items
    are never asides ("Paris, London and Rome")."""
    doc = parsed(text)
    spans: list[tuple[int, int]] = []
    for token in doc:
        left, right = token.left_edge.i, token.right_edge.i
        before = doc[left - 1].text if left > 0 else None
        after = doc[right + 1].text if right + 1 < len(doc) else None
        if token.dep_ in _ASIDES and before == "," and after == ",":
            listed = any(c.dep_ in ("conj", "cc") for c in token.head.children)
            if not listed and (right + 2 >= len(doc) or doc[right + 2].lower_ not in ("and", "or")):
                spans.append((left - 1, right + 1))
        elif left == 0 and after == "," and token.head.dep_ == "ROOT" and _is_opener(token):
            spans.append((0, right + 1))
    spans = [s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)]
    out = []
    for chosen in [[s] for s in spans] + ([spans] if len(spans) > 1 else []):
        drop = {i for a, b in chosen for i in range(a, b + 1)}
        kept = [t for t in doc if t.i not in drop]
        out.append(" ".join(t.text for t in kept).rstrip(","))  # written_from spaces it
    return out


def closed_quotes(line: str) -> str:
    """``line`` with a quotation it opens but does not close closed at its end, as when the
    article's sentence splitter ends a sentence inside a quotation ("He replied: 'I know.")."""
    for opening, closing, mark in _QUOTES:
        if len(opening.findall(line)) > len(closing.findall(line)):
            return line + mark
    return line


def _ended(text: str) -> str:
    return text if text[-1:] in ".!?\"'’”" else text.rstrip(",;:-–— ") + "."


def _compress(generator, sentences: list[Sentence], embed, max_words: int):
    """Rank sentences, let the model shorten the best (one batch), then fill the budget in
    rank order with the longest faithful variant of each that fits; article order out."""
    if not sentences:
        return []
    ranked = sentences
    if len(sentences) > 1:
        ranked = rank_sentences(sentences, embed([s.text for s in sentences]))
    shortlist, words = [], 0
    for sentence in ranked:
        if words >= SELECT_RATIO * max_words:
            break
        shortlist.append(sentence)
        words += len(sentence.text.split())
    outputs = generator.generate(
        [Request(summary_input(trimmed(s).text)) for s in shortlist],
        max_new_tokens=min(96, int(max_words * 1.6) + 8),
        num_beams=2,
        no_repeat_ngram_size=3,
    )
    rewrites = [_usable(beams[0].text) for beams in outputs]
    rewrites += [""] * (len(ranked) - len(shortlist))  # past the shortlist: cuts only
    chosen, words = [], 0
    for sentence, rewrite in zip(ranked, rewrites):
        room = max_words - words
        if room < MIN_WORDS:
            break
        whole = trimmed(sentence).text
        if COMPRESSED_SHARE >= 1.0 and MIN_WORDS <= len(whole.split()) <= room:
            line = whole  # it fits: no shortening is looked for
        else:
            line = _shortened(variants(rewrite, sentence, room), room)
        if line:
            chosen.append((line, sentence))
            words += len(line.split())
    return sorted(chosen, key=lambda pair: pair[1].start)


def _shortened(lines: list[str], room: int, share: float | None = None) -> str | None:
    """Of a sentence's faithful variants (longest first, the sentence itself first), the
    shortest that keeps ``share`` (``COMPRESSED_SHARE``) of its words if that fits in ``room``
    words, else the longest that fits; ``None`` when none of ``MIN_WORDS`` or more fits."""
    share = COMPRESSED_SHARE if share is None else share
    full = len(lines[0].split())
    fitting = [line for line in lines if MIN_WORDS <= len(line.split()) <= room]
    if not fitting:
        return None
    close = [line for line in fitting if len(line.split()) >= share * full]
    return close[-1] if close else fitting[0]


def _map_reduce(generator, text: str, sentences: list[Sentence], max_words: int):
    """Summarize every window, then the summaries, until they fit ``max_words``; each written
    sentence is then held to the article sentence it draws on."""
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
    written, used = [], set()
    for line in split_sentences(combined):
        source = _closest(line.text, sentences)
        if source is not None and source.start not in used:
            used.add(source.start)
            shortened = written_from(line.text, trimmed(source).text)
            written.append((_ended(shortened) if shortened else trimmed(source).text, source))
    return written


def _usable(text: str) -> str:
    return "" if text.strip().lower() == NO_ANSWER else text.strip()


def _closest(text: str, sentences: list[Sentence]) -> Sentence | None:
    """The sentence that shares the largest share of ``text``'s words."""
    words = set(re.findall(r"\w+", text.lower()))
    if not words or not sentences:
        return None
    overlap = [len(words & set(re.findall(r"\w+", s.text.lower()))) for s in sentences]
    best = max(range(len(sentences)), key=overlap.__getitem__)
    return sentences[best] if overlap[best] else None


def _dedupe(text: str) -> str:
    seen, kept = set(), []
    for sentence in split_sentences(text):
        key = re.sub(r"\W+", " ", sentence.text.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            kept.append(sentence.text)
    return " ".join(kept)


def _fit(written: list[tuple[str, Sentence]], max_words: int) -> list[tuple[str, Sentence]]:
    """Whole sentences up to ``max_words`` words; a first sentence longer than that is cut."""
    kept, count = [], 0
    for line, source in written:
        words = len(line.split())
        if count + words > max_words:
            if not kept:
                kept.append((" ".join(line.split()[:max_words]), source))
            break
        kept.append((line, source))
        count += words
    return kept


def write_headline(generator, article: Article, body: list[Sentence]) -> str | None:
    """A headline the model writes from the lead, in the article's own words and spelling (or
    an inflection of a word of the lead: "wins" for "won"), its names, numbers and dates as the
    article has them. When no beam passes those checks: the first sentence's shortest
    faithful cut, if short enough or the article has no title, else the title (``None`` when
    the article has neither a title nor a sentence with a verb)."""
    lead, words = [], 0
    for sentence in body:
        if words >= HEADLINE_LEAD_WORDS:
            break
        lead.append(trimmed(sentence).text)
        words += len(lead[-1].split())
    if lead:
        beams = generator.generate(
            [Request(headline_input(" ".join(lead)))],
            max_new_tokens=24,
            num_beams=8,
            no_repeat_ngram_size=2,
        )[0]
        for beam in beams:
            written = written_as(_usable(beam.text), article.text, inflect_from=" ".join(lead))
            if (
                written
                and len(written.split()) >= 3
                and unsupported_entities(written, article.text)[1] == 0
            ):
                return written.rstrip(".")
        shortest = variants("", body[0])[-1]
        if len(shortest.split()) <= HEADLINE_MAX_WORDS or not article.title:
            return shortest.rstrip(".")
    return article.title


def _cite(article: Article, source: Sentence, line: str) -> Evidence:
    """The article sentence a summary sentence comes from; score: the share of its words."""
    words = set(re.findall(r"\w+", line.lower()))
    overlap = len(words & set(re.findall(r"\w+", source.text.lower()))) / max(len(words), 1)
    return Evidence(
        article.id, article.title, source.text, source.start, source.end, round(overlap, 4)
    )
