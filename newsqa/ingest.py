"""Articles in: text, HTML, a file, stdin or a URL, to clean text and a title.

HTML goes through trafilatura (boilerplate removed, title and publication date kept). Plain
text loses its page furniture (comment forms, "Must Read" teasers, advertisement markers); its
publication date, if any, comes from its dateline (``newsqa.dates``). White space is normalised
and :class:`OffsetMap` maps every character of the clean text back to the source text.

Every step is linear in the input, and every input is bounded: files, stdin and downloads are
read up to ``MAX_ARTICLE_BYTES``; a download must also be HTML or text and finish in time.
:func:`language_notice` says when an article is mostly not English.
"""

from __future__ import annotations

import bisect
import http.client
import re
import sys
import time
import unicodedata
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from newsqa import dates
from newsqa.errors import InputError

MAX_ARTICLE_BYTES = 10 * 1024 * 1024
"""Larger inputs are refused: split them into articles first (a news article is ~10 KB)."""
URL_TIMEOUT_SECONDS = 15
"""The longest wait for a server: to connect, or for the next bytes."""
URL_DEADLINE_SECONDS = 30
"""The longest a whole download may take (a server can trickle bytes inside every wait)."""
URL_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
"""What a URL may return: a page, or plain text. Anything else (PDF, images...) is refused."""
_READ_BYTES = 64 * 1024
MIN_HTML_WORDS = 8
"""HTML whose extracted text is shorter than this is navigation, not an article."""
_WHITESPACE = re.compile(r"\s+")
_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
_HTML = re.compile(r"<\s*(!doctype\s+html|html|head|body|article|div|p|script|nav)\b", re.I)
_DOCUMENT = re.compile(r"<\s*(!doctype\s+html|html|body)\b[^>]*>", re.I)
_PATH_LIKE = re.compile(r"^(~|\.{1,2})?/|\.(txt|html?|md|text)$", re.IGNORECASE)
_FURNITURE = re.compile(
    r"^\W*(please enter your (comment|name)|leave a (reply|comment)|must read|"
    r"advertis(e)?ment|related (articles|posts|stories)|read more|share this( article)?|"
    r"subscribe to|sign up for our newsletter|follow us on|you may also like|"
    r"most popular|recommended for you|comments?|scroll down for video|"
    r"media playback is not supported on this device)\W*$",
    re.IGNORECASE,
)
_NAME = r"(?-i:[A-Z][\w.'’-]*)"
_NAMES = rf"{_NAME}(?:(?:\s*[,;&/]\s*|\s+(?:and|in)\s+|\s+){_NAME}){{0,12}}"
"""A run of capitalised names: "AP, Reuters", "Jane Doe in London". A name holds no
separator, so the run can be read one way only (no backtracking blow-up)."""
_CREDIT = r"(?:additional\s+)?(?:input|inputs|reporting|writing|editing|research)"
_CREDIT_LINE = re.compile(
    rf"^\W*((with\s+)?{_CREDIT}(\s+and\s+\w+)?\s+(from|by)\s+{_NAMES}"
    rf"(\s*[;,]\s*{_CREDIT}\s+by\s+{_NAMES})*|"
    r"(photo|photograph|picture|image|video)( caption| credit| copyright)?s?\s*[:|]\s*.{1,80}|"
    r"image (caption|copyright) .{1,100}|"
    r"(copyright|©) .{0,80}all rights reserved\W*|"
    r"(published|updated|last updated|posted)\s*:?\s*\d.{0,60}|"
    rf"by\s+{_NAMES}(\s*[,|]\s*[\w ]{{1,40}})?"
    r")\W*$",
    re.IGNORECASE,
)
"""Whole lines that credit or date the page, not the story: "With additional input from AP,
Reuters", "(Reporting by ...; Editing by ...)", "Photo: AP", "Image caption ...", a byline."""
_INLINE_FURNITURE = re.compile(
    r"scroll down for video|media playback is not supported on this device|"
    r"share this with(email|facebook|messenger|twitter|pinterest|whatsapp|linkedin){1,12}"
    r"copy this link",
    re.IGNORECASE,
)
"""Furniture inside running text (pages flattened to text keep it): becomes a paragraph break.
No white space around it in the pattern: a leading "any spaces" rescans every run of them."""
_CAPTION_MARK = (
    r"(?:\((?:stock|file|library) (?:photo|image|picture|pic)\)|\(pictured(?: [\w ]{1,30})?\)|"
    r"\bpictured (?:above|below|left|right|centre|center|inset|top|bottom))"
)
_GLUED_CAPTION = re.compile(rf"({_CAPTION_MARK}) +(?=[\"'‘“]?(?-i:[A-Z]))", re.IGNORECASE)
"""A picture's caption run into the story ("...invading badgers (stock photo) He has covered
the gap..."), as pages flattened to text have it: its end becomes a paragraph break."""
_CAPTION_LINE = re.compile(rf"{_CAPTION_MARK}\W*$", re.IGNORECASE)
"""A line that ends as captions do ("..., pictured above", "(stock photo)"): furniture."""
_SENTENCE_BREAK = re.compile(r"[.!?][\"'’”]?\s")
_FOOTER_STARTS = re.compile(
    r"^\W*(please enter your comment|leave a (reply|comment)|must read|you may also like|"
    r"related (articles|posts|stories)|recommended for you)\b",
    re.IGNORECASE,
)


