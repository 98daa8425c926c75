"""The CLI's way to a running ``newsqa serve``: standard library only, no torch, no transformers.

A server writes ``server.json`` (its URL, process id and token) into its library folder while it
runs; ``$NEWSQA_SERVER`` names one explicitly (with ``$NEWSQA_TOKEN`` when it needs a token).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsqa.errors import NewsQAError, NotFoundError, UserError

SERVER_FILE = "server.json"
HEALTH_TIMEOUT_SECONDS = 1.0


class ServerError(NewsQAError):
    """The server failed (a 5xx answer) or did not answer."""


@dataclass(frozen=True)
class Client:
    """JSON requests to one server; 4xx answers raise UserError with the server's message."""

    url: str
    token: str | None = None
    timeout: float = 600.0

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 0) -> Any:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise _error(error) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ServerError(f"the server at {self.url} did not answer: {reason}") from None

    def health(self) -> dict:
        return self.request("GET", "/health", timeout=HEALTH_TIMEOUT_SECONDS)

    def articles(self) -> list[dict]:
        return self.request("GET", "/articles")

    def ask(self, question: str, **fields: Any) -> dict:
        """``POST /ask``: fields are article, text, title, top_k, min_confidence, strict,
        since, until, story."""
        return self.request("POST", "/ask", {"question": question, **_given(fields)})

    def summarize(self, **fields: Any) -> dict:
        """``POST /summarize``: fields are article, text, title, words, strategy, headline,
        story."""
        return self.request("POST", "/summarize", _given(fields))


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _error(error: urllib.error.HTTPError) -> NewsQAError:
    """A server's error answer as the exception the in-process call would have raised."""
    try:
        message = json.loads(error.read())["error"]
    except (ValueError, KeyError, TypeError, OSError):
        message = f"HTTP {error.code} {error.reason}"
    if error.code == 404:
        return NotFoundError(message)
    if 400 <= error.code < 500:
        return UserError(message)
    return ServerError(f"the server failed: {message}")


def find_server(library: Path) -> Client | None:
    """``$NEWSQA_SERVER``, else the server that serves ``library``; None when none answers."""
    token = os.environ.get("NEWSQA_TOKEN") or None
    url = os.environ.get("NEWSQA_SERVER")
    if not url:
        try:
            found = json.loads((library / SERVER_FILE).read_text(encoding="utf-8"))
            url, token = found["url"], found.get("token") or token
        except (OSError, ValueError, KeyError, TypeError):
            return None
    client = Client(url.rstrip("/"), token)
    try:
        client.health()
    except NewsQAError:
        return None
    return client


def write_server_file(library: Path, url: str, token: str | None) -> Path:
    """Tell the CLI where this library's server listens (readable by its owner only)."""
    path = library / SERVER_FILE
    library.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"url": url, "pid": os.getpid(), "token": token}, handle)
    return path


def remove_server_file(library: Path) -> None:
    """Remove the server file if this process wrote it (a newer server may have replaced it)."""
    path = library / SERVER_FILE
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass
