"""A question asked of a story: the surest of its articles' answers, and what each article says,
on real WikiNews articles in a real library (``story_library``, conftest.py): through the API,
the CLI, the server on loopback, and the page in a real headless browser.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import chile_story

from newsqa.answer import agree
from newsqa.errors import InputError, NotFoundError

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "NEWSQA_DEVICE": "cpu", "NEWSQA_NO_SERVER": "1"}
QUESTION = "What was the magnitude of the earthquake?"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def asked(story_library):
    folder, qa, events, stories = story_library
    story = chile_story(stories, events)
    return story, qa.ask(QUESTION, story=story.id)


def test_the_answer_is_the_surest_article_s_and_each_article_says_its_own(story_library, asked):
    _, qa, _, _ = story_library
    story, answer = asked
    assert [s.article_id for s in answer.sources] == story.article_ids
    dates = [s.published for s in answer.sources]
    assert dates == sorted(dates)
    answered = [s for s in answer.sources if s.answerable]
    assert answer.answerable and len(answered) >= 3
    surest = max(answered, key=lambda s: s.confidence)
    assert (answer.text, answer.confidence) == (surest.text, surest.confidence)
    assert answer.evidence == surest.evidence
    for source in answer.sources:
        alone = qa.ask(QUESTION, article=source.article_id)  # the same as asking it alone
        assert (source.text, source.answerable) == (alone.text, alone.answerable)
        assert source.confidence == pytest.approx(alone.confidence, abs=1e-3)
        assert source.agrees == (source.answerable and agree(source.text, answer.text))


def test_answers_agree_when_they_say_the_same():
    assert agree("46", "46 members of the Afghanistan forces")
    assert agree("The 8.8 magnitude", "8.8")
    assert not agree("46", "50")
    assert not agree("", "46")


def test_a_story_question_needs_a_known_story_and_no_article(story_library):
    _, qa, _, stories = story_library
    with pytest.raises(NotFoundError, match="no story 999"):
        qa.ask(QUESTION, story=999)
    with pytest.raises(InputError, match="not both"):
        qa.ask(QUESTION, story=stories[0].id, article=stories[0].article_ids[0])


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsqa.cli", *args], env=ENV, capture_output=True, text=True
    )


def test_newsqa_ask_story_shows_what_each_article_says(story_library, asked):
    folder = str(story_library[0])
    story, answer = asked
    shown = _cli("--library", folder, "ask", QUESTION, "--story", str(story.id), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == json.loads(json.dumps(answer.to_dict()))
    text = _cli("--library", folder, "ask", QUESTION, "--story", str(story.id))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"{answer.text}  (confidence {answer.confidence:.2f})")
    heading = lines.index(f"  what the story's {len(story.article_ids)} articles say:")
    listed = lines[heading + 1 :]
    assert len(listed) == len(answer.sources)
    for line, source in zip(listed, answer.sources):
        assert source.article_id in line
        if source.answerable:
            verdict = "agrees" if source.agrees else "differs"
            assert f"{source.text} ({source.confidence:.2f}, {verdict})" in line
        else:
            assert "does not say" in line
    both = _cli("--library", folder, "ask", QUESTION, "--story", "1", "--article", "x")
    assert both.returncode == 2 and "drop --article" in both.stderr


@pytest.fixture(scope="module")
def served(story_library):
    from test_serve import start

    from newsqa.serve.app import Settings

    running = start(story_library[1], Settings())
    yield running
    running.stop()


def test_the_api_asks_a_story(served, asked):
    story, answer = asked
    with served.client() as client:
        found = client.post("/ask", json={"question": QUESTION, "story": story.id})
        assert found.status_code == 200
        assert found.json() == json.loads(json.dumps(answer.to_dict()))
        both = client.post("/ask", json={"question": QUESTION, "story": story.id, "text": "x"})
        assert both.status_code == 400


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_the_page_asks_and_summarizes_a_story(served, story_library, asked):
    from playwright.sync_api import expect, sync_playwright

    _, qa, _, stories = story_library
    story, answer = asked
    summary = qa.summarize_story(story.id, max_words=60)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.goto(served.url)
            choices = page.locator("#article optgroup option")
            expect(choices).to_have_count(sum(len(s.article_ids) > 1 for s in stories))
            page.select_option("#article", f"story:{story.id}")
            page.fill("#question", QUESTION)
            page.click("#ask")
            expect(page.locator("#result .answer")).to_have_text(answer.text, timeout=120_000)
            sources = page.locator("#result .sources li")
            expect(sources).to_have_count(len(answer.sources))
            agreeing = [s for s in answer.sources if s.agrees]
            expect(page.locator("#result .sources li.agrees")).to_have_count(len(agreeing))
            first = answer.sources[0]
            expect(sources.first).to_contain_text(first.title)
            page.fill("#words", "60")
            page.click("#summarize")
            expect(page.locator("#result sup.cite")).to_have_count(
                len(summary.sentences), timeout=120_000
            )
            cited = {e.article_id for e in summary.evidence}
            expect(page.locator("#result ol.cited li")).to_have_count(len(cited))
            expect(page.locator("#article-title")).to_have_text(summary.evidence[0].title)
        finally:
            browser.close()
