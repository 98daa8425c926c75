"""Shared fixtures: real models, real text (the seed article and ../shared/data)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEED = SHARED / "seed" / "article.txt"


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def squad_dev() -> list[dict]:
    """The public SQuAD v2 dev articles (for measuring and testing, never for training)."""
    return json.loads((SHARED / "data" / "squad2-dev-public.json").read_text())["data"]


@pytest.fixture(scope="session")
def cnndm_articles() -> list[dict]:
    rows = [json.loads(line) for line in (SHARED / "data" / "summ-dev-public.jsonl").open()]
    return [r for r in rows if r["source"] == "cnndm"]


@pytest.fixture(scope="session")
def qa():
    """One NewsQA with the bundled models and the seed article, shared by the API tests."""
    import newsqa

    engine = newsqa.NewsQA(device="cpu")
    engine.add(str(SEED))
    return engine


STORY_EVENTS = ("multiling2011-M001", "multiling2011-M005")
"""The London bombings of 2005 and the Chile earthquake of 2010 (MultiLing 2011, WikiNews
articles under CC BY 2.5)."""


@pytest.fixture(scope="session")
def story_library(tmp_path_factory):
    """A library on disk holding both events' articles, added in date order: its folder, the
    engine, each article id's event, and the stories."""
    import gzip

    import newsqa

    data = SHARED / "data" / "multiling2011-en-events.jsonl.gz"
    with gzip.open(data, "rt", encoding="utf-8") as lines:
        rows = [row for row in map(json.loads, lines) if row["event"] in STORY_EVENTS]
    folder = tmp_path_factory.mktemp("story-library") / "library"
    engine = newsqa.NewsQA(path=str(folder), device="cpu")
    events = {}
    for row in sorted(rows, key=lambda r: (r["date"] or "9999", r["id"])):
        article = engine.add_text(row["text"], title=row["title"], published=row["date"])
        events[article.id] = row["event"]
    return folder, engine, events, engine.stories()


def chile_story(stories, events):
    """Of ``story_library``'s stories, the one most of whose articles report the Chile
    earthquake."""
    return max(stories, key=lambda s: sum(events[a] == "multiling2011-M005" for a in s.article_ids))
