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
    assert document.text.rstrip().endswith("With additional input from AP, Reuters")


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
