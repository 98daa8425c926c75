import time

import pytest

from newsqa.chunk import CHUNK_CHARS, WINDOW_CHARS, _segmenter, chunk_sentences, split_sentences
from newsqa.embed import Embedder, bundled_embedder_path


@pytest.fixture(scope="module")
def count_tokens():
    """all-MiniLM-L6-v2's token count (``Embedder.count_tokens``), without loading the model."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(bundled_embedder_path(verify=False) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def _unpunctuated(words: int) -> str:
    vocabulary = ["border", "soldiers", "crossed", "Chitral", "forces", "late", "Sunday", "46"]
    return " ".join(vocabulary[(i * 7 + i // 3) % len(vocabulary)] for i in range(words))


def _assert_exact_and_whole(text, sentences):
    """Every sentence is its slice of the text, in order, and only white space is left out."""
    cursor = 0
    for sentence in sentences:
        assert text[sentence.start : sentence.end] == sentence.text
        assert sentence.text and sentence.text == sentence.text.strip()
        assert sentence.start >= cursor and not text[cursor : sentence.start].strip()
        cursor = sentence.end
    assert not text[cursor:].strip()


def test_sentences_keep_exact_offsets_on_the_seed_and_on_squad(seed_text, squad_dev):
    texts = [seed_text] + [p["context"] for p in squad_dev[0]["paragraphs"][:20]]
    for text in texts:
        sentences = split_sentences(text)
        assert sentences
        for sentence in sentences:
            assert text[sentence.start : sentence.end] == sentence.text


def test_news_abbreviations_do_not_split_sentences():
    text = "The U.S. military said Mr. Khan left at 5 p.m. on Monday. He returned on Friday."
    assert [s.text for s in split_sentences(text)] == [
        "The U.S. military said Mr. Khan left at 5 p.m. on Monday.",
        "He returned on Friday.",
    ]


def test_a_closing_quote_stays_with_its_sentence_and_a_list_number_with_the_next():
    text = (
        "The child was rescued. 'I did not understand how they let the kid go over the thing.'"
        " Police said. They revealed a dozen oddities. 7. Manny loves his peanut butter cups."
    )
    assert [s.text for s in split_sentences(text)] == [
        "The child was rescued.",
        "'I did not understand how they let the kid go over the thing.'",
        "Police said.",
        "They revealed a dozen oddities.",
        "7. Manny loves his peanut butter cups.",
    ]


def test_a_sentence_that_goes_on_after_a_closing_quote_is_not_cut_there():
    text = (
        "'We are proud to honour her work for musicians.' said the academy's president, Ann Lee."
        " The evening's other guests included two senators."
    )
    assert [s.text for s in split_sentences(text)] == [
        "'We are proud to honour her work for musicians.' said the academy's president, Ann Lee.",
        "The evening's other guests included two senators.",
    ]


def test_seed_sentence_is_found_whole(seed_text):
    texts = [s.text for s in split_sentences(seed_text)]
    assert any(t.startswith("The statement said a total of 46 members") for t in texts)


def test_a_long_paragraph_split_by_windows_gets_the_sentences_pysbd_gives_it_whole(seed_text):
    paragraph = " ".join(p.strip() for p in seed_text.split("\n\n") if p.strip())
    assert len(paragraph) > 2 * WINDOW_CHARS
    whole = [s.strip() for s in _segmenter().segment(paragraph)]
    sentences = split_sentences(paragraph)
    assert [s.text for s in sentences] == whole
    _assert_exact_and_whole(paragraph, sentences)


def test_text_without_sentence_ends_is_cut_at_white_space_in_linear_time():
    text = _unpunctuated(40_000)  # 260,000 characters: pysbd alone took minutes
    started = time.perf_counter()
    sentences = split_sentences(text)
    assert time.perf_counter() - started < 2.0
    _assert_exact_and_whole(text, sentences)
    assert len(sentences) >= len(text) // WINDOW_CHARS
    for sentence in sentences:
        assert len(sentence.text) <= WINDOW_CHARS
        assert sentence.end == len(text) or text[sentence.end] == " "  # no word is cut


def test_each_line_of_unpunctuated_text_is_a_sentence():
    text = "Breaking news from the border\nsoldiers crossed late Sunday\n46 members in all"
    assert [s.text for s in split_sentences(text)] == text.split("\n")


def test_one_giant_token_is_cut_into_window_sized_sentences():
    text = "Before it came this. " + "x" * 150_000 + " and after it"
    started = time.perf_counter()
    sentences = split_sentences(text)
    assert time.perf_counter() - started < 2.0
    _assert_exact_and_whole(text, sentences)
    assert max(len(s.text) for s in sentences) == WINDOW_CHARS
    assert sentences[0].text == "Before it came this."


def test_chunks_respect_the_token_bound_and_overlap(seed_text):
    embedder = Embedder()
    sentences = split_sentences(seed_text)
    chunks = chunk_sentences(seed_text, sentences, embedder.count_tokens, max_tokens=64)
    assert len(chunks) > 3
    for chunk in chunks:
        assert seed_text[chunk.start : chunk.end] == chunk.text
        assert embedder.count_tokens(chunk.text) <= 64 + 2
    for before, after in zip(chunks, chunks[1:]):
        assert after.first_sentence <= before.last_sentence + 1
    assert chunks[-1].last_sentence == len(sentences) - 1


@pytest.mark.parametrize(
    ("text", "spaced"),
    [
        (_unpunctuated(3_000), True),
        ("한국어 기사는 글자보다 토큰이 많습니다 " * 300, True),  # more tokens than characters
        ("x" * 30_000, False),
        ("It began. " + "http://example.com/" + "a/" * 3_000 + " It ended.", False),
    ],
    ids=["unpunctuated", "korean-without-spaces", "giant-token", "long-url"],
)
def test_a_sentence_over_the_token_bound_is_cut_into_chunks_that_fit(text, spaced, count_tokens):
    sentences = split_sentences(text)
    started = time.perf_counter()
    chunks = chunk_sentences(text, sentences, count_tokens, max_tokens=128)
    assert time.perf_counter() - started < 2.0
    cursor = 0
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert count_tokens(chunk.text) <= 128
        assert len(chunk.text) <= CHUNK_CHARS
        assert not text[cursor : chunk.start].strip()  # nothing lost between chunks
        cursor = max(cursor, chunk.end)
        sentence = sentences[chunk.first_sentence]
        assert sentence.start <= chunk.start and chunk.end <= sentences[chunk.last_sentence].end
    assert not text[cursor:].strip()
    if spaced:  # sentences over the bound were cut, at white space
        assert len(chunks) > len(sentences)
        assert all(c.end == len(text) or text[c.end] == " " for c in chunks)
