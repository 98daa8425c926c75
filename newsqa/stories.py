"""Stories: news articles grouped by the event they report, one article at a time.

An article joins the story whose centroid (the normalised mean of its members' vectors) is the
most similar, when the cosine reaches ``threshold`` and, where both have dates, the article's
date lies within ``window_days`` of the story's span; otherwise it opens a new story. Nothing
already placed moves: adding an article changes at most the story it joins. An article within
``duplicate_threshold`` of a member of a candidate story (the same wire copy twice) is recorded
as that member's duplicate and leaves the centroid alone.

Centroids live in a flat FAISS inner-product index whose row is the story id; a join rewrites
its story's row in place (``remove_ids`` + ``add_with_ids`` on an ``IndexIDMap2`` would move
every later row and rebuild the id map: work in proportion to the stories, per join). An add
costs one search over the centroids and a dot product with the candidate stories' members
(benchmarks/eval_stories.py ``--synthetic``). The defaults come from benchmarks/eval_stories.py,
chosen by cross-validation over the events of the MultiLing 2011 WikiNews set.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from newsqa.chunk import split_sentences

if TYPE_CHECKING:
    from newsqa.embed import Embedder

THRESHOLD = 0.45
"""Cosine to a story's centroid from which an article joins it: the median choice of
leave-events-out cross-validation on MultiLing 2011 (B-cubed F1 0.93 on its 100 articles in
date order, 0.90 on held-out events; benchmarks/eval_stories.py)."""
DUPLICATE_THRESHOLD = 0.95
"""Cosine to a member from which an article is that member's duplicate."""
WINDOW_DAYS: int | None = None
"""Days before a story's first or after its last article in which a dated article may join it;
None: no date gate. The cross-validation chose none: MultiLing's stories run for months or years
(the London bombings of 2005 into 2009), and a 14-day gate cut its B-cubed F1 to 0.74."""
CANDIDATES = 8
"""Stories looked at per add: the best by centroid cosine (a date may rule out the first)."""
LEAD_SENTENCES = 3
"""Sentences of an article's text that its grouping vector reads, after its title."""
NAMES = 40
"""Capitalised words (names) of an article that its grouping vector reads, most frequent first."""
_NAME = re.compile(r"\b[A-Z][\w'’.-]*\w")
_CALENDAR = re.compile(
    r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|January|February|March|April|May|June|July|"
    r"August|September|October|November|December"
)
STATE_VERSION = 1


@dataclass(frozen=True)
class Story:
    """One story: its members in the order added (duplicates left out), ``duplicates`` (each
    duplicate's id: the member it repeats), and the first and last ISO dates of its articles."""

    id: int
    title: str
    article_ids: list[str]
    duplicates: dict[str, str]
    first: str | None
    last: str | None


@dataclass
class _Entry:
    article_id: str
    story: int
    published: str | None
    label: str
    duplicate_of: str | None = None


