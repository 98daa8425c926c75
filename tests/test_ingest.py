import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from newsqa import ingest
from newsqa.errors import InputError


def test_seed_article_loses_its_page_footer_and_keeps_its_title(seed_text):
    document = ingest.load(seed_text)
    assert document.title.startswith("Military grants refuge")
    assert "46 members of the Afghanistan forces" in document.text
    for furniture in ("Please enter your comment", "Must Read", "Advertisment", "PM Khan"):
        assert furniture not in document.text
    assert "With additional input from AP" not in document.text
    assert document.text.rstrip().endswith("into peace talks last year.")


def test_credit_lines_captions_and_bylines_are_furniture_in_html_and_text(seed_text):
    paragraphs = seed_text.split("\n\n")[1:6]
    html = (
        "<html><head><title>Afghan soldiers cross into Pakistan</title></head><body><article>"
        "<h1>Afghan soldiers cross into Pakistan</h1><p>By Jane Doe and Ali Khan</p>"
        "<p>Photo: AP</p>"
        + "".join(f"<p>{p}</p>" for p in paragraphs)
        + "<p>Scroll down for video</p><p>(Reporting by Jane Doe; Editing by John Smith)</p>"
        "<p>With additional input from AP, Reuters</p></article></body></html>"
    )
    text = "\n\n".join(
        [paragraphs[0], "By Jane Doe", paragraphs[1] + " Scroll down for video " + paragraphs[2]]
        + ["Image caption Soldiers at the border post", "Additional reporting by Ali Khan"]
    )
    for document in (ingest.load(html), ingest.load(text)):
        for furniture in ("Jane Doe", "Ali Khan", "Photo", "Scroll down", "Editing by", "input"):
            assert furniture not in document.text
        assert "46 members of the Afghanistan forces" in document.text
    # sentences that begin like a credit line are the story, and stay
    story = "By Monday the troops had gone.\n\nReporting from the front line was hard, he said."
    assert ingest.load(story).text == story


def test_captions_run_into_the_story_are_dropped_and_the_story_kept():
    text = (
        "A pensioner is living in fear after his dog saved him from a badger.\n\n"
        "Farmers have issued advice on protecting property from badgers (stock photo) He has "
        "covered the gap in his hedge with two pieces of metal.\n\n"
        "MP Jesse Norman is being investigated over claims he gave out cake, pictured above "
        "Detectives are expected to speak to Mr Norman.\n\n"
        "Mr Smith (pictured) said the plan would fail."
    )
    cleaned = ingest.load(text).text
    assert "stock photo" not in cleaned and "pictured above" not in cleaned
    for story in (
        "He has covered the gap in his hedge with two pieces of metal.",
        "Detectives are expected to speak to Mr Norman.",
        "Mr Smith (pictured) said the plan would fail.",
    ):
        assert story in cleaned


def test_html_boilerplate_is_removed_and_title_kept(seed_text):
    body = "".join(f"<p>{p}</p>" for p in seed_text.split("\n\n")[1:8])
    html = (
        "<html><head><title>Afghan soldiers cross into Pakistan</title>"
        "<script>var tracking = 1;</script></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/sport'>Sport</a></nav>"
        f"<article><h1>Afghan soldiers cross into Pakistan</h1>{body}</article>"
        "<footer>Copyright 2021 Example News. All rights reserved.</footer></body></html>"
    )
    document = ingest.load(html)
    assert document.title == "Afghan soldiers cross into Pakistan"
    assert "46 members of the Afghanistan forces" in document.text
    assert "tracking" not in document.text
    assert "All rights reserved" not in document.text


def test_whitespace_is_normalised_and_offsets_map_back():
    raw = "  Title line\r\n\r\n\r\nFirst   sentence here.\tSecond one.\n\n\nLast."
    text, offsets = ingest.normalize_whitespace(raw)
    assert text == "Title line\n\nFirst sentence here. Second one.\n\nLast."
    for position, char in enumerate(text):
        if not char.isspace():
            assert raw[offsets.to_source(position)] == char


