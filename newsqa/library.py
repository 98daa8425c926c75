"""The article library: SQLite (WAL) holds everything; FAISS files are a checked, derived index.

Crash safety comes from one commit point. A write first saves the new FAISS index as a new,
fsynced file ``vectors-<generation>.faiss``, then commits the rows and the new generation and
checksum to SQLite in one transaction, then deletes the old file. A crash before the commit
leaves the old generation in force (the stray new file is removed on the next write); after it,
the new one. Readers take the generation from SQLite and check the file's sha256 before use.
Vectors are also kept in SQLite, so ``repair`` rebuilds a missing or damaged index without
re-embedding. One writer at a time: a file lock around every write.

Stories (``newsqa.stories``): each article's grouping vector, story and duplicate link are rows
of ``story_articles``, written in the same transaction as the article (or its removal). The
in-memory ``StoryIndex`` is rebuilt from those rows when another process has changed them (the
stored choices replayed, never made again). An article that has no row yet (a library made
before stories, an article added by ``newsqa add --ray``) is "ungrouped" until ``group`` places
it; ``NewsQA`` does so when it opens a library and before it lists stories.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from newsqa.chunk import Chunk, Sentence
from newsqa.errors import NotFoundError, UserError
from newsqa.index import HybridIndex, stored_ids
from newsqa.results import Article
from newsqa.stories import DUPLICATE_THRESHOLD, THRESHOLD, WINDOW_DAYS, Story, StoryIndex
from newsqa.stories import STATE_VERSION as STORY_STATE_VERSION

SCHEMA_VERSION = 3
"""1: the first schema. 2: ``articles.published`` (an ISO date or NULL), added to a version 1
library when it is opened (its articles stay, undated). 3: ``story_articles`` (each article's
story), created empty when an older library is opened: its articles are ungrouped until
``NewsQA`` groups them (once, in publication-date order)."""
LOCK_TIMEOUT_SECONDS = 60.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT, source TEXT NOT NULL, text TEXT NOT NULL,
    sentences BLOB NOT NULL, added_at REAL NOT NULL, published TEXT);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    number INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL, last_sentence INTEGER NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS story_articles (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL UNIQUE REFERENCES articles(id) ON DELETE CASCADE,
    story INTEGER NOT NULL, duplicate_of TEXT, label TEXT NOT NULL, vector BLOB NOT NULL);
"""


class LibraryDamaged(UserError):
    """The index file is missing or does not match its recorded checksum."""


class LibraryBusy(UserError):
    """Another process holds the write lock for longer than the timeout."""


@dataclass(frozen=True)
class NewArticle:
    """Everything a write needs for one article: made by ingest, chunk and embed."""

    article: Article
    sentences: list[Sentence]
    chunks: list[Chunk]
    vectors: np.ndarray
    embedder: str
    story_vector: np.ndarray | None = None
    """The article's grouping vector (``newsqa.stories.article_vector``); None: the article is
    stored ungrouped, for ``Library.group`` to place later."""


@dataclass(frozen=True)
class StoredChunk:
    article: Article
    sentences: list[Sentence]
    chunk: Chunk


@dataclass(frozen=True)
class Health:
    """What ``check`` found: ``ok`` when SQLite and the index agree."""

    ok: bool
    articles: int
    chunks: int
    indexed: int
    problems: list[str]


