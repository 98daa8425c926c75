from newsqa.chunk import chunk_sentences, split_sentences
from newsqa.embed import Embedder


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


def test_seed_sentence_is_found_whole(seed_text):
    texts = [s.text for s in split_sentences(seed_text)]
    assert any(t.startswith("The statement said a total of 46 members") for t in texts)


def test_chunks_respect_the_token_bound_and_overlap(seed_text):
    embedder = Embedder()
    sentences = split_sentences(seed_text)
    chunks = chunk_sentences(seed_text, sentences, embedder.count_tokens, max_tokens=64)
    assert len(chunks) > 3
    for chunk in chunks:
        assert seed_text[chunk.start : chunk.end] == chunk.text
        if chunk.first_sentence != chunk.last_sentence:
            assert embedder.count_tokens(chunk.text) <= 64 + 2
    for before, after in zip(chunks, chunks[1:]):
        assert after.first_sentence <= before.last_sentence + 1
    assert chunks[-1].last_sentence == len(sentences) - 1