def test_non_utf8_file_is_decoded(tmp_path: Path):
    path = tmp_path / "latin1.txt"
    text = "Le ministre a déclaré que l'économie française progressera de 2 % cette année. " * 5
    path.write_bytes(text.encode("cp1252"))
    assert "économie" in ingest.load(str(path)).text


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: str(d / "missing.txt"), "no such file"),
        (lambda d: str(d), "is a directory"),
        (lambda d: _write(d / "blob.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50), "binary"),
        (lambda d: _write(d / "empty.txt", b""), "holds no text"),
        (lambda d: _write(d / "blank.txt", b"   \n\t \n"), "holds no text"),
        (lambda d: "   \n  ", "empty"),
        (
            lambda d: (
                "<html><head><script>var a=1;</script></head><body><nav>"
                "<a href='/'>Home</a></nav></body></html>"
            ),
            "no article text",
        ),
    ],
)
def test_bad_input_is_refused_in_one_clear_message(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        ingest.load(make(tmp_path))


def test_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path):
    path = tmp_path / "huge.txt"
    line = b"The statement said a total of 46 members crossed the border late Sunday.\n"
    with path.open("wb") as handle:
        for _ in range(50 * 1024 * 1024 // len(line) + 1):  # a 50 MB text file
            handle.write(line)
    with pytest.raises(InputError, match="larger than 10 MB"):
        ingest.load(str(path))


def test_unreachable_url_fails_fast_with_a_clear_message():
    with pytest.raises(InputError, match="cannot fetch"):
        ingest.load("http://127.0.0.1:9/story.html")


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


ARTICLE_HTML = (
    b"<html><head><title>Soldiers cross the border</title></head><body><article>"
    b"<p>The statement said a total of 46 members of the Afghanistan forces, including five "
    b"officers, crossed the border late Sunday near the border town of Chitral.</p>"
    b"<p>They were given food and shelter and will be sent back once the situation is calm."
    b"</p></article></body></html>"
)


class _Pages(BaseHTTPRequestHandler):
    """A local web server: an article, a PDF, and pages too large or too slow to fetch."""

    def do_GET(self):
        try:
            if self.path == "/story.html":
                self._headers("text/html; charset=utf-8", len(ARTICLE_HTML))
                self.wfile.write(ARTICLE_HTML)
            elif self.path == "/report.pdf":
                self._headers("application/pdf", 1000)
                self.wfile.write(b"%PDF-1.7" + b"\x00" * 992)
            elif self.path == "/declared-huge.html":
                self._headers("text/html", 50 * 1024 * 1024)
                self.wfile.write(b"<html><body>" + b"x" * 1000)
            elif self.path == "/cut-short.html":  # the connection drops mid-page
                self._headers("text/html", 5000)
                self.wfile.write(ARTICLE_HTML[:100])
            elif self.path == "/endless.html":  # no length given: it would never end
                self._headers("text/html", None)
                while True:
                    self.wfile.write(b"<p>The border stayed open all night.</p>\n" * 1000)
            elif self.path == "/trickle.html":  # a byte well inside every wait, for ever
                self._headers("text/html", None)
                self.wfile.write(b"<html><body>")
                while True:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as it should

    def _headers(self, kind: str, length: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_url_to_an_article_page_is_downloaded_and_cleaned(server):
    document = ingest.load(f"{server}/story.html")
    assert document.title == "Soldiers cross the border"
    assert "46 members of the Afghanistan forces" in document.text


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/report.pdf", "is application/pdf, not a web page or text"),
        ("/declared-huge.html", "larger than 10 MB"),
        ("/endless.html", "larger than 10 MB"),
        ("/cut-short.html", "cannot fetch"),
    ],
)
def test_a_url_that_is_not_a_whole_page_of_bounded_size_is_refused(server, path, message):
    started = time.monotonic()
    with pytest.raises(InputError, match=message):
        ingest.load(server + path)
    assert time.monotonic() - started < 10