class Library:
    """Articles, sentences, chunks and vectors in SQLite; a FAISS + BM25 index over the chunks.

    ``path=None`` keeps everything in memory (nothing is written to disk).
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path).expanduser() if path is not None else None
        if self.path is not None:
            if self.path.exists() and not self.path.is_dir():
                raise UserError(f"{self.path} is a file; a library is a folder")
            self.path.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path / "library.sqlite3",
                timeout=30,
                isolation_level=None,
                check_same_thread=False,
            )
            self._db.execute("PRAGMA synchronous=FULL")
        else:
            self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._write_lock():
            if self.path is not None:
                # Switching to WAL needs the file to itself, and SQLite does not wait for that
                # ("database is locked" when two processes open a new library at once).
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
        self._index: HybridIndex | None = None
        self._index_generation: int | None = None
        self._stories: StoryIndex | None = None
        self._stories_generation: str | None = None

    def _migrate(self) -> None:
        """Bring a library made by an older newsqa to this schema (under the write lock; each
        step can run again after a crash, so a half-done migration finishes on the next open)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(articles)")}
        if "published" not in columns:  # version 1
            self._db.execute("ALTER TABLE articles ADD COLUMN published TEXT")
        self._db.execute("CREATE INDEX IF NOT EXISTS articles_by_published ON articles(published)")
        # version 2: _SCHEMA created story_articles empty; its articles are ungrouped (NewsQA
        # groups them when it opens the library)
        if int(self._meta("schema_version") or 0) < SCHEMA_VERSION:
            self._set_meta("schema_version", str(SCHEMA_VERSION))

    # -- metadata and locking ---------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path / "library.lock"))
        try:
            lock.acquire(timeout=LOCK_TIMEOUT_SECONDS)
        except Timeout:
            raise LibraryBusy(
                f"another newsqa process is writing to {self.path}; try again when it is done"
            ) from None
        try:
            yield
        finally:
            lock.release()

    @property
    def embedder(self) -> str | None:
        """The embedding model the stored vectors come from (None while empty)."""
        return self._meta("embedder")

    # -- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def articles(self, since: str | None = None, until: str | None = None) -> list[Article]:
        """The articles, oldest first; with ``since``/``until`` (ISO dates, inclusive) only
        those published in that range (an undated article is in no range)."""
        where, values = _published_in(since, until)
        rows = self._db.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a{where} ORDER BY added_at", values
        )
        return [Article(*row) for row in rows]

    def count(self, since: str | None = None, until: str | None = None) -> int:
        """How many articles ``articles(since, until)`` holds, without reading them."""
        where, values = _published_in(since, until)
        return self._db.execute(f"SELECT COUNT(*) FROM articles a{where}", values).fetchone()[0]

    def get(self, article_id: str) -> Article:
        row = self._db.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no article with id {article_id!r}")
        return Article(*row)

    def __contains__(self, article_id: str) -> bool:
        query = "SELECT 1 FROM articles WHERE id = ?"
        return self._db.execute(query, (article_id,)).fetchone() is not None

    def sentences(self, article_id: str) -> list[Sentence]:
        return self._sentences_of(self.get(article_id))

    def _sentences_of(self, article: Article) -> list[Sentence]:
        """The article's sentences from their stored offsets (the text is not read again)."""
        blob = self._db.execute(
            "SELECT sentences FROM articles WHERE id = ?", (article.id,)
        ).fetchone()[0]
        offsets = np.frombuffer(blob, dtype=np.int64).reshape(-1, 2)
        return [Sentence(article.text[a:b], int(a), int(b)) for a, b in offsets]

    def chunk_ids(self, article_id: str) -> list[int]:
        rows = self._db.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))
        return [row[0] for row in rows]

    def published_chunk_ids(self, since: str | None, until: str | None) -> set[int]:
        """The chunks of the articles published from ``since`` to ``until`` (inclusive)."""
        where, values = _published_in(since, until)
        rows = self._db.execute(
            f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id{where}", values
        )
        return {row[0] for row in rows}

    def stored_chunk(self, chunk_id: int) -> StoredChunk:
        row = self._db.execute(
            "SELECT article_id, start, end, first_sentence, last_sentence FROM chunks WHERE id = ?",
            (chunk_id,),
        ).fetchone()
        article = self.get(row[0])
        chunk = Chunk(article.text[row[1] : row[2]], row[1], row[2], row[3], row[4])
        return StoredChunk(article, self._sentences_of(article), chunk)

    def scope(
        self, article_id: str | None = None, since: str | None = None, until: str | None = None
    ) -> set[int] | None:
        """The chunk ids a search may return: one article's, those of the articles published
        from ``since`` to ``until`` (inclusive), both, or None for every chunk."""
        allowed = set(self.chunk_ids(article_id)) if article_id is not None else None
        if since is not None or until is not None:
            dated = self.published_chunk_ids(since, until)
            allowed = dated if allowed is None else allowed & dated
        return allowed

    def search(self, vector: np.ndarray, text: str, k: int, allowed: set[int] | None = None):
        """``(StoredChunk, Hit)`` pairs, best first, from every chunk or from ``allowed``
        (a ``scope``)."""
        index = self.index()
        hits = index.search(vector, text, k, allowed=allowed)
        if index.keywords_built and self.path is not None and index is self._index:
            self._save_keywords(index, self._index_generation)
        return [(self.stored_chunk(hit.chunk_id), hit) for hit in hits]

    def _save_keywords(self, index: HybridIndex, generation: int | None) -> None:
        """Keep the keyword index this process built beside its generation's vectors, so the
        next process reads it instead of building it again (seconds at 100,000 articles)."""
        index.keywords_built = False
        if generation:
            with suppress(OSError):  # a read-only library, a full disk: it is only a cache
                index.save_keywords(self._keywords_folder(generation))

    def _keywords_folder(self, generation: int) -> Path:
        assert self.path is not None
        return self.path / f"keywords-{generation}"

    # -- stories ----------------------------------------------------------------------------

    def stories(self, since: str | None = None, until: str | None = None) -> list[Story]:
        """The stories of the grouped articles, by id, each article with its source; with
        ``since``/``until`` (ISO dates, inclusive), those with an article published in that
        range, holding only such articles (``Story.within``)."""
        found = self.story_index().stories()
        where, values = _published_in(since, until)
        sources = dict(self._db.execute(f"SELECT a.id, a.source FROM articles a{where}", values))
        result = []
        for story in found:
            kept = story.within(since, until)
            if kept is not None:
                articles = [replace(a, source=sources.get(a.id)) for a in kept.articles]
                result.append(replace(kept, articles=articles))
        return result

    def story_index(self) -> StoryIndex:
        """The story index of the committed rows, rebuilt when another process changed them."""
        with self._snapshot():
            generation = self._meta("story_generation") or "0"
            if self._stories is None or generation != self._stories_generation:
                self._stories = self._loaded_stories()
                self._stories_generation = generation
        return self._stories

    def ungrouped_count(self) -> int:
        """How many articles are in no story yet (see ``group``)."""
        return self._db.execute(f"SELECT COUNT(*) FROM articles a WHERE {_UNGROUPED}").fetchone()[0]

    def ungrouped(self, limit: int) -> list[Article]:
        """Up to ``limit`` articles in no story yet, in the order to group them: by publication
        date (undated last), then as added."""
        rows = self._db.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a WHERE {_UNGROUPED} "
            "ORDER BY a.published IS NULL, a.published, a.added_at LIMIT ?",
            (limit,),
        )
        return [Article(*row) for row in rows]

    def _loaded_stories(self) -> StoryIndex:
        """The story index replayed from ``story_articles`` (in the order placed)."""
        rows = self._db.execute(
            "SELECT s.article_id, s.story, a.published, s.label, s.duplicate_of, s.vector "
            "FROM story_articles s JOIN articles a ON a.id = s.article_id ORDER BY s.seq"
        ).fetchall()
        placed = {row[0] for row in rows}
        articles = [
            # A duplicate whose member is gone (removed by a newsqa that knew no stories) is
            # a member: never an article silently left out of its story.
            [article_id, story, published, label, duplicate if duplicate in placed else None]
            for article_id, story, published, label, duplicate, _ in rows
        ]
        vectors = [np.frombuffer(row[5], dtype=np.float32) for row in rows]
        dimension = len(vectors[0]) if vectors else int(self._meta("dimension") or 384)
        return StoryIndex.from_state(
            {
                "version": STORY_STATE_VERSION,
                "dimension": dimension,
                "threshold": THRESHOLD,
                "window_days": WINDOW_DAYS,
                "duplicate_threshold": DUPLICATE_THRESHOLD,
                "stories": int(self._meta("story_count") or 0),
                "articles": articles,
                "vectors": np.stack(vectors) if vectors else np.zeros((0, dimension), np.float32),
            }
        )

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read transaction (WAL: a consistent view while writers commit), unless already
        inside one."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def index(self) -> HybridIndex:
        """The index of the committed generation, loaded (and checked) when it changed."""
        generation = int(self._meta("generation") or 0)
        if self._index is not None and generation == self._index_generation:
            return self._index
        if self.path is None or generation == 0:
            self._index = self._rebuilt_index()
        else:
            try:
                self._index = self._load_index(generation)
            except LibraryDamaged:
                newer = int(self._meta("generation") or 0)
                if newer == generation:  # not a writer replacing the file under us
                    raise
                return self.index()
        self._index_generation = generation
        return self._index

    def _load_index(self, generation: int) -> HybridIndex:
        import faiss

        file = self._index_file(generation)
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            raise LibraryDamaged(
                f"the index file {file.name} is missing; run `newsqa doctor` to rebuild it"
            ) from None
        if hashlib.sha256(data).hexdigest() != self._meta("checksum"):
            raise LibraryDamaged(
                f"the index file {file.name} is damaged; run `newsqa doctor` to rebuild it"
            )
        vectors = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        index = HybridIndex.from_faiss(vectors, self._chunk_texts())
        keywords = self._keywords_folder(generation)
        index.saved_keywords = keywords if keywords.is_dir() else None
        return index

    def _chunk_texts(self) -> dict[int, str]:
        texts: dict[int, str] = {}
        rows = self._db.execute(
            "SELECT c.id, substr(a.text, c.start + 1, c.end - c.start) FROM chunks c "
            "JOIN articles a ON a.id = c.article_id"
        )
        for chunk_id, text in rows:
            texts[chunk_id] = text
        return texts

    def _rebuilt_index(self) -> HybridIndex:
        """The index made afresh from the vectors stored in SQLite."""
        dimension = int(self._meta("dimension") or 384)
        index = HybridIndex(dimension)
        ids, vectors = [], []
        for chunk_id, blob in self._db.execute("SELECT id, vector FROM chunks ORDER BY id"):
            ids.append(chunk_id)
            vectors.append(np.frombuffer(blob, dtype=np.float32))
        texts = self._chunk_texts()
        if ids:
            index.add(ids, np.stack(vectors), [texts[i] for i in ids])
        return index

    # -- writing ----------------------------------------------------------------------------

    def add(self, batch: list[NewArticle]) -> list[bool]:
        """Store a batch of articles in one commit; per article, False if it was already there."""
        with self._write_lock():
            self._check_embedder(batch)
            index = self._current_index_for_write()
            if batch and self.embedder is None and index.dimension != batch[0].vectors.shape[1]:
                index = HybridIndex(batch[0].vectors.shape[1])  # empty: the embedder sets it
            fresh = [item for item in batch if item.article.id not in self]
            seen: set[str] = set()
            fresh = [i for i in fresh if not (i.article.id in seen or seen.add(i.article.id))]
            grouped = [item for item in fresh if item.story_vector is not None]
            stories = self._story_index_for(grouped[0].story_vector) if grouped else None
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for item in fresh:
                    ids = self._insert(item)
                    index.add(ids, item.vectors, [c.text for c in item.chunks])
                    if stories is not None and item.story_vector is not None:
                        self._place(stories, item.article, item.story_vector)
                if batch and self.embedder is None:
                    self._set_meta("embedder", batch[0].embedder)
                    self._set_meta("dimension", str(batch[0].vectors.shape[1]))
                generation = self._next_story_generation(stories) if grouped else None
                self._commit_index(index)
            except BaseException:
                self._db.execute("ROLLBACK")
                self._index = None  # the in-memory index saw uncommitted vectors
                self._stories = None  # and the story index uncommitted placements
                raise
            if generation is not None:
                self._stories_generation = generation
            added = {item.article.id for item in fresh}
            return [item.article.id in added for item in batch]

    def remove(self, article_ids: list[str]) -> None:
        """Remove articles, their chunks and their vectors, in one commit."""
        with self._write_lock():
            for article_id in article_ids:
                self.get(article_id)  # NotFoundError for an unknown id, before any change
            index = self._current_index_for_write()
            stories = self.story_index()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for article_id in article_ids:
                    index.remove(self.chunk_ids(article_id))
                    for other, duplicate_of in stories.remove(article_id).items():
                        self._db.execute(
                            "UPDATE story_articles SET duplicate_of = ? WHERE article_id = ?",
                            (duplicate_of, other),
                        )
                    self._db.execute(
                        "DELETE FROM story_articles WHERE article_id = ?", (article_id,)
                    )
                    self._db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
                    self._db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
                generation = self._next_story_generation(stories)
                self._commit_index(index)
            except BaseException:
                self._db.execute("ROLLBACK")
                self._index = None
                self._stories = None
                raise
            self._stories_generation = generation

    def group(self, placements: list[tuple[Article, np.ndarray]]) -> int:
        """Place ungrouped articles in stories, in the order given (each with its grouping
        vector), in one commit; returns how many were placed (an article already in a story, or
        removed meanwhile, is skipped)."""
        if not placements:
            return 0
        with self._write_lock():
            stories = self._story_index_for(placements[0][1])
            self._db.execute("BEGIN IMMEDIATE")
            try:
                placed = 0
                for article, vector in placements:
                    if article.id in stories or article.id not in self:
                        continue
                    self._place(stories, article, vector)
                    placed += 1
                generation = self._next_story_generation(stories)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._stories = None
                raise
            self._stories_generation = generation
            return placed

    def _story_index_for(self, vector: np.ndarray) -> StoryIndex:
        """The story index to place ``vector``-sized grouping vectors in (under the write lock):
        an empty one takes their size."""
        stories = self.story_index()
        size = int(np.asarray(vector).size)
        if len(stories) == 0 and stories.dimension != size:
            self._stories = stories = StoryIndex(size)
        return stories

    def _place(self, stories: StoryIndex, article: Article, vector: np.ndarray) -> None:
        """Place one article in ``stories`` and write its row (inside the caller's transaction)."""
        stories.add(article.id, vector, article.published, article.title, article.text)
        story, duplicate_of, label = stories.placement(article.id)
        self._db.execute(
            "INSERT INTO story_articles(article_id, story, duplicate_of, label, vector) "
            "VALUES (?, ?, ?, ?, ?)",
            (article.id, story, duplicate_of, label, _vector_bytes(stories, article.id)),
        )

    def _next_story_generation(self, stories: StoryIndex | None) -> str:
        """Record a change of the story rows (inside the caller's transaction): a new
        generation, and how many story ids were given out (never given again)."""
        generation = str(int(self._meta("story_generation") or 0) + 1)
        self._set_meta("story_generation", generation)
        if stories is not None:
            self._set_meta("story_count", str(stories.next_story))
        return generation

    def _check_embedder(self, batch: list[NewArticle]) -> None:
        for item in batch:
            if self.embedder is not None and item.embedder != self.embedder:
                raise UserError(
                    f"this library's vectors come from {self.embedder!r}, not "
                    f"{item.embedder!r}: run `newsqa reindex` to re-embed it"
                )

    def _current_index_for_write(self) -> HybridIndex:
        try:
            return self.index()
        except LibraryDamaged:
            raise LibraryDamaged(
                "the library's index is damaged; run `newsqa doctor` before adding or removing"
            ) from None

    def _insert(self, item: NewArticle) -> list[int]:
        article = item.article
        offsets = np.asarray([(s.start, s.end) for s in item.sentences], dtype=np.int64)
        self._db.execute(
            "INSERT INTO articles(id, title, source, text, sentences, added_at, published) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                article.id,
                article.title,
                article.source,
                article.text,
                offsets.tobytes(),
                time.time(),
                article.published,
            ),
        )
        ids = []
        for number, (chunk, vector) in enumerate(zip(item.chunks, item.vectors)):
            cursor = self._db.execute(
                "INSERT INTO chunks(article_id, number, start, end, first_sentence, "
                "last_sentence, vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    article.id,
                    number,
                    chunk.start,
                    chunk.end,
                    chunk.first_sentence,
                    chunk.last_sentence,
                    np.asarray(vector, dtype=np.float32).tobytes(),
                ),
            )
            ids.append(cursor.lastrowid)
        return ids

    def _commit_index(self, index: HybridIndex) -> None:
        """Write the index as the next generation, then commit it with the rows (one commit)."""
        old = int(self._meta("generation") or 0)
        new = old + 1
        if self.path is not None:
            import faiss

            data = faiss.serialize_index(index.vectors).tobytes()
            _write_synced(self._index_file(new), data)
            self._set_meta("checksum", hashlib.sha256(data).hexdigest())
        self._set_meta("generation", str(new))
        self._db.execute("COMMIT")
        self._index, self._index_generation = index, new
        self._remove_stale_index_files(keep=new)

    def _index_file(self, generation: int) -> Path:
        assert self.path is not None
        return self.path / f"vectors-{generation}.faiss"

    def _remove_stale_index_files(self, keep: int) -> None:
        if self.path is None:
            return
        for file in self.path.glob("vectors-*.faiss*"):
            if file.name != f"vectors-{keep}.faiss":
                file.unlink(missing_ok=True)
        for folder in self.path.glob("keywords-*"):
            shutil.rmtree(folder, ignore_errors=True)

    # -- health -----------------------------------------------------------------------------

    def check(self) -> Health:
        """Compare the index with SQLite: same chunk ids, a file that matches its checksum."""
        problems: list[str] = []
        articles = len(self)
        stored = {row[0] for row in self._db.execute("SELECT id FROM chunks")}
        self._index = None
        try:
            index = self.index()
            indexed = {int(i) for i in _faiss_ids(index)}
        except LibraryDamaged as error:
            problems.append(str(error).split(";")[0])
            indexed = set()
        if not problems and indexed != stored:
            problems.append(
                f"{len(stored - indexed)} chunks missing from the index, "
                f"{len(indexed - stored)} in the index but not stored"
            )
        orphans = self._db.execute(
            "SELECT COUNT(*) FROM articles a WHERE NOT EXISTS "
            "(SELECT 1 FROM chunks c WHERE c.article_id = a.id)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} articles have no chunks")
        integrity = self._db.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            problems.append(f"SQLite integrity check: {integrity}")
        problems += self._story_problems()
        return Health(not problems, articles, len(stored), len(indexed), problems)

    def _story_problems(self) -> list[str]:
        """What would make the story rows replay wrongly: grouping vectors of another size than
        the rest, story numbers never given out, a duplicate filed in another story than the
        article it copies."""
        problems = []
        sizes = [
            row[0] for row in self._db.execute("SELECT DISTINCT length(vector) FROM story_articles")
        ]
        if len(sizes) > 1 or any(size % 4 for size in sizes):
            problems.append(f"story rows hold grouping vectors of {len(sizes)} sizes")
        count = int(self._meta("story_count") or 0)
        beyond = self._db.execute(
            "SELECT COUNT(*) FROM story_articles WHERE story < 0 OR story >= ?", (count,)
        ).fetchone()[0]
        if beyond:
            problems.append(f"{beyond} story rows name a story never given out")
        astray = self._db.execute(
            "SELECT COUNT(*) FROM story_articles s JOIN story_articles t "
            "ON t.article_id = s.duplicate_of WHERE t.story != s.story"
        ).fetchone()[0]
        if astray:
            problems.append(f"{astray} duplicates filed in another story than their original")
        return problems

    def repair(self) -> Health:
        """Rebuild the index from the vectors stored in SQLite, as a new generation; when the
        story rows are damaged, drop them all, so that every article is grouped anew
        (``NewsQA.group_stories``, which ``newsqa doctor`` runs next)."""
        with self._write_lock():
            index = self._rebuilt_index()
            damaged_stories = bool(self._story_problems())
            self._db.execute("BEGIN IMMEDIATE")
            if damaged_stories:
                self._clear_stories()
            self._commit_index(index)
            self._stories = None
        return self.check()

    def _clear_stories(self) -> None:
        """Every article out of its story (inside the caller's transaction)."""
        self._db.execute("DELETE FROM story_articles")
        self._set_meta("story_count", "0")
        self._next_story_generation(None)

    def reset_vectors(self) -> list[tuple[str, list[str]]]:
        """For ``reindex``: every article's id and chunk texts, in chunk order."""
        result = []
        for article in self.articles():
            rows = self._db.execute(
                "SELECT start, end FROM chunks WHERE article_id = ? ORDER BY number", (article.id,)
            )
            result.append((article.id, [article.text[a:b] for a, b in rows]))
        return result

    def replace_vectors(self, vectors: dict[str, np.ndarray], embedder: str) -> None:
        """Store new vectors for every article (same chunks) and rebuild the index."""
        with self._write_lock():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for article_id, rows in vectors.items():
                    ids = [
                        r[0]
                        for r in self._db.execute(
                            "SELECT id FROM chunks WHERE article_id = ? ORDER BY number",
                            (article_id,),
                        )
                    ]
                    for chunk_id, vector in zip(ids, rows):
                        self._db.execute(
                            "UPDATE chunks SET vector = ? WHERE id = ?",
                            (np.asarray(vector, np.float32).tobytes(), chunk_id),
                        )
                self._set_meta("embedder", embedder)
                if vectors:
                    self._set_meta("dimension", str(next(iter(vectors.values())).shape[1]))
                # The grouping vectors came from the old embedder: every article is ungrouped,
                # for NewsQA.reindex to group again.
                self._clear_stories()
                self._commit_index(self._rebuilt_index())
            except BaseException:
                self._db.execute("ROLLBACK")
                self._stories = None
                raise
            self._stories = None

    def close(self) -> None:
        self._db.close()


