"""Stories: real WikiNews articles (MultiLing 2011, ../shared/data), the bundled embedder.

The articles are WikiNews texts (CC BY 2.5) from the TAC 2011 MultiLing pilot (CC BY 3.0).
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from newsqa.embed import Embedder
from newsqa.stories import StoryIndex, article_vector, article_vectors, names

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "multiling2011-en-events.jsonl.gz"
EVENTS = ("multiling2011-M001", "multiling2011-M002", "multiling2011-M005")
"""The London bombings of 2005 (articles from 2005 to 2009), the British sailors Iran held in
2007 and the Chile earthquake of 2010. Chosen to be sensitive: with the default settings they
make exactly their three stories in date order, but a threshold of 0.35 or 0.55, or vectors
without the names, mix or split them (MultiLing's 2004 tsunami and 2008 Olympics are split
even with the defaults: benchmarks/eval_stories.py)."""


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    with gzip.open(DATA, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    chosen = [row for row in rows if row["event"] in EVENTS]
    return sorted(chosen, key=lambda row: (row["date"] or "9999", row["id"]))


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def vectors(embedder, articles) -> np.ndarray:
    return article_vectors(embedder, [(a["title"], a["text"]) for a in articles])


def filled(articles, vectors, **settings) -> StoryIndex:
    index = StoryIndex(**settings)
    for article, vector in zip(articles, vectors):
        index.add(article["id"], vector, article["date"], article["title"], article["text"])
    return index


def memberships(index: StoryIndex) -> dict[int, set[str]]:
    return {story.id: set(story.article_ids) | set(story.duplicates) for story in index.stories()}


def test_articles_of_three_events_make_three_stories(articles, vectors):
    index = filled(articles, vectors)
    by_event = defaultdict(set)
    for article in articles:
        by_event[article["event"]].add(article["id"])
    assert sorted(map(sorted, memberships(index).values())) == sorted(
        map(sorted, by_event.values())
    )
    titles = {a["id"]: a["title"].strip() for a in articles}
    for story in index.stories():
        assert story.title in {" ".join(titles[i].split()) for i in story.article_ids}
        dates = [a["date"] for a in articles if a["id"] in story.article_ids and a["date"]]
        assert (story.first, story.last) == (min(dates), max(dates))


def test_the_order_of_adding_does_not_split_an_event(articles, vectors):
    order = np.random.default_rng(7).permutation(len(articles))
    index = filled([articles[i] for i in order], vectors[order])
    events = {a["id"]: a["event"] for a in articles}
    for members in memberships(index).values():
        assert len({events[m] for m in members}) == 1
    assert len(index.stories()) <= 4


def test_a_repeated_article_is_recorded_as_a_duplicate(embedder, articles, vectors):
    index = filled(articles, vectors)
    original = articles[5]
    text = original["text"].rsplit("\n", 1)[0]  # the same copy, its last paragraph cut
    copy = article_vector(embedder, original["title"], text)
    assert float(copy @ vectors[5]) > 0.95
    story = index.add("copy", copy, original["date"], original["title"], text)
    assert story == index.story_of(original["id"])
    found = index.stories()[story]
    assert found.duplicates == {"copy": original["id"]}
    assert "copy" not in found.article_ids
    again = index.add("copy", copy)  # the same id again: nothing changes
    assert again == story and len(index) == len(articles) + 1


def test_adding_changes_only_the_story_it_joins(articles, vectors):
    index = filled(articles[:-6], vectors[:-6])
    for article, vector in zip(articles[-6:], vectors[-6:]):
        before = memberships(index)
        story = index.add(article["id"], vector, article["date"], article["title"])
        after = memberships(index)
        assert after[story] == before.get(story, set()) | {article["id"]}
        assert {k: v for k, v in after.items() if k != story} == {
            k: v for k, v in before.items() if k != story
        }


def test_state_round_trips(articles, vectors):
    index = filled(articles[:20], vectors[:20])
    state = index.to_state()
    plain = {key: value for key, value in state.items() if key != "vectors"}
    restored = StoryIndex.from_state({**json.loads(json.dumps(plain)), "vectors": state["vectors"]})
    assert restored.stories() == index.stories()
    for article, vector in zip(articles[20:], vectors[20:]):
        expected = index.add(article["id"], vector, article["date"], article["title"])
        assert restored.add(article["id"], vector, article["date"], article["title"]) == expected
    assert restored.stories() == index.stories()
    with pytest.raises(ValueError, match="version"):
        StoryIndex.from_state({**state, "version": 99})


def test_a_date_outside_the_window_opens_a_new_story(articles, vectors):
    pair = [i for i, a in enumerate(articles) if a["event"] == "multiling2011-M002"][:2]
    first, second = (articles[i] for i in pair)
    start = date.fromisoformat(first["date"])
    for window, dated, together in (
        (14, start + timedelta(days=10), True),  # within 14 days of the first
        (14, start + timedelta(days=365), False),  # a year later: another story
        (None, start + timedelta(days=365), True),  # no date gate
        (14, None, True),  # undated: no gate
    ):
        index = StoryIndex(window_days=window)
        one = index.add(first["id"], vectors[pair[0]], first["date"], first["title"])
        two = index.add(second["id"], vectors[pair[1]], dated, second["title"])
        assert (one == two) is together, (window, dated)


def test_article_vectors_and_names(embedder, articles, vectors):
    assert vectors.shape == (len(articles), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    single = article_vector(embedder, articles[0]["title"], articles[0]["text"])
    np.testing.assert_allclose(single, vectors[0], atol=1e-5)
    found = names(
        "Air France jet with 228 on board goes missing",
        [
            "Monday, June 1, 2009",
            "An Air France Airbus A330 flying from Rio de Janeiro to Paris went missing.",
            "According to Air France, the plane sent an automatic message.",
        ],
    )
    assert found[:2] == ["Air", "France"]
    assert {"Airbus", "Rio", "Janeiro", "Paris"} <= set(found)
    assert not {"Monday", "June", "According", "An"} & set(found)
    with pytest.raises(ValueError):
        article_vector(embedder, None, "")


def test_a_vector_of_the_wrong_size_is_refused():
    index = StoryIndex(dimension=384)
    with pytest.raises(ValueError, match="384"):
        index.add("a", np.ones(100, dtype=np.float32))
    with pytest.raises(ValueError, match="direction"):
        index.add("a", np.zeros(384, dtype=np.float32))
    assert len(index) == 0 and index.stories() == []


def test_removing_changes_only_its_story_and_the_state_keeps_it(articles, vectors):
    index = filled(articles, vectors)
    original = articles[5]
    index.add("copy", vectors[5], original["date"], original["title"])  # the same vector twice
    story = index.story_of(original["id"])
    before = memberships(index)
    assert index.remove(original["id"]) == {"copy": None}  # the duplicate becomes a member
    after = memberships(index)
    assert after[story] == before[story] - {original["id"]}
    assert {k: v for k, v in after.items() if k != story} == {
        k: v for k, v in before.items() if k != story
    }
    found = index.stories()[story]
    assert "copy" in found.article_ids and not found.duplicates
    rows = [i for i, a in enumerate(articles) if a["id"] in found.article_ids]
    centroid = vectors[rows].sum(axis=0) + vectors[5]  # the centroid of what is left
    titles = {a["id"]: a["title"] for a in articles} | {"copy": original["title"]}
    central = max(found.article_ids, key=lambda i: float(index.vector_of(i) @ centroid))
    assert found.title == " ".join(titles[central].split())

    last = max(after)  # a story emptied is not listed, and its id is never given again
    for article_id in after[last]:
        index.remove(article_id)
    assert last not in memberships(index) and index.next_story == last + 1
    assert index.remove("no such article") == {}
    restored = StoryIndex.from_state(index.to_state())
    assert restored.stories() == index.stories() and restored.next_story == index.next_story
    for each in (index, restored):
        assert each.add("elsewhere", -vectors[0]) == last + 1
