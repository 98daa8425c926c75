"""Stories as a product: real WikiNews articles (MultiLing 2011, ../shared/data) added to a real
library on disk with the bundled embedder; stories kept across reopening, adding, removing, an
old library's migration, and ``newsqa stories`` through the real CLI.

The articles are WikiNews texts (CC BY 2.5) from the TAC 2011 MultiLing pilot (CC BY 3.0).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import newsqa
from newsqa.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "multiling2011-en-events.jsonl.gz"
EVENTS = ("multiling2011-M001", "multiling2011-M002", "multiling2011-M005")
"""The London bombings of 2005, the British sailors Iran held in 2007 and the Chile earthquake
of 2010: three stories in date order (tests/test_stories.py)."""
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "NEWSQA_DEVICE": "cpu", "NEWSQA_NO_SERVER": "1"}


def _rows() -> list[dict]:
    with gzip.open(DATA, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    chosen = [row for row in _rows() if row["event"] in EVENTS]
    return sorted(chosen, key=lambda row: (row["date"] or "9999", row["id"]))


@pytest.fixture(scope="module")
def built(tmp_path_factory, articles):
    """A library of every article but the last, added one by one in date order; its folder,
    each article id's event, and its stories as the adding instance lists them."""
    folder = tmp_path_factory.mktemp("stories") / "library"
    qa = newsqa.NewsQA(path=str(folder), device="cpu")
    events = {}
    for article in articles[:-1]:
        added = qa.add_text(article["text"], title=article["title"], published=article["date"])
        events[added.id] = article["event"]
    stories = qa.stories()
    qa.library.close()
    return folder, events, stories


def _copy(built, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built[0], tmp_path / "library"))


def _members(stories) -> dict[int, set[str]]:
    return {s.id: set(s.article_ids) | set(s.duplicates) for s in stories}


def _add(qa, article: dict, text: str | None = None):
    return qa.add_text(text or article["text"], title=article["title"], published=article["date"])


def test_added_articles_form_their_stories_and_a_reopened_library_has_the_same(built, articles):
    folder, events, stories = built
    by_event: dict[str, set[str]] = {}
    for article_id, event in events.items():
        by_event.setdefault(event, set()).add(article_id)
    assert sorted(map(sorted, _members(stories).values())) == sorted(map(sorted, by_event.values()))
    dates = {a["title"]: a["date"] for a in articles}
    for story in stories:
        assert not story.duplicates
        assert [a.id for a in story.articles] == story.article_ids
        assert story.title in {a.title for a in story.articles}
        for article in story.articles:
            assert article.source == "text" and article.published == dates[article.title]
        assert (story.first, story.last) == (
            min(a.published for a in story.articles),
            max(a.published for a in story.articles),
        )
    reopened = newsqa.NewsQA(path=str(folder), device="cpu")
    assert reopened.stories() == stories
    assert reopened.library.ungrouped_count() == 0
    db = sqlite3.connect(folder / "library.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM story_articles").fetchone()[0] == len(events)
    db.close()


def test_since_until_lists_the_stories_with_articles_then(built):
    folder, _, stories = built
    qa = newsqa.NewsQA(path=str(folder), device="cpu")
    chile = next(s for s in stories if s.first.startswith("2010"))
    assert qa.stories(since="2010-01-01") == [chile]
    spring = qa.stories(since="2007-03-01", until="2007-04-30")
    assert len(spring) == 1 and spring[0].id not in (chile.id,)
    assert all("2007-03-01" <= a.published <= "2007-04-30" for a in spring[0].articles)
    assert (spring[0].first, spring[0].last) == (
        spring[0].articles[0].published,
        spring[0].articles[-1].published,
    )
    whole = next(s for s in stories if s.id == spring[0].id)
    assert len(spring[0].article_ids) < len(whole.article_ids)
    assert spring[0].title == whole.title  # the story's own title, from all its articles
    assert qa.stories(until="2004-12-31") == []
    with pytest.raises(InputError, match="since"):
        qa.stories(since="2010-02-30")