class StoryIndex:
    """Articles assigned to stories incrementally; see the module's docstring."""

    def __init__(
        self,
        dimension: int = 384,
        threshold: float = THRESHOLD,
        window_days: int | None = WINDOW_DAYS,
        duplicate_threshold: float = DUPLICATE_THRESHOLD,
    ):
        import faiss

        self.dimension = dimension
        self.threshold = threshold
        self.window_days = window_days
        self.duplicate_threshold = duplicate_threshold
        self._centroids = faiss.IndexFlatIP(dimension)
        self._sums = np.zeros((0, dimension), dtype=np.float64)
        self._vectors = np.zeros((0, dimension), dtype=np.float32)
        self._rows: list[str] = []  # vector row -> article id (members only)
        self._members: list[list[int]] = []  # story -> its members' vector rows
        self._spans: list[tuple[int, int] | None] = []  # story -> first, last day ordinal
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def story_of(self, article_id: str) -> int:
        return self._entries[article_id].story

    def add(
        self,
        article_id: str,
        vector: np.ndarray,
        published: str | date | None = None,
        title: str | None = None,
        text: str | None = None,
    ) -> int:
        """Place one article (its ``article_vector``) and return its story id. ``published``:
        an ISO date or a date. Adding an id again returns its story and changes nothing."""
        if article_id in self._entries:
            return self._entries[article_id].story
        unit = _unit(vector, self.dimension)
        day = _ordinal(published)
        entry = _Entry(article_id, -1, _iso(day), _label(article_id, title, text))
        candidates = self._candidates(unit)
        duplicate = self._duplicate_of(unit, [story for _, story in candidates])
        if duplicate is not None:
            entry.duplicate_of = self._rows[duplicate]
            entry.story = self._entries[entry.duplicate_of].story
        else:
            entry.story = next(
                (
                    story
                    for similarity, story in candidates
                    if similarity >= self.threshold and self._within(story, day)
                ),
                len(self._members),
            )
            self._place(entry.story, article_id, unit)
        self._extend_span(entry.story, day)
        self._entries[article_id] = entry
        return entry.story

    def stories(self) -> list[Story]:
        """Every story, by id; each titled by its member closest to the centroid."""
        members: list[list[str]] = [[] for _ in self._members]
        duplicates: list[dict[str, str]] = [{} for _ in self._members]
        for entry in self._entries.values():
            if entry.duplicate_of is None:
                members[entry.story].append(entry.article_id)
            else:
                duplicates[entry.story][entry.article_id] = entry.duplicate_of
        result = []
        for story, rows in enumerate(self._members):
            central = rows[int(np.argmax(self._vectors[rows] @ self._sums[story]))]
            span = self._spans[story]
            result.append(
                Story(
                    story,
                    self._entries[self._rows[central]].label,
                    members[story],
                    duplicates[story],
                    _iso(span[0]) if span else None,
                    _iso(span[1]) if span else None,
                )
            )
        return result

    def to_state(self) -> dict:
        """Everything needed to rebuild this index: JSON-able values and one numpy array
        (``vectors``, the members' vectors in the order they were added)."""
        return {
            "version": STATE_VERSION,
            "dimension": self.dimension,
            "threshold": self.threshold,
            "window_days": self.window_days,
            "duplicate_threshold": self.duplicate_threshold,
            "articles": [
                [e.article_id, e.story, e.published, e.label, e.duplicate_of]
                for e in self._entries.values()
            ],
            "vectors": self._vectors[: len(self._rows)].copy(),
        }

    @classmethod
    def from_state(cls, state: dict) -> StoryIndex:
        """The index ``to_state`` described: the same stories and the same future choices."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unknown story index state version {state.get('version')!r}")
        index = cls(
            state["dimension"],
            state["threshold"],
            state["window_days"],
            state["duplicate_threshold"],
        )
        vectors = np.asarray(state["vectors"], dtype=np.float32)
        rows = iter(vectors)
        for article_id, story, published, label, duplicate_of in state["articles"]:
            if duplicate_of is None:
                index._place(story, article_id, next(rows))
            index._extend_span(story, _ordinal(published))
            index._entries[article_id] = _Entry(article_id, story, published, label, duplicate_of)
        return index

    # -- internals --------------------------------------------------------------------------

    def _candidates(self, unit: np.ndarray) -> list[tuple[float, int]]:
        """The stories with the most similar centroids: (cosine, story), best first."""
        count = min(CANDIDATES, self._centroids.ntotal)
        if not count:
            return []
        similarities, stories = self._centroids.search(unit[None, :], count)
        return [(float(s), int(i)) for s, i in zip(similarities[0], stories[0]) if i >= 0]

    def _duplicate_of(self, unit: np.ndarray, stories: list[int]) -> int | None:
        """The vector row of a candidate story's member that ``unit`` duplicates, if any."""
        rows = [row for story in stories for row in self._members[story]]
        if not rows:
            return None
        similarities = self._vectors[rows] @ unit
        best = int(np.argmax(similarities))
        return rows[best] if similarities[best] >= self.duplicate_threshold else None

    def _within(self, story: int, day: int | None) -> bool:
        span = self._spans[story]
        if self.window_days is None or day is None or span is None:
            return True
        return span[0] - self.window_days <= day <= span[1] + self.window_days

    def _place(self, story: int, article_id: str, unit: np.ndarray) -> None:
        """Add a member to ``story`` (a new one when it is the next id), its centroid updated."""
        import faiss

        row = len(self._rows)
        self._rows.append(article_id)
        self._vectors = _appended(self._vectors, row, unit)
        if story == len(self._members):
            self._members.append([])
            self._spans.append(None)
            self._sums = _appended(self._sums, story, np.zeros(self.dimension))
            self._centroids.add(np.zeros((1, self.dimension), dtype=np.float32))
        self._members[story].append(row)
        self._sums[story] += unit
        centroid = self._sums[story] / np.linalg.norm(self._sums[story])
        rows = faiss.rev_swig_ptr(self._centroids.get_xb(), self._centroids.ntotal * self.dimension)
        rows[story * self.dimension : (story + 1) * self.dimension] = centroid

    def _extend_span(self, story: int, day: int | None) -> None:
        if day is None:
            return
        span = self._spans[story]
        self._spans[story] = (min(span[0], day), max(span[1], day)) if span else (day, day)


