"""A story's summary across its articles, on real WikiNews articles (MultiLing 2011, in
../shared/data) in a real library: through the API, the CLI and the server on loopback.

The articles are WikiNews texts (CC BY 2.5) from the TAC 2011 MultiLing pilot (CC BY 3.0),
in the ``story_library`` fixture (conftest.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import chile_story

from newsqa.errors import InputError, NotFoundError
from newsqa.faithful import unsupported_entities
from newsqa.story_summary import REPEAT_LIKENESS, story_lines

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "NEWSQA_DEVICE": "cpu", "NEWSQA_NO_SERVER": "1"}


def test_a_story_summary_cites_its_articles_in_time_order_without_repeats(story_library):
    folder, qa, events, stories = story_library
    story = chile_story(stories, events)
    summary = qa.summarize_story(story.id)
    assert 150 <= len(summary.text.split()) <= 250
    assert len(summary.sentences) == len(summary.evidence) >= 5
    assert summary.text == " ".join(summary.sentences)
    cited = {e.article_id for e in summary.evidence}
    assert cited <= set(story.article_ids) and len(cited) >= 3  # across sources
    articles = {a.id: qa.library.get(a.id) for a in story.articles}
    for line, evidence in zip(summary.sentences, summary.evidence):
        article = articles[evidence.article_id]
        assert article.text[evidence.start : evidence.end] == evidence.sentence
        assert set(re.findall(r"\w+", line)) <= set(re.findall(r"\w+", evidence.sentence))
        assert unsupported_entities(line, article.text)[1] == 0
    dates = [articles[e.article_id].published or "9999" for e in summary.evidence]
    assert dates == sorted(dates)
    vectors = qa.embedder.encode(summary.sentences)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    likeness = vectors @ vectors.T - 2 * np.eye(len(vectors))
    assert likeness.max() < REPEAT_LIKENESS + 0.05  # trimmed sentences embed a little apart


def test_a_story_summary_is_the_summary_of_its_articles_and_keeps_to_the_budget(story_library):
    _, qa, events, stories = story_library
    story = chile_story(stories, events)
    assert qa.summarize_story(articles=story.article_ids) == qa.summarize_story(story.id)
    short = qa.summarize_story(story.id, max_words=60)
    assert 30 <= len(short.text.split()) <= 60
    lines = story_lines(
        [(qa.library.get(i), qa.library.sentences(i)) for i in story.article_ids],
        qa.embedder.encode,
        max_words=60,
    )
    assert [line for line, _, _ in lines] == short.sentences


def test_bad_story_requests_are_user_errors(story_library):
    _, qa, _, stories = story_library
    with pytest.raises(NotFoundError, match="no story 999"):
        qa.summarize_story(999)
    with pytest.raises(InputError):
        qa.summarize_story()
    with pytest.raises(InputError):
        qa.summarize_story(stories[0].id, articles=stories[0].article_ids)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsqa.cli", *args], env=ENV, capture_output=True, text=True
    )


def test_newsqa_summarize_story_prints_each_sentence_with_its_source(story_library):
    folder, qa, events, stories = story_library
    story = chile_story(stories, events)
    expected = qa.summarize_story(story.id)
    shown = _cli("--library", str(folder), "summarize", "--story", str(story.id), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == expected.to_dict()
    text = _cli("--library", str(folder), "summarize", "--story", str(story.id))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    numbers = {}
    for evidence in expected.evidence:
        numbers.setdefault(evidence.article_id, len(numbers) + 1)
    assert lines[0].endswith(f"[{numbers[expected.evidence[0].article_id]}]")
    listed = [line for line in lines if line.startswith("[")]
    assert [line.split()[1] for line in listed] == list(numbers)
    missing = _cli("--library", str(folder), "summarize", "--story", "999")
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "no story 999" in missing.stderr


def test_the_server_lists_stories_and_summarizes_one(story_library):
    from test_serve import start

    from newsqa.serve.app import Settings

    _, qa, events, stories = story_library
    story = chile_story(stories, events)
    expected = qa.summarize_story(story.id)
    running = start(qa, Settings())
    try:
        with running.client() as client:
            listed = client.get("/stories")
            assert listed.status_code == 200
            assert listed.json() == [s.to_dict() for s in stories]
            found = client.post("/summarize", json={"story": story.id})
            assert found.status_code == 200
            assert found.json() == json.loads(json.dumps(expected.to_dict()))
            missing = client.post("/summarize", json={"story": 999})
            assert missing.status_code == 404 and "no story 999" in missing.json()["error"]
            both = client.post("/summarize", json={"story": story.id, "article": "abc"})
            assert both.status_code == 400
    finally:
        running.stop()
