"""The README's code blocks, for tests/test_readme.py and tests/test_install.py."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    """The README's fenced blocks in ``language`` (sh, python), in order."""
    return re.findall(rf"^```{language}\n(.*?)^```$", README, flags=re.S | re.M)


def commands() -> list[list[str]]:
    """Each command of the shell blocks, as words: continuations joined, comments dropped,
    pipelines split; `python -m newsqa ...` is the newsqa command."""
    found = []
    for block in blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while "|" in words:
                cut = words.index("|")
                found.append(words[:cut])
                words = words[cut + 1 :]
            if words:
                found.append(words)
    return [["newsqa", *w[3:]] if w[:3] == ["python", "-m", "newsqa"] else w for w in found]


def curl_requests() -> list[tuple[str, str, dict | None]]:
    """Each `curl localhost:8000/PATH [-d JSON]` line: (method, path, body)."""
    requests = []
    for words in commands():
        if words[0] != "curl":
            continue
        url = next(word for word in words if "localhost:8000" in word)
        path = "/" + url.split("localhost:8000", 1)[1].lstrip("/")
        body = json.loads(words[words.index("-d") + 1]) if "-d" in words else None
        requests.append(("POST" if body is not None else "GET", path, body))
    return requests