@dataclass
class OffsetMap:
    """Maps positions of the clean text back to the source text, one breakpoint per edit."""

    clean_starts: list[int] = field(default_factory=lambda: [0])
    source_starts: list[int] = field(default_factory=lambda: [0])

    def to_source(self, position: int) -> int:
        segment = bisect.bisect_right(self.clean_starts, position) - 1
        return self.source_starts[segment] + position - self.clean_starts[segment]


@dataclass
class Document:
    """A cleaned article: ``text`` is what offsets refer to."""

    text: str
    title: str | None
    source: str
    offsets: OffsetMap
    published: str | None = None  # ISO date: the page's metadata or the text's dateline


def normalize_whitespace(text: str) -> tuple[str, OffsetMap]:
    """Collapse white space (paragraph breaks kept as a blank line) and map offsets back."""
    start, end = len(text) - len(text.lstrip()), len(text.rstrip())
    mapping = OffsetMap([0], [start])
    pieces: list[str] = []
    clean_length, cursor = 0, start
    for match in _WHITESPACE.finditer(text, start, end):
        run = match.group()
        replacement = "\n\n" if run.count("\n") >= 2 else "\n" if "\n" in run else " "
        if run == replacement:
            continue
        pieces += [text[cursor : match.start()], replacement]
        clean_length += match.start() - cursor + len(replacement)
        cursor = match.end()
        mapping.clean_starts.append(clean_length)
        mapping.source_starts.append(cursor)
    pieces.append(text[cursor:end])
    return "".join(pieces), mapping


def strip_furniture(text: str) -> str:
    """Drop page furniture: its lines (forms, teasers, credit lines, captions, bylines), its
    phrases inside running text, and a trailing footer that starts with a form or teaser."""
    text = _GLUED_CAPTION.sub("\\1\n\n", _INLINE_FURNITURE.sub("\n\n", text))
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if number > len(lines) // 3 and _FOOTER_STARTS.match(line.strip()):
            lines = lines[:number]
            break
    kept = [line for line in lines if not _is_furniture(line.strip())]
    return "\n".join(kept).strip()


def _is_furniture(line: str) -> bool:
    return bool(
        _FURNITURE.match(line)
        or (len(line) <= 160 and _CREDIT_LINE.match(line))
        or (len(line) <= 400 and _is_caption_line(line))
    )


def _is_caption_line(line: str) -> bool:
    """One sentence that ends as captions do: ``_CAPTION_LINE`` with no sentence end before."""
    mark = _CAPTION_LINE.search(line)
    return bool(mark) and not _SENTENCE_BREAK.search(line, 0, mark.start())


def decode(data: bytes, source: str) -> str:
    """Bytes to text: UTF-8 first, then the best detected encoding; binary data is refused."""
    if b"\x00" in data[:8192]:
        raise InputError(f"{source} looks like a binary file, not an article")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise InputError(f"{source}: cannot tell the text encoding; save it as UTF-8")
    return str(best)


def _too_large(source: str) -> InputError:
    return InputError(
        f"{source} is larger than {MAX_ARTICLE_BYTES // (1024 * 1024)} MB; "
        "split it into articles first"
    )


def _read_limited(stream, source: str, deadline: float | None = None) -> bytes:
    """At most ``MAX_ARTICLE_BYTES`` from ``stream``, refused beyond, read as bytes arrive; with
    a ``deadline`` (``time.monotonic()``), refused once reading outlasts it."""
    read = getattr(stream, "read1", stream.read)
    parts: list[bytes] = []
    size = 0
    while part := read(min(_READ_BYTES, MAX_ARTICLE_BYTES + 1 - size)):
        parts.append(part)
        size += len(part)
        if size > MAX_ARTICLE_BYTES:
            raise _too_large(source)
        if deadline is not None and time.monotonic() > deadline:
            raise InputError(
                f"{source} took longer than {URL_DEADLINE_SECONDS} s to download; "
                "save the page and pass the file"
            )
    return b"".join(parts)


def read_path(path: Path) -> bytes:
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a directory; name an article file")
    try:
        with path.open("rb") as handle:
            return _read_limited(handle, str(path))
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from error


def _check_response(response, url: str) -> int | None:
    """Refuse what is not a page or text, or says it is too large, before reading it; return
    the length the server declares, if any."""
    if response.headers.get("Content-Type"):
        kind = response.headers.get_content_type()
        if kind not in URL_TYPES:
            raise InputError(
                f"{url} is {kind}, not a web page or text; "
                "save the article as text or HTML and pass the file"
            )
    length = response.headers.get("Content-Length", "").strip()
    if not length.isdigit():
        return None
    if int(length) > MAX_ARTICLE_BYTES:
        raise _too_large(url)
    return int(length)


def fetch_url(url: str) -> bytes:
    """Download an article: HTML or text only, at most ``MAX_ARTICLE_BYTES``, waiting at most
    ``URL_TIMEOUT_SECONDS`` for the server and ``URL_DEADLINE_SECONDS`` in all."""
    request = urllib.request.Request(url, headers={"User-Agent": "newsqa/0.1 (+local reader)"})
    deadline = time.monotonic() + URL_DEADLINE_SECONDS
    try:
        with urllib.request.urlopen(request, timeout=URL_TIMEOUT_SECONDS) as response:
            length = _check_response(response, url)
            data = _read_limited(response, url, deadline)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise InputError(
            f"cannot fetch {url}: {reason} (offline? save the page and pass the file)"
        ) from error
    if length is not None and len(data) < length:
        raise InputError(f"cannot fetch {url}: the server sent {len(data)} of {length} bytes")
    return data


def looks_like_html(text: str) -> bool:
    """A page, not prose that mentions a tag: it opens with markup or declares a document."""
    head = text[:4096]
    return (
        head.lstrip().startswith("<") and bool(_HTML.search(head)) or bool(_DOCUMENT.search(head))
    )


def from_html(html: str, source: str) -> tuple[str, str | None, str | None]:
    """The page's article text, title and publication date (ISO, or None).

    The date comes from the page's markup (meta tags such as ``article:published_time``,
    JSON-LD ``datePublished``, ``<time>`` elements, a date in the URL), read by htmldate
    through trafilatura without its extensive search, which guesses from free text (a
    copyright year becomes January 1)."""
    import trafilatura

    body = trafilatura.extract(html, include_comments=False, include_tables=False)
    if not body or len(body.split()) < MIN_HTML_WORDS:
        raise InputError(f"{source}: the HTML holds no article text (only scripts or navigation)")
    url = source if _URL.match(source) else None
    metadata = trafilatura.extract_metadata(html, default_url=url, extensive=False)
    title = metadata.title if metadata and metadata.title else None
    published = _iso_date(metadata.date) if metadata else None
    return body, title, published


def _iso_date(value: str | None) -> str | None:
    try:
        return dates.parse_date(value[:10]) if value else None
    except InputError:
        return None


def _title_from_text(text: str) -> str | None:
    first = text.split("\n", 1)[0].strip()
    if 0 < len(first) <= 200 and "\n" in text and not first.endswith((".", "?", "!", ":")):
        return first
    return None


