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

Removing an article changes only its story: a member's story has its centroid recomputed from
the members left (a story left with none is empty: never listed, never joined, its id never
reused), and the earliest duplicate of a removed member takes its place as a member, the other
duplicates repeating it from then on. ``newsqa.library`` keeps each article's placement in
SQLite and rebuilds the index from it with ``from_state``: stored choices are replayed, never
made again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
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
STATE_VERSION = 2
"""2: vectors of every article, duplicates too (a duplicate replaces a removed member), and the
count of story ids given out."""


@dataclass(frozen=True)
class StoryArticle:
    """One article of a story: ``title`` is its title (else its first sentence, else its id),
    ``published`` its ISO date or None, ``source`` where it came from (None when not known),
    ``duplicate_of`` the member it repeats (None: it is a member)."""

    id: str
    title: str
    published: str | None
    source: str | None = None
    duplicate_of: str | None = None


@dataclass(frozen=True)
class Story:
    """One story: its members in the order added (duplicates left out), ``duplicates`` (each
    duplicate's id: the member it repeats), the first and last ISO dates of its articles, and
    ``articles``: every article, duplicates too, in the order added. ``title`` is the title of
    the member closest to the story's centroid."""

    id: int
    title: str
    article_ids: list[str]
    duplicates: dict[str, str]
    first: str | None
    last: str | None
    articles: list[StoryArticle] = field(default_factory=list)

    def within(self, since: str | None = None, until: str | None = None) -> Story | None:
        """The story with only its articles published from ``since`` to ``until`` (ISO dates,
        inclusive, either open; an undated article is in no range), its dates theirs; None when
        none is. The title stays the whole story's."""
        if since is None and until is None:
            return self
        kept = [
            a
            for a in self.articles
            if a.published is not None
            and (since or a.published) <= a.published <= (until or a.published)
        ]
        if not kept:
            return None
        ids = {a.id for a in kept}
        return replace(
            self,
            article_ids=[i for i in self.article_ids if i in ids],
            duplicates={k: v for k, v in self.duplicates.items() if k in ids},
            first=min(a.published for a in kept),
            last=max(a.published for a in kept),
            articles=kept,
        )

    def to_dict(self) -> dict:
        return asdict(self)


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
        self._rows: list[str | None] = []  # vector row -> article id (None: removed)
        self._row_of: dict[str, int] = {}  # article id -> its vector row
        self._members: list[list[int]] = []  # story -> its members' vector rows
        self._articles: list[list[str]] = []  # story -> its article ids, duplicates too
        self._spans: list[tuple[int, int] | None] = []  # story -> first, last day ordinal
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._entries

    def story_of(self, article_id: str) -> int:
        return self._entries[article_id].story

    @property
    def next_story(self) -> int:
        """The id the next new story gets: story ids are never given twice."""
        return len(self._members)

    def vector_of(self, article_id: str) -> np.ndarray:
        """The unit grouping vector an article was placed by."""
        return self._vectors[self._row_of[article_id]]

    def placement(self, article_id: str) -> tuple[int, str | None, str]:
        """Where an article is: its story, the member it duplicates (None: it is a member),
        and its label (its title, else its first sentence, else its id)."""
        entry = self._entries[article_id]
        return entry.story, entry.duplicate_of, entry.label

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
        self._put(entry, unit)
        return entry.story

    def remove(self, article_id: str) -> dict[str, str | None]:
        """Take an article out of its story (nothing else moves; see the module's docstring).
        Returns the articles whose ``duplicate_of`` changed, with its new value (None: now a
        member); an id not in the index changes nothing."""
        entry = self._entries.pop(article_id, None)
        if entry is None:
            return {}
        story, row = entry.story, self._row_of.pop(article_id)
        self._rows[row] = None
        self._articles[story].remove(article_id)
        changed: dict[str, str | None] = {}
        if entry.duplicate_of is None:
            self._members[story].remove(row)
            copies = [
                self._entries[i]
                for i in self._articles[story]
                if self._entries[i].duplicate_of == article_id
            ]
            if copies:
                heir = copies[0]
                heir.duplicate_of, changed[heir.article_id] = None, None
                self._members[story].append(self._row_of[heir.article_id])
                for copy in copies[1:]:
                    copy.duplicate_of = changed[copy.article_id] = heir.article_id
            self._sums[story] = self._vectors[sorted(self._members[story])].sum(
                axis=0, dtype=np.float64
            )
            self._set_centroid(story)
        self._spans[story] = None
        for other in self._articles[story]:
            self._extend_span(story, _ordinal(self._entries[other].published))
        return changed

    def stories(self) -> list[Story]:
        """Every story with an article, by id; each titled by its member closest to the
        centroid."""
        result = []
        for story, rows in enumerate(self._members):
            if not rows:
                continue
            central = rows[int(np.argmax(self._vectors[rows] @ self._sums[story]))]
            span = self._spans[story]
            entries = [self._entries[i] for i in self._articles[story]]
            result.append(
                Story(
                    story,
                    self._entries[self._rows[central]].label,
                    [e.article_id for e in entries if e.duplicate_of is None],
                    {e.article_id: e.duplicate_of for e in entries if e.duplicate_of is not None},
                    _iso(span[0]) if span else None,
                    _iso(span[1]) if span else None,
                    [
                        StoryArticle(e.article_id, e.label, e.published, None, e.duplicate_of)
                        for e in entries
                    ],
                )
            )
        return result

    def to_state(self) -> dict:
        """Everything needed to rebuild this index: JSON-able values and one numpy array
        (``vectors``, the articles' vectors in the order they were added, duplicates too)."""
        return {
            "version": STATE_VERSION,
            "dimension": self.dimension,
            "threshold": self.threshold,
            "window_days": self.window_days,
            "duplicate_threshold": self.duplicate_threshold,
            "stories": len(self._members),
            "articles": [
                [e.article_id, e.story, e.published, e.label, e.duplicate_of]
                for e in self._entries.values()
            ],
            "vectors": self._vectors[[self._row_of[i] for i in self._entries]].reshape(
                -1, self.dimension
            ),
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
        vectors = np.asarray(state["vectors"], dtype=np.float32).reshape(-1, index.dimension)
        if len(vectors) != len(state["articles"]):
            raise ValueError("a story index state needs one vector per article")
        for (article_id, story, published, label, duplicate_of), vector in zip(
            state["articles"], vectors
        ):
            index._put(_Entry(article_id, story, published, label, duplicate_of), vector)
        index._open(state.get("stories", 0) - 1)
        return index

    # -- internals --------------------------------------------------------------------------

    def _candidates(self, unit: np.ndarray) -> list[tuple[float, int]]:
        """The stories with the most similar centroids: (cosine, story), best first (an empty
        story's centroid is zero: never a candidate)."""
        count = min(CANDIDATES, self._centroids.ntotal)
        if not count:
            return []
        similarities, stories = self._centroids.search(unit[None, :], count)
        return [
            (float(s), int(i))
            for s, i in zip(similarities[0], stories[0])
            if i >= 0 and self._members[i]
        ]

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

    def _put(self, entry: _Entry, unit: np.ndarray) -> None:
        """Record a placed article: its vector row, and for a member (``duplicate_of`` None)
        its story's centroid updated; ``entry.story`` may be the next, new id."""
        row = len(self._rows)
        self._rows.append(entry.article_id)
        self._row_of[entry.article_id] = row
        self._vectors = _appended(self._vectors, row, unit)
        self._open(entry.story)
        if entry.duplicate_of is None:
            self._members[entry.story].append(row)
            self._sums[entry.story] += unit
            self._set_centroid(entry.story)
        self._articles[entry.story].append(entry.article_id)
        self._extend_span(entry.story, _ordinal(entry.published))
        self._entries[entry.article_id] = entry

    def _open(self, story: int) -> None:
        """Make the stories up to ``story`` exist (empty ones: zero centroids)."""
        while len(self._members) <= story:
            self._sums = _appended(self._sums, len(self._members), np.zeros(self.dimension))
            self._members.append([])
            self._articles.append([])
            self._spans.append(None)
            self._centroids.add(np.zeros((1, self.dimension), dtype=np.float32))

    def _set_centroid(self, story: int) -> None:
        """Write ``story``'s centroid row in place: its normalised sum (zero when empty)."""
        import faiss

        norm = np.linalg.norm(self._sums[story])
        centroid = self._sums[story] / norm if norm > 0 else np.zeros(self.dimension)
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
    texts = [
        grouping_texts(title, [s.text for s in split_sentences(text or "")])
        for title, text in articles
    ]
    vectors = embedder.encode([lead for lead, _ in texts] + [n for _, n in texts if n])
    named = iter(vectors[len(texts) :])
    return np.stack(
        [grouping_vector(lead, next(named) if n else None) for lead, (_, n) in zip(vectors, texts)]
    )


def grouping_texts(title: str | None, sentences: Sequence[str]) -> tuple[str, str]:
    """The two texts an article's grouping vector embeds (``article_vectors``): the title with
    the first ``LEAD_SENTENCES`` sentences, and the names ("" when it has none)."""
    lead = "\n".join(([title] if title else []) + list(sentences[:LEAD_SENTENCES]))
    if not lead.strip():
        raise ValueError("an article needs a title or a text to be grouped")
    return lead, " ".join(names(title, sentences)[:NAMES])


def grouping_vector(lead: np.ndarray, named: np.ndarray | None) -> np.ndarray:
    """The grouping vector from the embeddings of ``grouping_texts`` (``named``: None when the
    article has no names), for a caller that embeds them in its own batch."""
    combined = np.asarray(lead, dtype=np.float32) + (0.0 if named is None else named)
    return combined / np.linalg.norm(combined)


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
