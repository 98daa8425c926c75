"""The command line as a user runs it: real process, real models, exit codes and messages."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

QUESTION = "how many members of the Afghanistan forces crossed the border?"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "NEWSQA_DEVICE": "cpu"}


@pytest.fixture(autouse=True)
def empty_library(tmp_path, monkeypatch):
    """Every CLI test starts as a fresh install: no library yet (never the user's own)."""
    monkeypatch.setitem(ENV, "NEWSQA_LIBRARY", str(tmp_path / "library"))
    return tmp_path / "library"


def newsqa(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsqa.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


def test_ask_on_the_default_article_prints_json_answer_and_evidence():
    result = newsqa("ask", QUESTION, "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {
        "text",
        "answerable",
        "confidence",
        "evidence",
        "notice",
        "date",
        "sources",
        "calibrated",
    }
    assert answer["calibrated"] is True  # newsqa-mini ships its calibrator
    assert answer["notice"] is None  # the article is English
    assert answer["sources"] == []  # one article asked: no story's sources
    assert answer["answerable"] and "46" in answer["text"]
    evidence = answer["evidence"][0]
    assert set(evidence) == {"article_id", "title", "sentence", "start", "end", "score"}
    assert evidence["sentence"].startswith("The statement said a total of 46 members")
    assert "bundled default article" in result.stderr


def test_article_from_stdin_and_summary_json(seed_text):
    result = newsqa("summarize", "--article", "-", "--words", "40", "--json", stdin=seed_text)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) == {"text", "evidence", "notice", "headline", "sentences"}
    assert 0 < len(summary["text"].split()) <= 40
    assert " ".join(summary["sentences"]) == summary["text"]
    assert len(summary["sentences"]) == len(summary["evidence"])


def test_an_article_not_in_english_is_named_and_still_read():
    urdu = (
        "پاکستانی فوج نے کہا ہے کہ افغانستان کی فورسز کے چھیالیس اہلکار اتوار کی رات سرحد پار "
        "کر کے چترال پہنچے جہاں انہیں کھانا اور طبی امداد فراہم کی گئی۔ "
    ) * 3
    result = newsqa("ask", "how many soldiers crossed?", "--article", "-", stdin=urdu)
    assert result.returncode == 0, result.stderr
    assert "Note: This article is mostly in Arabic script, not English" in result.stderr
    both = newsqa("ask", "how many?", "--strict", "--min-confidence", "0.5")
    assert both.returncode == 2 and "not both" in both.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "how many?", "--article", "/nonexistent/story.txt"], "no such file"),
        (["ask", "how many?", "--min-confidence", "1.5"], "1.5 is not in 0..1"),
        (["ask", "how many?", "--article", "/"], "no such file|directory"),
        (["ask", ""], "question is empty"),
        (["ask", "x" * 10_000], "limit is"),
        (["ask", "how many?", "--device", "tpu"], "unknown device"),
        (["ask", "how many?", "--device", "cuda"], "no usable CUDA"),
        (["ask", "how many?", "--precision", "fp8"], "unknown precision"),
        (["ask", "how many?", "--article", "http://127.0.0.1:9/x"], "cannot fetch"),
        (["ask", "how many?", "--model", "no-such-org/no-such-model"], "cannot load"),
        (["summarize", "--strategy", "magic"], "unknown summary strategy"),
        (["add", "story.txt", "--date", "2021-02-30"], "--date must be a date as YYYY-MM-DD"),
        (["add", "story.txt", "--date", "yesterday"], "--date must be a date as YYYY-MM-DD"),
        (["ask", "how many?", "--since", "July 2021"], "--since must be a date as YYYY-MM-DD"),
        (["ask", "how many?", "--until", "2021-7-1"], "--until must be a date as YYYY-MM-DD"),
        (["ask", "how many?", "--since", "2021-08-01", "--until", "2021-07-01"], "after until"),
        (["ask", "how many?", "--since", "2021-07-01"], "published on no known date"),
    ],
)
def test_user_errors_exit_2_with_one_line_and_no_traceback(args, message):
    import re

    result = newsqa(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.search(message, errors[0])


def test_binary_and_empty_files_are_user_errors(tmp_path: Path):
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 100)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    for path, message in ((binary, "binary"), (empty, "no text")):
        result = newsqa("ask", "what?", "--article", str(path))
        assert result.returncode == 2 and message in result.stderr


def test_help_teaches_with_examples():
    result = newsqa("--help")
    assert result.returncode == 0
    assert 'newsqa ask "how many soldiers?"' in result.stdout