def test_adding_changes_only_the_story_joined_and_a_copy_is_a_duplicate(built, articles, tmp_path):
    folder = _copy(built, tmp_path)
    qa = newsqa.NewsQA(path=str(folder), device="cpu")
    before = {s.id: s for s in qa.stories()}
    added = _add(qa, articles[-1])
    after = {s.id: s for s in qa.stories()}
    joined = next(s for s in after.values() if added.id in s.article_ids)
    assert joined.id in before and before[joined.id].article_ids + [added.id] == joined.article_ids
    assert joined.last == articles[-1]["date"]
    assert {k: v for k, v in after.items() if k != joined.id} == {
        k: v for k, v in before.items() if k != joined.id
    }

    original = articles[5]
    copy = _add(qa, original, original["text"].rsplit("\n", 1)[0])  # its last paragraph cut
    (story,) = [s for s in qa.stories() if copy.id in s.duplicates]
    assert story.duplicates == {copy.id: _id_of(qa, original)}
    assert copy.id not in story.article_ids
    assert [a.duplicate_of for a in story.articles if a.id == copy.id] == [_id_of(qa, original)]
    assert newsqa.NewsQA(path=str(folder), device="cpu").stories() == qa.stories()


def test_removing_takes_an_article_out_of_its_story_and_keeps_ids(built, articles, tmp_path):
    folder = _copy(built, tmp_path)
    qa = newsqa.NewsQA(path=str(folder), device="cpu")
    original = articles[5]
    original_id = _id_of(qa, original)
    copy = _add(qa, original, original["text"].rsplit("\n", 1)[0])
    before = {s.id: s for s in qa.stories()}
    home = next(s for s in before.values() if original_id in s.article_ids)

    qa.remove(original_id)  # its duplicate takes its place as a member
    after = {s.id: s for s in qa.stories()}
    kept = [i for i in home.article_ids if i != original_id]
    assert after[home.id].article_ids == kept + [copy.id]  # in the order added
    assert after[home.id].duplicates == {}
    assert {k: v for k, v in after.items() if k != home.id} == {
        k: v for k, v in before.items() if k != home.id
    }

    last = max(before.values(), key=lambda s: s.id)  # empty a whole story
    qa.remove(*last.article_ids)
    assert last.id not in {s.id for s in qa.stories()}
    reopened = newsqa.NewsQA(path=str(folder), device="cpu")
    assert reopened.stories() == qa.stories()
    other = next(a for a in _rows() if a["event"] == "multiling2011-M003")  # another event
    for number, engine in enumerate((qa, reopened), 1):  # a story id is never given twice
        fresh = _add(engine, other)  # (reopened sees what qa did, and qa's emptied story)
        assert [s.id for s in engine.stories() if fresh.id in s.article_ids] == [last.id + number]
        engine.remove(fresh.id)
    assert reopened.library.check().ok


def _id_of(qa, article: dict) -> str:
    return next(a.id for a in qa.articles() if a.title == article["title"])


def test_an_in_memory_engine_groups_what_add_many_adds(articles, tmp_path):
    chosen = [a for a in articles if a["event"] != "multiling2011-M001"][::5]  # 2 + 2
    files = []
    for number, article in enumerate(chosen):
        files.append(tmp_path / f"{number}.txt")
        files[-1].write_text(article["title"] + "\n\n" + article["text"])
    qa = newsqa.NewsQA(device="cpu")
    results = [qa.add_many([str(f)], published=a["date"])[0] for f, a in zip(files, chosen)]
    stories = qa.stories()
    assert sorted(map(sorted, _members(stories).values())) == sorted(
        sorted(r.id for r, a in zip(results, chosen) if a["event"] == event)
        for event in {a["event"] for a in chosen}
    )
    assert {a.source for s in stories for a in s.articles} == {str(f) for f in files}
    qa.remove(results[0].id)
    assert results[0].id not in {a.id for s in qa.stories() for a in s.articles}


SCHEMA_2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles (
    id TEXT PRIMARY KEY, title TEXT, source TEXT NOT NULL, text TEXT NOT NULL,
    sentences BLOB NOT NULL, added_at REAL NOT NULL, published TEXT);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    number INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL, last_sentence INTEGER NOT NULL, vector BLOB NOT NULL);