def test_a_download_that_never_finishes_is_refused_at_the_deadline(server, monkeypatch):
    monkeypatch.setattr(ingest, "URL_DEADLINE_SECONDS", 1)
    started = time.monotonic()
    with pytest.raises(InputError, match="took longer than 1 s"):
        ingest.load(f"{server}/trickle.html")
    assert time.monotonic() - started < 5


FOREIGN = {
    "French": (
        "Le ministre de l'Intérieur a annoncé mardi que plus de quarante soldats afghans "
        "avaient franchi la frontière pendant la nuit. Selon un communiqué de l'armée, les "
        "militaires ont été accueillis dans un poste près de Chitral, où ils ont reçu de la "
        "nourriture et des soins médicaux."
    ),
    "Spanish": (
        "El ministro del Interior anunció el martes que más de cuarenta soldados afganos "
        "cruzaron la frontera durante la noche. Según un comunicado del ejército, los "
        "militares fueron recibidos en un puesto cerca de Chitral, donde recibieron comida."
    ),
    "German": (
        "Der Innenminister gab am Dienstag bekannt, dass in der Nacht mehr als vierzig "
        "afghanische Soldaten die Grenze überquert haben. Nach einer Mitteilung der Armee "
        "wurden die Soldaten an einem Posten in der Nähe von Chitral aufgenommen."
    ),
    "Indonesian": (
        "Menteri Dalam Negeri mengumumkan pada hari Selasa bahwa lebih dari empat puluh "
        "tentara Afghanistan telah menyeberangi perbatasan pada malam hari. Menurut "
        "pernyataan tentara, para prajurit itu diterima di sebuah pos dekat Chitral."
    ),
}
URDU = (
    "پاکستانی فوج نے کہا ہے کہ افغانستان کی فورسز کے چھیالیس اہلکار اتوار کی رات سرحد پار "
    "کر کے چترال پہنچے جہاں انہیں کھانا اور طبی امداد فراہم کی گئی۔"
)


def test_english_articles_get_no_language_notice(seed_text, squad_dev):
    texts = [seed_text] + [p["context"] for p in squad_dev[0]["paragraphs"][:30]]
    texts.append(seed_text[:3000] + "\n\n" + URDU)  # an English article quoting Urdu
    for text in texts:
        assert ingest.language_notice(text) is None


@pytest.mark.parametrize("language", sorted(FOREIGN))
def test_an_article_in_another_latin_script_language_gets_a_notice(language):
    notice = ingest.language_notice(FOREIGN[language])
    assert notice.startswith("This article does not look like English")
    assert "reads English only" in notice


@pytest.mark.parametrize(
    ("text", "script"),
    [
        (URDU, "Arabic"),
        (
            "Министр внутренних дел объявил во вторник, что более сорока солдат пересекли границу.",
            "Cyrillic",
        ),
        (
            "内政部长周二宣布，四十多名阿富汗士兵在夜间越过边境。这些士兵在奇特拉尔附近的一个哨所被接收。",
            "Chinese",
        ),
        (
            "政府は火曜日、国境を越えた兵士たちに食料と医療を提供したと発表しました。"
            "状況が落ち着けば、兵士たちは自国に送り返されるということです。",
            "Japanese",
        ),
    ],
)
def test_an_article_in_another_script_gets_a_notice_naming_it(text, script):
    assert ingest.language_notice(text).startswith(f"This article is mostly in {script} script")


def test_too_little_text_to_tell_gets_no_notice():
    assert ingest.language_notice("Chitral, 46 — 2021") is None
    assert ingest.language_notice("😀 " * 500) is None


def test_one_line_text_that_starts_like_a_home_folder_is_text():
    """A tweet such as "~nobody-here said 46 soldiers crossed" is text, not "~user" path."""
    document = ingest.load("~nosuchuser said 46 soldiers crossed the border on Sunday")
    assert document.source == "text"
    assert document.text.startswith("~nosuchuser said 46")
