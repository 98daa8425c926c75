"""`newsqa serve` as a user runs it, and the CLI answering through it: same output, same exit
codes, neither torch, transformers nor numpy imported; Ctrl-C lets requests in flight finish."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from newsqa.client import SERVER_FILE, Client

QUESTION = "how many members of the Afghanistan forces crossed the border?"
BASE_ENV = {key: value for key, value in os.environ.items() if not key.startswith("NEWSQA_")} | {
    "HF_HUB_OFFLINE": "1",
    "NEWSQA_DEVICE": "cpu",
    "NEWSQA_PRECISION": "int8",
}
IMPORTS = (
    "import sys\n"
    "from newsqa.cli import main\n"
    "sys.argv = ['newsqa', *sys.argv[1:]]\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    print('imports: torch=%s transformers=%s numpy=%s' % ('torch' in sys.modules, "
    "'transformers' in sys.modules, 'numpy' in sys.modules), file=sys.stderr)\n"
)


def newsqa(*args: str, env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The CLI in a fresh process, reporting on stderr whether it imported torch."""
    return subprocess.run(
        [sys.executable, "-c", IMPORTS, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("client") / "library"


@pytest.fixture(scope="module")
def served(library):
    """`newsqa serve --port 0` on a fresh library, as a subprocess."""
    env = BASE_ENV | {"NEWSQA_LIBRARY": str(library)}
    process = subprocess.Popen(
        [sys.executable, "-m", "newsqa.cli", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not (library / SERVER_FILE).exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the server did not start in 300 s"
        time.sleep(0.2)
    url = json.loads((library / SERVER_FILE).read_text())["url"]
    yield process, url, env
    if process.poll() is None:
        process.kill()
        process.wait()


def test_cli_asks_through_the_server_as_it_would_in_process(served, library):
    process, url, env = served
    through = newsqa("ask", QUESTION, "--json", env=env)
    assert through.returncode == 0, through.stderr
    assert "imports: torch=False transformers=False numpy=False" in through.stderr
    assert "Using the bundled default article" in through.stderr
    alone = newsqa("ask", QUESTION, "--json", env=env | {"NEWSQA_NO_SERVER": "1"})
    assert alone.returncode == 0, alone.stderr
    assert "imports: torch=True" in alone.stderr
    assert json.loads(through.stdout) == json.loads(alone.stdout)
    assert json.loads(through.stdout)["text"] == "46"
    assert through.stderr.splitlines()[0] == alone.stderr.splitlines()[0]  # the default article

    printed = newsqa("ask", QUESTION, env=env)
    assert printed.returncode == 0 and printed.stdout.startswith("46  (confidence")
    assert "The statement said a total of 46 members" in printed.stdout

    elsewhere = env | {"NEWSQA_LIBRARY": str(library.parent / "other"), "NEWSQA_SERVER": url}
    named = newsqa("ask", QUESTION, "--json", env=elsewhere)
    assert named.returncode == 0 and json.loads(named.stdout)["text"] == "46"
    assert "imports: torch=False" in named.stderr


def test_cli_summarizes_stdin_through_the_server(served, seed_text):
    _, _, env = served
    through = newsqa(
        "summarize", "--article", "-", "--words", "40", "--json", env=env, stdin=seed_text
    )
    assert through.returncode == 0, through.stderr
    assert "imports: torch=False" in through.stderr
    alone_env = env | {"NEWSQA_NO_SERVER": "1"}
    alone = newsqa(
        "summarize", "--article", "-", "--words", "40", "--json", env=alone_env, stdin=seed_text
    )
    assert json.loads(through.stdout) == json.loads(alone.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "who?", "--article", "0123456789ab"], "no article with id '0123456789ab'"),
        (["ask", "who?", "--article", "/nonexistent/story.txt"], "no such file"),
        (["summarize", "--strategy", "magic"], "unknown summary strategy"),
        (["ask", "how many?", "--min-confidence", "0.5", "--strict"], "not both"),
    ],
)
def test_user_errors_through_the_server_exit_2_with_one_line(served, args, message):
    _, _, env = served
    result = newsqa(*args, env=env)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.stderr and "torch=False" in result.stderr


def test_listening_beyond_this_machine_needs_a_token(tmp_path):
    env = BASE_ENV | {"NEWSQA_LIBRARY": str(tmp_path / "library")}
    result = subprocess.run(
        [sys.executable, "-m", "newsqa.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2 and "needs a token" in result.stderr
    assert not (tmp_path / "library" / SERVER_FILE).exists()


def test_ctrl_c_finishes_requests_in_flight_and_stops(served, library, seed_text):
    process, url, env = served
    client = Client(url)
    added = client.request("POST", "/articles", {"text": seed_text})
    answers: list[list[dict]] = []
    many = {"questions": [QUESTION] * 24, "article": added["id"]}
    asking = threading.Thread(target=lambda: answers.append(client.request("POST", "/ask", many)))
    asking.start()
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    assert asking.is_alive()  # 24 questions take longer than that
    asking.join(timeout=120)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode in (0, 130), stderr  # 130: Ctrl-C's exit code (newer uvicorn)
    assert answers and [a["text"] for a in answers[0]] == ["46"] * 24
    assert "Press Ctrl-C to stop." in stderr and "Traceback" not in stderr
    assert not (library / SERVER_FILE).exists()
    listed = newsqa("list", "--json", env=env)
    assert [a["id"] for a in json.loads(listed.stdout)] == [added["id"]]
