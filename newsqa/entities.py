"""Named entities (people, places, dates, amounts) in a sentence, by spaCy's small English NER."""

from __future__ import annotations

import threading
from functools import lru_cache

from newsqa.faithful import SPACY_MODEL

_LOADING = threading.Lock()
_UNUSED_PIPES = ("parser", "lemmatizer", "attribute_ruler", "tagger", "senter")


@lru_cache(maxsize=1)
def _recognizer():
    import spacy

    with _LOADING:
        return spacy.load(SPACY_MODEL, exclude=list(_UNUSED_PIPES))


@lru_cache(maxsize=1024)
def entity_spans(text: str) -> tuple[tuple[int, int, str], ...]:
    """Each entity of ``text``: (start, end, label), character offsets, labels as spaCy's
    (PERSON, GPE, DATE, CARDINAL...)."""
    return tuple((e.start_char, e.end_char, e.label_) for e in _recognizer()(text).ents)


def labels_of(answer: str, sentence: str) -> frozenset[str]:
    """The labels of the entities that ``answer`` overlaps where it stands in ``sentence`` (in
    context, "Chitral" is a place); the answer alone when the sentence does not hold it."""
    start = sentence.find(answer) if answer else -1
    if start < 0:
        sentence, start = answer, 0
    end = start + len(answer)
    return frozenset(label for s, e, label in entity_spans(sentence) if s < end and start < e)
