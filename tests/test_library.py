"""The persistent library: add, ask across, remove, duplicates, crashes, two writers, damage."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import newsqa
from newsqa.ingest import load
from newsqa.library import Library, LibraryDamaged

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "NEWSQA_DEVICE": "cpu"}


@pytest.fixture(scope="module")
def paragraphs(squad_dev) -> list[str]:
    """Real text: each public SQuAD dev paragraph is an article here."""
    return [p["context"] for article in squad_dev for p in article["paragraphs"]]


@pytest.fixture(scope="module")
def engine(tmp_path_factory, squad_dev, seed_text):
    qa = newsqa.NewsQA(path=str(tmp_path_factory.mktemp("library")), device="cpu")
    qa.add(seed_text)
    for article in squad_dev[:2]:
        qa.add("\n\n".join(p["context"] for p in article["paragraphs"]), title=article["title"])
    return qa


def test_retrieval_across_articles_finds_the_right_one(engine, squad_dev):
    seed_id = engine.articles()[0].id
    found = engine.retrieve("how many Afghan soldiers crossed the border?", None, 3)
    assert found[0].article_id == seed_id
    first_title = squad_dev[0]["title"]
    question = squad_dev[0]["paragraphs"][0]["qas"][0]["question"]
    found = engine.retrieve(question, None, 3)
    assert found[0].title == first_title


def test_ask_across_articles_answers_from_the_seed(engine):
    answer = engine.ask("how many members of the Afghanistan forces crossed the border?")
    assert answer.answerable and "46" in answer.text
    assert answer.evidence[0].article_id == engine.articles()[0].id


def test_duplicate_add_is_skipped(engine, seed_text):
    before = len(engine.articles())
    again = engine.add(seed_text)
    assert again.id == engine.articles()[0].id
    assert len(engine.articles()) == before


def test_removed_article_never_comes_back(tmp_path, paragraphs):
    qa = newsqa.NewsQA(path=str(tmp_path), device="cpu")
    added = [qa.add(text) for text in paragraphs[:6]]
    size = len(qa.library.index())
    victim = added[2]
    qa.remove(victim.id)
    assert len(qa.library.index()) < size
    reopened = newsqa.NewsQA(path=str(tmp_path), device="cpu")
    assert victim.id not in {a.id for a in reopened.articles()}
    first_sentence = victim.text.split(". ")[0]
    for passage in reopened.retrieve(first_sentence, None, 10):
        assert passage.article_id != victim.id
        assert first_sentence not in passage.chunk.text
    assert reopened.library.check().ok


def test_the_keyword_index_is_saved_once_and_read_by_the_next_process(tmp_path, paragraphs):
    qa = newsqa.NewsQA(path=str(tmp_path), device="cpu")
    for text in paragraphs[:8]:
        qa.add(text)
    question = paragraphs[5].split(". ")[0]
    built = [(p.article_id, p.chunk.start) for p in qa.retrieve(question, None, 5)]
    generation = qa.library._index_generation
    assert [f.name for f in tmp_path.glob("keywords-*")] == [f"keywords-{generation}"]

    reopened = newsqa.NewsQA(path=str(tmp_path), device="cpu")
    index = reopened.library.index()
    assert index.saved_keywords == tmp_path / f"keywords-{generation}"
    read = [(p.article_id, p.chunk.start) for p in reopened.retrieve(question, None, 5)]
    assert read == built and not index.keywords_built  # read from disk, not built again

    reopened.add(paragraphs[8])  # a new generation: the saved keywords no longer fit
    assert not list(tmp_path.glob("keywords-*"))
    newest = paragraphs[8].split(". ")[0]
    assert reopened.retrieve(newest, None, 1)[0].chunk.text in paragraphs[8]
    assert len(list(tmp_path.glob("keywords-*"))) == 1

    for file in next(tmp_path.glob("keywords-*")).glob("*.npy"):
        file.write_bytes(b"damaged")
    again = newsqa.NewsQA(path=str(tmp_path), device="cpu")
    assert again.retrieve(newest, None, 1)[0].chunk.text in paragraphs[8]  # built afresh
    assert (next(tmp_path.glob("keywords-*")) / "chunk_ids.npy").read_bytes() != b"damaged"


CHILD = """
import sys, json
import newsqa
qa = newsqa.NewsQA(path=sys.argv[1], device="cpu")
texts = json.load(open(sys.argv[2]))
prepared = [qa.prepare(t) for t in texts]
print("READY", flush=True)
for item in prepared:
    qa.library.add([item])
    print("ADDED", item.article.id, flush=True)