CREATE INDEX chunks_by_article ON chunks(article_id);
CREATE INDEX articles_by_published ON articles(published);
"""
"""Schema version 2, as newsqa wrote it before stories."""


def _schema_2_library(folder: Path, source: Path) -> None:
    """A version 2 library holding ``source``'s articles, chunks and index file, laid out as
    that version wrote them (no story rows, no story metadata)."""
    folder.mkdir()
    db = sqlite3.connect(folder / "library.sqlite3")
    db.executescript(SCHEMA_2)
    db.execute("ATTACH DATABASE ? AS old", (str(source / "library.sqlite3"),))
    db.execute(
        "INSERT INTO articles SELECT id, title, source, text, sentences, added_at, published "
        "FROM old.articles"
    )
    db.execute("INSERT INTO chunks SELECT * FROM old.chunks")
    meta = dict(db.execute("SELECT key, value FROM old.meta"))
    (index_file,) = source.glob("vectors-*.faiss")
    data = index_file.read_bytes()
    assert hashlib.sha256(data).hexdigest() == meta["checksum"]
    (folder / index_file.name).write_bytes(data)
    db.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?)",
        [("schema_version", "2")]
        + [(k, meta[k]) for k in ("embedder", "dimension", "generation", "checksum")],
    )
    db.commit()
    db.execute("DETACH DATABASE old")
    db.close()


def test_a_schema_2_library_gets_its_stories_when_opened(built, tmp_path):
    folder = tmp_path / "old"
    _schema_2_library(folder, built[0])
    qa = newsqa.NewsQA(path=str(folder), device="cpu")
    assert qa.library.ungrouped_count() == 0
    stories = qa.stories()
    assert _members(stories) == _members(built[2])
    assert [s.title for s in stories] == [s.title for s in built[2]]
    assert qa.library.check().ok
    db = sqlite3.connect(folder / "library.sqlite3")
    version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    generation = db.execute("SELECT value FROM meta WHERE key = 'story_generation'").fetchone()
    db.close()
    assert version == "3"
    again = newsqa.NewsQA(path=str(folder), device="cpu")  # grouped once: nothing changes
    assert again.stories() == stories
    db = sqlite3.connect(folder / "library.sqlite3")
    assert db.execute("SELECT value FROM meta WHERE key = 'story_generation'").fetchone() == (
        generation
    )
    db.close()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsqa.cli", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


def test_newsqa_stories_json_and_text(built):
    folder, _, stories = built
    result = cli("--library", str(folder), "stories", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [s.to_dict() for s in stories]
    chile = next(s for s in stories if s.first.startswith("2010"))
    result = cli("stories", "--since", "2010-01-01", "--library", str(folder))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"story {chile.id}: {chile.title}  ({chile.first} to {chile.last}, "
        f"{len(chile.article_ids)} articles)"
    )
    assert lines[1:] == [f"  {a.id}  {a.published}  {a.title}" for a in chile.articles]


def test_newsqa_stories_bad_dates_are_one_line_and_help_teaches(tmp_path):
    for args, message in (
        (["--since", "July 2021"], "--since must be a date as YYYY-MM-DD"),
        (["--since", "2021-08-01", "--until", "2021-07-01"], "after until"),
    ):
        result = cli("--library", str(tmp_path / "none"), "stories", *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith("error:") and message in errors[0]
    assert not (tmp_path / "none").exists()
    helped = cli("stories", "--help").stdout
    assert "newsqa stories --since 2021-07-01" in helped and "--json" in helped
    empty = cli("--library", str(tmp_path / "none"), "stories", "--json")
    assert empty.returncode == 0 and json.loads(empty.stdout) == []
    assert not (tmp_path / "none").exists()


def test_doctor_finds_damaged_story_rows_and_groups_the_articles_anew(built, tmp_path):
    folder = _copy(built, tmp_path)
    db = sqlite3.connect(folder / "library.sqlite3")
    first, second = db.execute("SELECT article_id FROM story_articles LIMIT 2").fetchall()
    db.execute("UPDATE story_articles SET vector = x'00000000' WHERE article_id = ?", first)
    db.execute("UPDATE story_articles SET story = 999 WHERE article_id = ?", second)
    db.commit()
    db.close()
    from newsqa.library import Library

    problems = Library(folder).check().problems
    assert any("grouping vectors of 2 sizes" in p for p in problems), problems
    assert any("1 story rows name a story never given out" in p for p in problems), problems
    result = cli("--library", str(folder), "doctor")
    assert result.returncode == 0, result.stderr
    assert f"{len(built[1])} articles grouped into stories anew" in result.stdout
    assert "problem: story rows hold grouping vectors" in result.stderr
    qa = newsqa.NewsQA(path=str(folder), device="cpu")
    assert qa.library.check().ok and qa.library.ungrouped_count() == 0
    assert _members(qa.stories()) == _members(built[2])
    assert cli("--library", str(folder), "doctor").stdout.startswith("ok:")