def article_vector(embedder: Embedder, title: str | None, text: str) -> np.ndarray:
    """The unit vector ``StoryIndex`` groups an article by; see ``article_vectors``."""
    return article_vectors(embedder, [(title, text)])[0]


def article_vectors(embedder: Embedder, articles: Sequence[tuple[str | None, str]]) -> np.ndarray:
    """Grouping vectors of (title, text) pairs, embedded in one batch: the normalised sum of
    two embeddings, the title with the text's first ``LEAD_SENTENCES`` sentences (what the
    story is about) and the article's names (who and where: ``names``). The names tell apart
    events the lead alone blurs, such as two earthquakes (benchmarks/eval_stories.py)."""
    leads, name_lists = [], []
    for title, text in articles:
        sentences = [s.text for s in split_sentences(text or "")]
        lead = "\n".join(([title] if title else []) + sentences[:LEAD_SENTENCES])
        if not lead.strip():
            raise ValueError("an article needs a title or a text to be grouped")
        leads.append(lead)
        name_lists.append(" ".join(names(title, sentences)[:NAMES]))
    vectors = embedder.encode(leads + [n for n in name_lists if n])
    combined = vectors[: len(leads)].copy()
    with_names = [i for i, n in enumerate(name_lists) if n]
    combined[with_names] += vectors[len(leads) :]
    return combined / np.linalg.norm(combined, axis=1, keepdims=True)


def names(title: str | None, sentences: Sequence[str]) -> list[str]:
    """Capitalised words of a title and sentences, most frequent first (ties: first seen),
    without days and months, and without words only ever capitalised to start a sentence."""
    counts: Counter[str] = Counter()
    inside: set[str] = set()
    for sentence in ([title] if title else []) + list(sentences):
        for found in _NAME.finditer(sentence):
            word = found.group()
            if not _CALENDAR.fullmatch(word):
                counts[word] += 1
                if sentence[: found.start()].strip():
                    inside.add(word)
    return [word for word, _ in counts.most_common() if word in inside]


def _appended(array: np.ndarray, row: int, values: np.ndarray) -> np.ndarray:
    """``array`` with ``values`` at ``row``: the rows beyond the used ones are spare capacity,
    doubled when full, so appending one row costs O(1) amortised."""
    if row >= len(array):
        grown = np.zeros((max(16, 2 * len(array)), array.shape[1]), dtype=array.dtype)
        grown[: len(array)] = array
        array = grown
    array[row] = values
    return array


def _unit(vector: np.ndarray, dimension: int) -> np.ndarray:
    unit = np.asarray(vector, dtype=np.float32).reshape(-1)
    if unit.shape != (dimension,):
        raise ValueError(f"expected a vector of {dimension} numbers, got shape {unit.shape}")
    norm = float(np.linalg.norm(unit))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("the vector has no direction (zero or not finite)")
    return unit / norm


def _ordinal(published: str | date | None) -> int | None:
    if published is None or published == "":
        return None
    day = published if isinstance(published, date) else date.fromisoformat(str(published)[:10])
    return day.toordinal()


def _iso(day: int | None) -> str | None:
    return None if day is None else date.fromordinal(day).isoformat()


def _label(article_id: str, title: str | None, text: str | None) -> str:
    """What a story may be titled by: the title, else the text's first sentence, else the id."""
    if title and title.strip():
        return " ".join(title.split())
    sentences = split_sentences(text[:2000]) if text else []
    return " ".join(sentences[0].text.split()) if sentences else article_id