"""


def _child(library: Path, texts: list[str], tmp_path: Path, name: str) -> subprocess.Popen:
    source = tmp_path / f"{name}.json"
    source.write_text(json.dumps(texts))
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(library), str(source)],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def test_sigkill_at_random_points_never_leaves_a_half_added_article(tmp_path, paragraphs):
    library = tmp_path / "library"
    rng = random.Random(7)
    reported: dict[str, str] = {}
    texts_by_id = {}
    for trial in range(10):
        texts = rng.sample(paragraphs, 40)
        child = _child(library, texts, tmp_path, f"trial{trial}")
        assert child.stdout.readline().strip() == "READY"
        time.sleep(rng.uniform(0.05, 1.5))
        child.send_signal(signal.SIGKILL)
        output, _ = child.communicate()
        for line in output.splitlines():
            if line.startswith("ADDED"):
                reported[line.split()[1]] = ""
        texts_by_id.update({_id(t): load(t).text for t in texts})
    store = Library(library)
    health = store.check()
    assert health.ok, health.problems
    assert reported, "no kill landed after an add: the test proved nothing"
    stored = {a.id: a for a in store.articles()}
    for article_id in reported:
        assert stored[article_id].text == texts_by_id[article_id]
    for article_id, article in stored.items():  # present means whole: text, chunks, vectors
        assert article.text == texts_by_id[article_id]
        assert store.chunk_ids(article_id)
    qa = newsqa.NewsQA(path=str(library), device="cpu")
    some = rng.choice(sorted(reported))
    opening = stored[some].text[:200]
    assert some in {p.article_id for p in qa.retrieve(opening, None, 5)}


def test_two_writers_at_once_store_every_article_exactly_once(tmp_path, paragraphs):
    library = tmp_path / "library"
    first, second = paragraphs[100:130], paragraphs[120:150]  # ten articles in both
    children = [_child(library, first, tmp_path, "one"), _child(library, second, tmp_path, "two")]
    for child in children:
        child.communicate(timeout=300)
        assert child.returncode == 0
    store = Library(library)
    ids = [a.id for a in store.articles()]
    assert len(ids) == len(set(ids)) == 50
    assert store.check().ok


def test_damaged_index_is_reported_and_doctor_rebuilds_it(tmp_path, paragraphs):
    library = tmp_path / "library"
    qa = newsqa.NewsQA(path=str(library), device="cpu")
    added = [qa.add(text) for text in paragraphs[200:210]]
    (index_file,) = library.glob("vectors-*.faiss")
    index_file.write_bytes(index_file.read_bytes()[: index_file.stat().st_size // 2])
    with pytest.raises(LibraryDamaged, match="doctor"):
        newsqa.NewsQA(path=str(library), device="cpu").retrieve("anything", None, 3)
    result = subprocess.run(
        [sys.executable, "-m", "newsqa.cli", "--library", str(library), "ask", "what happened?"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert result.returncode == 2 and "newsqa doctor" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "newsqa.cli", "--library", str(library), "doctor"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert result.returncode == 0 and "repaired" in result.stdout, result.stderr
    store = Library(library)
    assert store.check().ok
    assert {a.id for a in added} == {a.id for a in store.articles()}
    opening = added[3].text[:200]
    qa = newsqa.NewsQA(path=str(library), device="cpu")
    assert qa.retrieve(opening, None, 1)[0].article_id == added[3].id


def _id(text: str) -> str:
    import hashlib

    return hashlib.sha256(load(text).text.encode("utf-8")).hexdigest()[:12]


def test_a_fresh_library_takes_the_dimension_of_its_first_vectors(tmp_path, seed_text):
    """A wider embedder (all-mpnet-base-v2 gives 768 numbers) must work on a new library."""
    import numpy as np

    from newsqa.library import NewArticle

    engine = newsqa.NewsQA(path=str(tmp_path / "wide"), device="cpu")
    prepared = engine.prepare(seed_text)
    wide = np.hstack([prepared.vectors, prepared.vectors[::-1]]) / np.sqrt(2)
    library = Library(tmp_path / "wide")
    assert library.add(
        [
            NewArticle(
                prepared.article,
                prepared.sentences,
                prepared.chunks,
                wide.astype(np.float32),
                "wide-embedder",
            )
        ]
    ) == [True]
    hits = library.search(wide[3], "", 1)
    assert hits[0][1].chunk_id == library.chunk_ids(prepared.article.id)[3]
    assert Library(tmp_path / "wide").index().dimension == 768


OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT, source TEXT NOT NULL, text TEXT NOT NULL,
    sentences BLOB NOT NULL, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    number INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL, last_sentence INTEGER NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id);
"""
"""Schema version 1, as newsqa wrote it before articles had a publication date."""


