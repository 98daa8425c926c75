"""Which URLs the server may fetch for a client: http(s) to public addresses only.

Off unless ``newsqa serve --allow-urls``. A URL's host must resolve only to public addresses
(never loopback, private, link-local or reserved ones), and so must every redirect's target.
Timeouts and the size cap are ``ingest.fetch_url``'s.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.request
from urllib.parse import urlsplit

from newsqa.errors import InputError


def check_public(url: str) -> None:
    """Refuse ``url`` unless it is http(s) and its host resolves only to public addresses."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InputError(f"{url} is not an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot fetch {url}: {error}") from error
    for *_, address in found:
        ip = ipaddress.ip_address(address[0].split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise InputError(
                f"{url} points to a local or private address ({ip}): "
                "the server fetches only public pages"
            )


class _PublicRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a public address."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_public(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def guard_redirects() -> None:
    """Make this process's ``urlopen`` (which ``ingest.fetch_url`` uses) check redirects."""
    urllib.request.install_opener(urllib.request.build_opener(_PublicRedirects))
