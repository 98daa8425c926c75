"""NewsQA: composes ingest, chunk, embed, index, generate and answer. The one place that knows
the whole flow; each stage lives in its own module."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from newsqa import ingest
from newsqa.answer import Passage, answer_questions, check_question
from newsqa.chunk import Chunk, Sentence, chunk_sentences, split_sentences
from newsqa.embed import DEFAULT_EMBEDDER, Embedder
from newsqa.errors import InputError, NotFoundError, UserError
from newsqa.generate import Seq2SeqGenerator
from newsqa.index import HybridIndex
from newsqa.results import Answer, Article, Summary

CHUNK_TOKENS = 128
"""Chunk bound in embedding-model tokens: what all-MiniLM-L6-v2 was trained on, and what the
bundled generator sees as one context."""


@dataclass
class _Stored:
    article: Article
    sentences: list[Sentence]
    chunks: list[Chunk]
    chunk_ids: list[int]


class NewsQA:
    """Ask questions about news articles and summarize them, with a local seq2seq model.

    ``path=None`` keeps the articles in memory. ``device`` is auto, cpu, cuda or mps;
    ``model`` is the bundled ``newsqa-mini`` by default, or any Hugging Face seq2seq model name
    or local folder. ``grounded`` (default: on for the bundled model) makes answers quotes.
    """

    def __init__(
        self,
        path: str | None = None,
        device: str | None = "auto",
        model: str | None = None,
        embedder: str = DEFAULT_EMBEDDER,
        top_k: int = 4,
        grounded: bool | None = None,
        quantize: bool = False,
    ):
        if path is not None:
            raise UserError("persistent libraries are not available yet: use NewsQA() in memory")
        self.generator = Seq2SeqGenerator(model, device=device, quantize=quantize)
        self.device = self.generator.device
        self.embedder = Embedder(embedder, device=self.device)
        self.top_k = top_k
        self.grounded = self.generator.is_bundled if grounded is None else grounded
        self._articles: dict[str, _Stored] = {}
        self._chunk_owner: dict[int, tuple[str, int]] = {}
        self._next_chunk_id = 0
        self._index: HybridIndex | None = None

    # -- articles ---------------------------------------------------------------------------

    def add(self, source: str, title: str | None = None) -> Article:
        """Add an article: text, HTML, a file path, ``-`` for stdin, or a URL."""
        document = ingest.load(source, title=title)
        article_id = hashlib.sha256(document.text.encode("utf-8")).hexdigest()[:12]
        if article_id in self._articles:
            return self._articles[article_id].article
        article = Article(article_id, document.title, document.text, document.source)
        sentences = split_sentences(document.text)
        if not sentences:
            raise InputError(f"{document.source} holds no sentences")
        chunks = chunk_sentences(
            document.text, sentences, self.embedder.count_tokens, max_tokens=CHUNK_TOKENS
        )
        vectors = self.embedder.encode([c.text for c in chunks], progress=len(chunks) > 256)
        ids = list(range(self._next_chunk_id, self._next_chunk_id + len(chunks)))
        self._next_chunk_id += len(chunks)
        if self._index is None:
            self._index = HybridIndex(vectors.shape[1])
        self._index.add(ids, vectors, [c.text for c in chunks])
        for number, chunk_id in enumerate(ids):
            self._chunk_owner[chunk_id] = (article_id, number)
        self._articles[article_id] = _Stored(article, sentences, chunks, ids)
        return article

    def articles(self) -> list[Article]:
        return [stored.article for stored in self._articles.values()]

    def remove(self, article: str | Article) -> None:
        stored = self._stored(article)
        if self._index is not None:
            self._index.remove(stored.chunk_ids)
        for chunk_id in stored.chunk_ids:
            self._chunk_owner.pop(chunk_id, None)
        del self._articles[stored.article.id]

    def _stored(self, article: str | Article) -> _Stored:
        key = article.id if isinstance(article, Article) else article
        if key not in self._articles:
            raise NotFoundError(f"no article with id {key!r}")
        return self._articles[key]

    # -- questions --------------------------------------------------------------------------

    def ask(
        self, question: str, article: str | Article | None = None, top_k: int | None = None
    ) -> Answer:
        """Answer one question from one article, or from all added articles (``None``)."""
        return self.ask_many([question], article=article, top_k=top_k)[0]

    def ask_many(
        self, questions: list[str], article: str | Article | None = None, top_k: int | None = None
    ) -> list[Answer]:
        """Answer many questions in one batched pass over the generator."""
        if isinstance(questions, str):
            raise InputError("ask_many takes a list of questions")
        cleaned = [check_question(q) for q in questions]
        passages = [self.retrieve(q, article, top_k or self.top_k) for q in cleaned]
        return answer_questions(self.generator, cleaned, passages, grounded=self.grounded)

    def retrieve(self, question: str, article: str | Article | None, k: int) -> list[Passage]:
        """The ``k`` chunks that best match the question, by hybrid dense + BM25 ranking."""
        if not self._articles or self._index is None:
            raise InputError("no articles added: add one first")
        allowed = set(self._stored(article).chunk_ids) if article is not None else None
        vector = self.embedder.encode([question])[0]
        passages = []
        for hit in self._index.search(vector, question, k, allowed=allowed):
            article_id, number = self._chunk_owner[hit.chunk_id]
            stored = self._articles[article_id]
            passages.append(
                Passage(
                    article_id,
                    stored.article.title,
                    stored.article.text,
                    stored.chunks[number],
                    stored.sentences,
                    hit.similarity,
                )
            )
        return passages

    # -- summaries --------------------------------------------------------------------------

    def summarize(self, article: str | Article | None = None, max_words: int = 80) -> Summary:
        """Summarize one article (or the only one added); works on any length (map-reduce)."""
        from newsqa.summarize import summarize_article

        if article is None:
            if len(self._articles) != 1:
                raise InputError(
                    "name the article to summarize" if self._articles else "no articles added"
                )
            article = next(iter(self._articles))
        stored = self._stored(article)
        return summarize_article(self.generator, stored.article, stored.sentences, max_words)