_ARTICLE_COLUMNS = "id, title, text, source, published"
"""The columns of an :class:`Article`, in its fields' order."""
_UNGROUPED = "NOT EXISTS (SELECT 1 FROM story_articles s WHERE s.article_id = a.id)"
"""A WHERE test: article ``a`` is in no story yet."""


def _vector_bytes(stories: StoryIndex, article_id: str) -> bytes:
    """The unit grouping vector ``stories`` holds for an article, as stored."""
    return np.asarray(stories.vector_of(article_id), dtype=np.float32).tobytes()


def _published_in(since: str | None, until: str | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause on ``a.published`` for an ISO date range (either end open), and its
    values. ISO dates sort as text; NULL (undated) matches no range."""
    tests, values = [], []
    if since is not None:
        tests.append("a.published >= ?")
        values.append(since)
    if until is not None:
        tests.append("a.published <= ?")
        values.append(until)
    return (" WHERE " + " AND ".join(tests) if tests else ""), tuple(values)


def _faiss_ids(index: HybridIndex) -> np.ndarray:
    return stored_ids(index.vectors)


def _write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` durably: a temporary file, fsync, rename, fsync the folder."""
    temp = path.with_name(path.name + ".tmp")
    with temp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


__all__ = ["Health", "Library", "LibraryBusy", "LibraryDamaged", "NewArticle"]