def _old_library(folder: Path, prepared) -> None:
    """A version 1 library holding one article, laid out as that version wrote it: the rows,
    and the index file of generation 1 with its checksum."""
    import hashlib
    import sqlite3

    import faiss
    import numpy as np

    from newsqa.index import HybridIndex

    folder.mkdir()
    db = sqlite3.connect(folder / "library.sqlite3")
    db.executescript(OLD_SCHEMA)
    article = prepared.article
    offsets = np.asarray([(s.start, s.end) for s in prepared.sentences], dtype=np.int64)
    db.execute(
        "INSERT INTO articles(id, title, source, text, sentences, added_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (article.id, article.title, article.source, article.text, offsets.tobytes(), time.time()),
    )
    ids = []
    for number, (chunk, vector) in enumerate(zip(prepared.chunks, prepared.vectors)):
        cursor = db.execute(
            "INSERT INTO chunks(article_id, number, start, end, first_sentence, last_sentence, "
            "vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
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
    index = HybridIndex(prepared.vectors.shape[1])
    index.add(ids, prepared.vectors, [c.text for c in prepared.chunks])
    data = faiss.serialize_index(index.vectors).tobytes()
    (folder / "vectors-1.faiss").write_bytes(data)
    meta = {
        "schema_version": "1",
        "embedder": prepared.embedder,
        "dimension": str(prepared.vectors.shape[1]),
        "generation": "1",
        "checksum": hashlib.sha256(data).hexdigest(),
    }
    db.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
    db.commit()
    db.close()


def test_a_library_of_the_first_schema_opens_migrated_and_keeps_working(
    tmp_path, seed_text, paragraphs
):
    import sqlite3

    folder = tmp_path / "old"
    prepared = newsqa.NewsQA(device="cpu").prepare(seed_text)
    _old_library(folder, prepared)

    qa = newsqa.NewsQA(path=str(folder), device="cpu")
    assert [(a.id, a.published) for a in qa.articles()] == [(prepared.article.id, None)]
    assert qa.library.check().ok
    answer = qa.ask("how many members of the Afghanistan forces crossed the border?")
    assert "46" in answer.text and answer.evidence[0].article_id == prepared.article.id
    dated = qa.add_text(paragraphs[0], published="2015-06-01")
    assert dated.published == "2015-06-01"
    assert [a.id for a in qa.articles(since="2000-01-01")] == [dated.id]  # the old one: undated

    db = sqlite3.connect(folder / "library.sqlite3")
    columns = [row[1] for row in db.execute("PRAGMA table_info(articles)")]
    version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    db.close()
    assert "published" in columns and version == "3"  # and on to stories (3)
    assert {a.id for s in qa.stories() for a in s.articles} == {prepared.article.id, dated.id}
    again = newsqa.NewsQA(path=str(folder), device="cpu")  # a second open changes nothing
    assert [a.published for a in again.articles()] == [None, "2015-06-01"]
    assert again.library.check().ok
