"""The README is short and its examples are true.

Every command of its shell blocks is checked: each `newsqa` command names a subcommand that
exists and only options that subcommand has (as `--help` lists them), each `make` target is in
the Makefile, each `curl` posts to an endpoint of the server with fields it accepts, each `pip`
line names this version's wheel or an extra that exists. Its Python blocks run, in a folder
holding `story.txt` (the bundled default article) and `news/`. (tests/test_install.py runs the
commands themselves from an installed wheel.)
"""

from __future__ import annotations

import re
import shutil

import pytest
import typer
import typer.testing
from readme_blocks import README, ROOT, blocks, commands, curl_requests

import newsqa
from newsqa.cli import app, default_article_path

PROGRAMS = {"newsqa", "make", "curl", "pip", "cat"}


def test_short_and_about_today():
    assert len(README.splitlines()) <= 200
    assert not re.search(r"\bsessions?\b|\bruns? \d", README, flags=re.I)
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link


def test_every_shell_command_is_one_we_check():
    programs = {words[0] for words in commands()}
    assert programs <= PROGRAMS, programs - PROGRAMS
    assert "newsqa" in programs and "make" in programs


def subcommand(words: list[str]) -> tuple[object, list[str], list[tuple[object, str]]]:
    """The click command a `newsqa ...` line runs, its path, and the options it gives."""
    command = typer.main.get_command(app)
    path, options, rest = [], [], words[1:]
    while rest:
        word = rest.pop(0)
        if word.startswith("-"):
            options.append((command, word.split("=")[0]))
            named = {
                opt: param for param in command.params for opt in param.opts + param.secondary_opts
            }
            param = named.get(word.split("=")[0])
            if (
                param is not None
                and not getattr(param, "is_flag", False)
                and "=" not in word
                and rest
            ):
                rest.pop(0)  # the option's value
        elif hasattr(command, "commands") and word in command.commands:
            command = command.commands[word]
            path.append(word)
        elif hasattr(command, "commands"):
            raise AssertionError(f"newsqa {' '.join(path)} has no command {word!r}")
    return command, path, options


@pytest.mark.parametrize(
    "words",
    [words for words in commands() if words[0] == "newsqa"],
    ids=lambda words: " ".join(words)[:60],
)
def test_newsqa_commands_and_options_exist(words):
    command, path, options = subcommand(words)
    assert not hasattr(command, "commands") or "--help" in words or "--version" in words, (
        f"newsqa {' '.join(path)} needs a subcommand"
    )
    for owner, option in options:
        helped = typer.testing.CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
        assert helped.exit_code == 0
        known = {"--help"} | {
            opt for param in owner.params for opt in param.opts + param.secondary_opts
        }
        assert option in known, f"{option} is not an option of newsqa {' '.join(path)}"
        if owner is command:
            assert option in helped.output, f"{option} is not in newsqa {' '.join(path)} --help"


def test_make_targets_exist():
    makefile = (ROOT / "Makefile").read_text()
    for words in commands():
        if words[0] == "make":
            for target in words[1:]:
                assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), target


def test_pip_lines_name_this_version_and_real_extras():
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    extras = set(re.findall(r"^([a-z]+) = ", section, flags=re.M))
    assert {"serve", "base", "ray"} <= extras
    for words in commands():
        if words[0] != "pip":
            continue
        assert words[1] == "install", words
        for target in words[2:]:
            named = re.findall(r"\[([a-z,]+)\]$", target)
            for extra in named[0].split(",") if named else []:
                assert extra in extras, extra
            wheel = re.sub(r"\[[a-z,]+\]$", "", target)
            if wheel.endswith(".whl"):
                assert wheel == f"dist/newsqa-{newsqa.__version__}-py3-none-any.whl", target
    for extra in ["serve", "base", "ray"]:
        assert f"`{extra}`" in README


def test_curl_lines_post_what_the_server_accepts():
    """The paths and fields; tests/test_install.py sends them to a server run from the wheel."""
    pytest.importorskip("fastapi")
    from newsqa.serve.app import Settings, create_app

    schema = create_app(newsqa.NewsQA(device="cpu"), Settings()).openapi()
    requests = curl_requests()
    assert requests
    for method, path, body in requests:
        operation = schema["paths"][path][method.lower()]
        if body is not None:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            fields = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
            assert set(body) <= set(fields), (path, set(body) - set(fields))


def test_python_blocks_run(tmp_path, monkeypatch, capsys):
    """Each Python block, in order, in a folder with story.txt and news/ (nothing else)."""
    shutil.copy(default_article_path(), tmp_path / "story.txt")
    (tmp_path / "news").mkdir()
    shutil.copy(default_article_path(), tmp_path / "news" / "story.txt")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSQA_LIBRARY", str(tmp_path / "library"))
    monkeypatch.setenv("NEWSQA_NO_SERVER", "1")
    python = blocks("python")
    assert len(python) >= 2
    for number, block in enumerate(python):
        exec(compile(block, f"README.md python block {number + 1}", "exec"), {})
    printed = capsys.readouterr().out
    text, answerable, confidence = printed.splitlines()[0].rsplit(" ", 2)
    assert answerable == "True" and float(confidence) >= newsqa.NewsQA().min_confidence
    assert text and text in default_article_path().read_text(encoding="utf-8")
    assert (tmp_path / "answers.jsonl").read_text().count("\n") == 1
