"""The command line as a user runs it: real process, real models, exit codes and messages."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    question = "how many members of the Afghanistan forces crossed the border?"
    result = newsqa("ask", question, "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"text", "answerable", "confidence", "evidence", "notice", "date"}
    assert answer["notice"] is None  # the article is English
    assert answer["answerable"] and "46" in answer["text"]
    evidence = answer["evidence"][0]
    assert set(evidence) == {"article_id", "title", "sentence", "start", "end", "score"}
    assert evidence["sentence"].startswith("The statement said a total of 46 members")
    assert "bundled default article" in result.stderr


def test_article_from_stdin_and_summary_json(seed_text):
    result = newsqa("summarize", "--article", "-", "--words", "40", "--json", stdin=seed_text)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) == {"text", "evidence", "notice", "headline"}
    assert 0 < len(summary["text"].split()) <= 40


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