def test_library_commands_add_list_show_ask_remove(tmp_path, squad_dev, empty_library):
    folder = tmp_path / "articles"
    folder.mkdir()
    for number, article in enumerate(squad_dev[:3]):
        text = "\n\n".join(p["context"] for p in article["paragraphs"][:5])
        (folder / f"{number}.txt").write_text(article["title"] + "\n\n" + text)
    (folder / "broken.txt").write_bytes(b"\x00\x01\x02")
    result = newsqa("add", str(folder), str(folder / "0.txt"), "--json")
    assert result.returncode == 2  # one file failed; the others were added
    statuses = [r["status"] for r in json.loads(result.stdout)]
    assert sorted(statuses) == ["added", "added", "added", "duplicate", "error"]
    listed = json.loads(newsqa("list", "--json").stdout)
    assert [a["title"] for a in listed] == [a["title"] for a in squad_dev[:3]]
    shown = json.loads(newsqa("show", listed[1]["id"], "--json").stdout)
    assert squad_dev[1]["paragraphs"][0]["context"][:50] in shown["text"]
    assert newsqa("doctor").stdout.startswith("ok: 3 articles")
    result = newsqa("ask", "how many soldiers?", "--article", listed[0]["id"], "--json")
    assert result.returncode == 0 and "bundled default" not in result.stderr
    assert newsqa("remove", listed[0]["id"]).returncode == 0
    assert [a["id"] for a in json.loads(newsqa("list", "--json").stdout)] == [
        listed[1]["id"],
        listed[2]["id"],
    ]
    assert newsqa("remove", listed[0]["id"]).returncode == 2


WHEN = "when did the soldiers cross the border?"


def test_dates_add_list_show_and_a_relative_answer_resolved(seed_text, tmp_path):
    story = tmp_path / "seed.txt"
    story.write_text(seed_text)
    added = newsqa("add", str(story), "--date", "2021-07-26", "--json")
    assert added.returncode == 0, added.stderr
    article_id = json.loads(added.stdout)[0]["id"]
    listed = json.loads(newsqa("list", "--json").stdout)
    assert listed[0]["id"] == article_id and listed[0]["published"] == "2021-07-26"
    assert "2021-07-26" in newsqa("list").stdout
    shown = newsqa("show", article_id, "--json")
    assert json.loads(shown.stdout)["published"] == "2021-07-26"
    assert "published 2021-07-26" in newsqa("show", article_id).stdout
    answer = json.loads(newsqa("ask", WHEN, "--json").stdout)
    assert answer["text"] == "late Sunday" and answer["date"] == "2021-07-25"
    text = newsqa("ask", WHEN)
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0].startswith("late Sunday  (2021-07-25)  (confidence")


def test_ask_since_until_keeps_to_articles_published_then(seed_text, squad_dev, tmp_path):
    seed = tmp_path / "seed.txt"
    seed.write_text(seed_text)
    older = tmp_path / "older.txt"
    paragraphs = "\n\n".join(p["context"] for p in squad_dev[0]["paragraphs"][:5])
    older.write_text(squad_dev[0]["title"] + "\n\n" + paragraphs)
    assert newsqa("add", str(seed), "--date", "2021-07-26").returncode == 0
    assert newsqa("add", str(older), "--date", "2020-01-15").returncode == 0
    seed_id, older_id = [a["id"] for a in json.loads(newsqa("list", "--json").stdout)]

    def cited(*args: str) -> set[str]:
        result = newsqa("ask", QUESTION, "--json", "--min-confidence", "0", *args)
        assert result.returncode == 0, result.stderr
        return {e["article_id"] for e in json.loads(result.stdout)["evidence"]}

    assert cited("--since", "2021-07-01", "--until", "2021-07-31") == {seed_id}
    assert cited("--until", "2020-12-31") == {older_id}
    assert cited("--since", "2020-01-15", "--until", "2020-01-15") == {older_id}
    empty = newsqa("ask", QUESTION, "--since", "2022-01-01")
    assert empty.returncode == 2 and "Traceback" not in empty.stderr
    errors = [line for line in empty.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no article was published since 2022-01-01" in errors[0]
    outside = newsqa("ask", QUESTION, "--article", seed_id, "--until", "2020-12-31")
    assert outside.returncode == 2 and "outside until 2020-12-31" in outside.stderr


def test_date_options_teach_with_examples():
    assert "--date 2021-07-26" in newsqa("add", "--help").stdout
    helped = newsqa("ask", "--help").stdout
    assert "--since 2021-07-01" in helped and "--until" in helped
