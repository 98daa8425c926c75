"""Run the app on uvicorn: check the safety rules, load the models, tell the CLI where it is."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn

from newsqa.client import remove_server_file, write_server_file
from newsqa.errors import UserError
from newsqa.serve import urls
from newsqa.serve.app import Settings, create_app


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    sock.listen(2048)
    return sock


def serve(
    library: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    allow_urls: bool = False,
    batch_ms: float = 5.0,
    engine_options: dict | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve ``library`` until Ctrl-C; in-flight requests finish before it stops."""
    from newsqa.core import NewsQA

    loopback = is_loopback(host)
    if not loopback and not token:
        raise UserError(f"listening on {host} needs a token: give --token or set $NEWSQA_TOKEN")
    if batch_ms < 0:
        raise UserError("--batch-ms is a duration: 0 or more")
    sock = open_socket(host, port)
    qa = NewsQA(path=str(library), **(engine_options or {}))
    if allow_urls:
        urls.guard_redirects()
    settings = Settings(token, allow_urls, batch_ms / 1000, loopback)
    config = uvicorn.Config(
        create_app(qa, settings), log_level="warning", timeout_graceful_shutdown=600
    )
    bound_host, bound_port = sock.getsockname()[:2]
    shown = "127.0.0.1" if bound_host in ("0.0.0.0", "::") else bound_host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{bound_port}"
    write_server_file(library, url, token)
    try:
        announce(f"newsqa serves {library} on {url} (web page and API; docs at {url}/docs)")
        announce("Press Ctrl-C to stop.")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        remove_server_file(library)
        sock.close()