def clean(raw: str, source: str, title: str | None = None) -> Document:
    """Raw text or HTML to a :class:`Document`; refuses what holds no text.

    The publication date comes from the page's metadata, else from a dateline at the top of
    the text (read before page furniture such as a "Published: ..." line is dropped)."""
    if looks_like_html(raw):
        body, html_title, published = from_html(raw, source)
        published = published or dates.dateline(body)
        body = strip_furniture(body)
        title = title or html_title
    else:
        published = dates.dateline(raw)
        body = strip_furniture(raw)
    text, offsets = normalize_whitespace(body)
    if not text.strip():
        raise InputError(f"{source} holds no text")
    return Document(text, title or _title_from_text(text), source, offsets, published)


def load(source: str, title: str | None = None) -> Document:
    """Text, HTML, a file path, ``-`` (stdin) or an http(s) URL, cleaned."""
    if not isinstance(source, str):
        raise InputError("an article must be given as text, a path, a URL or '-'")
    if source == "-":
        return clean(decode(_read_limited(sys.stdin.buffer, "stdin"), "stdin"), "stdin", title)
    stripped = source.strip()
    if not stripped:
        raise InputError("the article is empty")
    if _URL.match(stripped):
        return clean(decode(fetch_url(stripped), stripped), stripped, title)
    if "\n" not in stripped and len(stripped) < 4096:
        try:
            path = Path(stripped).expanduser()
            exists = path.exists()
        except (OSError, RuntimeError):  # "~name" of no such user; a name too long
            path, exists = Path(stripped), False
        if exists or _PATH_LIKE.search(stripped):
            return clean(decode(read_path(path), str(path)), str(path), title)
    return load_text(source, title)


def load_text(text: str, title: str | None = None) -> Document:
    """Text or HTML given as a string, cleaned: never read as a path, a URL or stdin."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("the article is empty")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_ARTICLE_BYTES:
        raise InputError(f"the article is larger than {MAX_ARTICLE_BYTES // (1024 * 1024)} MB")
    return clean(text, "text", title)


LANGUAGE_SAMPLE_CHARS = 20_000
"""Language is judged on the article's start: enough to tell, and a bounded cost."""
_ENGLISH = """the of and that with his her she said are were has have had which who they their its
this from by be been not but would after more than about when there also we you"""
_ENGLISH_WORDS = frozenset(_ENGLISH.split())
"""Frequent English words, rare in other Latin-script languages: a quarter of the words of
English news (median of 836 SQuAD and news texts, the least 0.097), 0 to 0.017 of French,
Spanish, German, Italian, Portuguese, Dutch, Indonesian, Turkish, Polish or Swedish news."""
_WORD = re.compile(r"[^\W\d_]+")


def _script(char: str) -> str:
    """A letter's script, as the first word of its Unicode name (LATIN, ARABIC, CJK...)."""
    if char < "\u0250":
        return "LATIN"
    return unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]


def _script_name(scripts: dict[str, int]) -> str:
    """The main script by name; Japanese mixes kana with Chinese characters."""
    kana = scripts.get("HIRAGANA", 0) + scripts.get("KATAKANA", 0)
    if kana * 10 > sum(scripts.values()):
        return "Japanese"
    main = max(scripts, key=scripts.__getitem__)
    return "Chinese" if main == "CJK" else main.title()


def language_notice(text: str) -> str | None:
    """A one-line notice when ``text`` is mostly not English, else ``None``.

    Mostly another script (Arabic, Cyrillic, Chinese...): named. Latin script with few of the
    commonest English words: another language. Too little text to tell: ``None``.
    """
    return _sample_notice(text[:LANGUAGE_SAMPLE_CHARS])


@lru_cache(maxsize=128)
def _sample_notice(sample: str) -> str | None:
    """``language_notice`` of an article's opening, once per opening (each question asked of
    an article would otherwise read it again)."""
    scripts: dict[str, int] = {}
    for char in sample:
        if char.isalpha():
            name = _script(char)
            scripts[name] = scripts.get(name, 0) + 1
    letters = sum(scripts.values())
    if letters < 40:
        return None
    limit = ": the model reads English only, so its answers may be missing or wrong."
    if scripts.get("LATIN", 0) < letters / 2:
        return f"This article is mostly in {_script_name(scripts)} script, not English{limit}"
    words = _WORD.findall(sample.lower())
    english = sum(word in _ENGLISH_WORDS for word in words)
    if len(words) >= 20 and english < 0.05 * len(words):
        return f"This article does not look like English{limit}"
    return None
