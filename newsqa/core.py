"""NewsQA: composes ingest, chunk, embed, index, generate and answer. The one place that knows
the whole flow; each stage lives in its own module."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from newsqa import dates, ingest
from newsqa.answer import Passage, across_sources, answer_questions, check_question
from newsqa.chunk import Chunk, Sentence, chunk_sentences, split_sentences
from newsqa.confidence import Calibrator
from newsqa.embed import DEFAULT_EMBEDDER, Embedder
from newsqa.errors import InputError, ModelError, NotFoundError, UserError
from newsqa.generate import Seq2SeqGenerator
from newsqa.library import Library, NewArticle
from newsqa.results import Answer, Article, Summary
from newsqa.stories import Story, article_vectors, grouping_texts, grouping_vector

CHUNK_TOKENS = 128
"""Chunk bound in embedding-model tokens: what all-MiniLM-L6-v2 was trained on, and what the
bundled generator sees as one context."""
TOP_K = 4
"""Passages read per question by default."""
MIN_CHUNK_TOKENS = 16
"""The smallest chunk bound ``NewsQA`` accepts: a sentence's worth of tokens."""
GROUP_BATCH = 64
"""Ungrouped articles embedded and placed per commit by ``NewsQA.group_stories``."""
GROUP_PROGRESS_FROM = 200
"""Ungrouped articles from which ``group_stories`` shows a progress bar (on stderr)."""


@dataclass(frozen=True)
class AddResult:
    """What happened to one source given to ``add_many``: added, duplicate or error."""

    source: str
    id: str | None
    status: str
    error: str | None = None


class NewsQA:
    """Ask questions about news articles and summarize them, with a local seq2seq model.

    ``path=None`` keeps the articles in memory; a folder is a persistent library.
    ``device`` is auto, cpu, cuda or mps; ``model`` is the bundled ``newsqa-mini`` by default,
    ``newsqa-base``, an installed local chat model (``smollm2``), a ``.gguf`` file, or any
    Hugging Face seq2seq or chat model's name or local folder. ``grounded`` (default: on for
    our models and chat models) makes every answer a quote of the article. ``precision`` is how the
    generator runs on CPU: auto (fp32 on every CPU: the same answers anywhere), fp32, bf16 or int8
    (faster, answers a little worse); ``$NEWSQA_PRECISION`` sets the default.

    ``Answer.confidence`` is the probability that an answer is right, from the model's
    calibrator (``calibration.json`` beside it, fitted on questions held out of training). An
    answer is given when it reaches ``min_confidence`` (default: the bar chosen for a news
    reader's mix of questions, mostly answerable); ``strict=True`` uses the calibrator's higher
    bar, chosen for SQuAD-style questions written to trick a reader. Lower bars answer more often.
    ``verify=True`` (or ``$NEWSQA_VERIFY=1``; newsqa-mini, fp32 or bf16) has a second model, the
    answer verifier, read each candidate with its sentence and uses the calibrator fitted with
    it: confidence that separates right from wrong better, about 30 ms more per question.
    ``top_k`` passages are read per question; ``chunk_tokens`` bounds a passage (embedder
    tokens) for articles added from here on (the model card's "Wider passages" measures both).
    """

    def __init__(
        self,
        path: str | None = None,
        device: str | None = "auto",
        model: str | None = None,
        embedder: str | None = None,
        top_k: int = TOP_K,
        chunk_tokens: int = CHUNK_TOKENS,
        grounded: bool | None = None,
        precision: str | None = None,
        min_confidence: float | None = None,
        strict: bool = False,
        verify: bool | None = None,
    ):
        self.generator = Seq2SeqGenerator(model, device=device, precision=precision)
        self.device = self.generator.device
        if top_k < 1:
            raise InputError(f"top_k is how many passages to read: {top_k} is below 1")
        if not MIN_CHUNK_TOKENS <= chunk_tokens <= self.generator.max_input_tokens:
            raise InputError(
                f"chunk_tokens must be {MIN_CHUNK_TOKENS} to "
                f"{self.generator.max_input_tokens} (what the model reads), not {chunk_tokens}"
            )
        self.library = Library(path)
        self.embedder = Embedder(
            embedder or os.environ.get("NEWSQA_EMBEDDER") or DEFAULT_EMBEDDER, device=self.device
        )
        self.top_k = top_k
        self.chunk_tokens = chunk_tokens
        if verify is None:
            verify = os.environ.get("NEWSQA_VERIFY", "").strip() not in ("", "0")
        self.calibrator = self._calibrator(verify)
        if min_confidence is None:
            bar = self.calibrator.strict_confidence if strict else self.calibrator.min_confidence
            min_confidence = bar
        if not 0.0 <= min_confidence <= 1.0:
            raise InputError(f"min_confidence is a probability: {min_confidence} is not in 0..1")
        self.min_confidence = min_confidence
        if grounded is None:
            grounded = self.generator.is_bundled or self.generator.decoder_only
        self.grounded = grounded
        if self.library.embedder in (None, self.embedder.name):
            self.group_stories()  # a library made before stories: grouped once, here

    # -- articles ---------------------------------------------------------------------------

    def add(
        self, source: str, title: str | None = None, published: str | date | None = None
    ) -> Article:
        """Add an article: text, HTML, a file path, ``-`` for stdin, or a URL.

        ``published`` (``YYYY-MM-DD`` or a ``date``) is its publication date; when not given,
        the page's metadata or the text's dateline gives it, if either states a full date
        (``Article.published`` is None otherwise). An article already added keeps its date.
        """
        return self._store(self.prepare(source, title, published=published))

    def add_text(
        self, text: str, title: str | None = None, published: str | date | None = None
    ) -> Article:
        """Add an article given as text or HTML, never read as a path or URL (a one-line text
        such as "notes.txt" is the text itself). ``published``: as for ``add``."""
        return self._store(self.prepare(text, title, as_text=True, published=published))

    def _store(self, prepared: NewArticle) -> Article:
        if prepared.article.id not in self.library:
            self.library.add([prepared])
        return self.library.get(prepared.article.id)

    def add_many(
        self,
        sources: list[str],
        batch_size: int = 32,
        on_progress: Callable[[int], None] | None = None,
        published: str | date | None = None,
    ) -> list[AddResult]:
        """Add many articles, committing in batches (memory stays bounded).

        A source that cannot be read is reported and skipped; duplicates (by content) too.
        ``published``: the publication date of every source, as for ``add``.
        """
        if published is not None:
            published = dates.parse_date(published, "published")
        results: list[AddResult | None] = [None] * len(sources)
        pending: list[tuple[int, NewArticle]] = []

        def commit() -> None:
            stored = self.library.add([item for _, item in pending])
            for (number, item), fresh in zip(pending, stored):
                status = "added" if fresh else "duplicate"
                results[number] = AddResult(sources[number], item.article.id, status)
            pending.clear()

        for number, source in enumerate(sources):
            try:
                item = self.prepare(source, published=published)
            except UserError as error:
                results[number] = AddResult(source, None, "error", str(error))
            else:
                if item.article.id in self.library or any(
                    p.article.id == item.article.id for _, p in pending
                ):
                    results[number] = AddResult(source, item.article.id, "duplicate")
                else:
                    pending.append((number, item))
                    if len(pending) >= batch_size:
                        commit()
            if on_progress:
                on_progress(number + 1)
        commit()
        return [r for r in results if r is not None]

    def prepare(
        self,
        source: str,
        title: str | None = None,
        as_text: bool = False,
        published: str | date | None = None,
    ) -> NewArticle:
        """Ingest, split, chunk and embed one article, without storing it. ``as_text``: the
        source is the article's text, never a path or URL. ``published``: as for ``add``."""
        given = dates.parse_date(published, "published") if published is not None else None
        document = (ingest.load_text if as_text else ingest.load)(source, title=title)
        if given is not None:
            document = replace(document, published=given)
        article, sentences, chunks = split_document(
            document, self.embedder.count_tokens, self.chunk_tokens
        )
        vectors = self.embedder.encode([c.text for c in chunks], progress=len(chunks) > 256)
        # The story texts in a batch of their own: the chunks' vectors stay exactly as before.
        lead, named = grouping_texts(article.title, [s.text for s in sentences])
        grouping = self.embedder.encode([lead] + ([named] if named else []))
        story_vector = grouping_vector(grouping[0], grouping[1] if named else None)
        return NewArticle(article, sentences, chunks, vectors, self.embedder.name, story_vector)

    def _check_embedder(self) -> None:
        if self.library.embedder not in (None, self.embedder.name):
            raise UserError(
                f"this library was indexed with {self.library.embedder!r}, not "
                f"{self.embedder.name!r}: run `newsqa reindex` to re-embed it"
            )

    def reindex(self) -> int:
        """Re-embed every stored chunk with this instance's embedder; returns the chunk count."""
        texts = self.library.reset_vectors()
        vectors = {
            article_id: self.embedder.encode(chunks, progress=True) for article_id, chunks in texts
        }
        self.library.replace_vectors(vectors, self.embedder.name)
        self.group_stories()  # the old embedder's grouping vectors were dropped
        return sum(len(chunks) for _, chunks in texts)

    def articles(
        self, since: str | date | None = None, until: str | date | None = None
    ) -> list[Article]:
        """The added articles, oldest added first; with ``since``/``until`` (inclusive), only
        those published in that range (an article with no date is in no range)."""
        return self.library.articles(*dates.check_range(since, until))

    def remove(self, *articles: str | Article) -> None:
        """Remove articles: their text never appears in answers again, and each leaves its
        story (see ``stories``)."""
        self.library.remove([_article_id(a) for a in articles])

    # -- stories ----------------------------------------------------------------------------

    def stories(
        self, since: str | date | None = None, until: str | date | None = None
    ) -> list[Story]:
        """The added articles grouped by the event they report (``newsqa.stories``), by story
        id (the order stories began). Each ``Story`` has its title, its articles (id, title,
        date, source; ``duplicates``: near-identical copies of a member) and its first and last
        dates. With ``since``/``until`` (inclusive), the stories with an article published in
        that range, each holding only those articles (an undated article is in no range).

        Every added article is placed in a story as it is added; nothing placed ever moves to
        another story. A removed article leaves its story (a duplicate of it takes its place).
        """
        start, end = dates.check_range(since, until)
        self._check_embedder()
        self.group_stories()
        return self.library.stories(start, end)

    def group_stories(self) -> int:
        """Place the articles that are in no story yet (those of a library made before stories,
        or added by ``newsqa add --ray``), oldest published first, committing every
        ``GROUP_BATCH``; a progress bar on stderr when there are many. Returns how many."""
        total = self.library.ungrouped_count()
        if not total:
            return 0
        from tqdm.auto import tqdm

        placed = 0
        tried: set[str] = set()
        with tqdm(
            total=total,
            desc="Grouping articles into stories",
            unit="article",
            disable=total < GROUP_PROGRESS_FROM,
        ) as bar:
            while batch := [a for a in self.library.ungrouped(GROUP_BATCH) if a.id not in tried]:
                tried.update(a.id for a in batch)
                vectors = article_vectors(self.embedder, [(a.title, a.text) for a in batch])
                placed += self.library.group(list(zip(batch, vectors)))
                bar.update(len(batch))
        return placed

    # -- questions --------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        article: str | Article | None = None,
        top_k: int | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
        story: int | None = None,
    ) -> Answer:
        """Answer one question from one article, or from all added articles (``None``).

        ``since``/``until`` (``YYYY-MM-DD`` or a ``date``, inclusive, either may be left open)
        restrict the answer to articles published in that range; an article with no
        publication date is left out whenever a range is given. ``Answer.date`` is the date
        an answer such as "late Sunday" means, when its article is dated.

        ``story`` (an id of ``stories()``) asks every article of that story: the answer is the
        surest of theirs, and ``Answer.sources`` says what each article says and whether it
        agrees ("46" in two articles, "50" in a third).
        """
        return self.ask_many(
            [question], article=article, top_k=top_k, since=since, until=until, story=story
        )[0]

    def ask_many(
        self,
        questions: list[str],
        article: str | Article | None = None,
        top_k: int | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
        story: int | None = None,
    ) -> list[Answer]:
        """Answer many questions in one batched pass over the generator (``since``/``until``
        and ``story``: as for ``ask``)."""
        if isinstance(questions, str):
            raise InputError("ask_many takes a list of questions")
        cleaned = [check_question(q) for q in questions]
        if story is not None:
            if article is not None:
                raise InputError("give an article or a story, not both")
            return self._ask_story(cleaned, story, top_k or self.top_k, since, until)
        passages = self.retrieve_many(
            cleaned, article, top_k or self.top_k, since=since, until=until
        )
        return self._answers(cleaned, passages)

    def _ask_story(
        self,
        questions: list[str],
        story: int,
        top_k: int,
        since: str | date | None,
        until: str | date | None,
    ) -> list[Answer]:
        """Each question asked of each of the story's articles in one batch, then combined."""
        start, end = dates.check_range(since, until)
        found = self.story(story).within(start, end)
        if found is None:
            raise InputError(f"story {story} has no article published {_range_text(start, end)}")
        members = [self.library.get(i) for i in found.article_ids]
        retrieved = [self.retrieve_many(questions, member, top_k) for member in members]
        answers = self._answers(
            [q for _ in members for q in questions], [p for each in retrieved for p in each]
        )
        count = len(questions)
        return [
            across_sources([answers[a * count + q] for a in range(len(members))], members)
            for q in range(count)
        ]

    def story(self, story: int) -> Story:
        """One story of ``stories()``, by id (a ``NotFoundError`` for an unknown one)."""
        found = {s.id: s for s in self.stories()}
        if story not in found:
            known = ", ".join(str(i) for i in found) or "none yet"
            raise NotFoundError(f"no story {story} (stories: {known})")
        return found[story]

    def _calibrator(self, verify: bool) -> Calibrator:
        """The model's calibrator; with ``verify``, the one fitted with the answer verifier."""
        generator = self.generator
        if not verify:
            return Calibrator.load(generator.calibration_file, generator.precision)
        if generator.precision == "int8":
            raise InputError("verify is calibrated on fp32 answers: use precision fp32 or bf16")
        try:
            return Calibrator.load(generator.calibration_file, generator.precision, "verified")
        except KeyError:
            raise InputError(f"{generator.name} has no answer verifier (newsqa-mini has)") from None

    @property
    def verifier(self):
        """The answer verifier stored beside the calibrator, when the calibrator weighs it."""
        if not self.calibrator.weights.get("verifier"):
            return None
        from newsqa import verifier

        folder = self.generator.calibration_file.parent / "verifier"
        loaded = verifier.load(folder)
        if loaded is None:
            raise ModelError(f"the calibrator weighs an answer verifier, but {folder} has none")
        return loaded

    def _answers(self, cleaned: list[str], passages: list[list[Passage]]) -> list[Answer]:
        """Each question's answer from its passages, with its notice and date."""
        answers = answer_questions(
            self.generator,
            cleaned,
            passages,
            grounded=self.grounded,
            calibrator=self.calibrator,
            min_confidence=self.min_confidence,
            verifier=self.verifier,
        )
        notices: dict[str, str | None] = {}

        def notice(found: list[Passage], answer: Answer) -> str | None:
            """The language notice of the article answered from (else the best retrieved)."""
            cited = answer.evidence[0].article_id if answer.evidence else None
            passage = next((p for p in found if p.article_id == cited), found[0] if found else None)
            if passage is None:
                return None
            if passage.article_id not in notices:
                notices[passage.article_id] = ingest.language_notice(passage.text)
            return notices[passage.article_id]

        def date_of(found: list[Passage], answer: Answer) -> str | None:
            """The date the answer states, resolved against its article's publication date."""
            if not answer.answerable or not answer.evidence:
                return None
            cited = answer.evidence[0].article_id
            passage = next((p for p in found if p.article_id == cited), None)
            return dates.resolve(answer.text, passage.published if passage else None)

        return [
            replace(a, notice=notice(found, a), date=date_of(found, a))
            for a, found in zip(answers, passages)
        ]

    def retrieve(
        self,
        question: str,
        article: str | Article | None,
        k: int,
        since: str | date | None = None,
        until: str | date | None = None,
    ) -> list[Passage]:
        """The ``k`` chunks that best match the question, by hybrid dense + BM25 ranking
        (``since``/``until``: as for ``ask``)."""
        return self.retrieve_many([question], article, k, since=since, until=until)[0]

    def retrieve_many(
        self,
        questions: list[str],
        article: str | Article | None,
        k: int,
        since: str | date | None = None,
        until: str | date | None = None,
    ) -> list[list[Passage]]:
        """``retrieve`` for many questions, their embeddings computed in one batch."""
        start, end = dates.check_range(since, until)
        if len(self.library) == 0:
            raise InputError("no articles added: add one first")
        self._check_embedder()
        article_id = _article_id(article) if article is not None else None
        if article_id is not None:
            found = self.library.get(article_id)
            if (start or end) and not _published_between(found.published, start, end):
                raise InputError(
                    f"article {article_id} was published {found.published or 'on no known date'}"
                    f", outside {_range_text(start, end)}"
                )
        elif (start or end) and self.library.count(start, end) == 0:
            raise InputError(
                f"no article was published {_range_text(start, end)} "
                "(articles with no publication date are left out of a date range)"
            )
        allowed = self.library.scope(article_id, start, end)  # once for every question
        vectors = self.embedder.encode(questions)
        return [
            [
                Passage(
                    found.article.id,
                    found.article.title,
                    found.article.text,
                    found.chunk,
                    found.sentences,
                    hit.similarity,
                    found.article.published,
                )
                for found, hit in self.library.search(vector, question, k, allowed)
            ]
            for question, vector in zip(questions, vectors)
        ]

    # -- summaries --------------------------------------------------------------------------

    def summarize(
        self,
        article: str | Article | None = None,
        max_words: int = 80,
        strategy: str = "compress",
        headline: bool = False,
    ) -> Summary:
        """Summarize one article (or the only one added), of any length.

        ``compress`` (default) ranks the leading, central sentences and the model shortens
        each; ``map-reduce`` summarizes every window of the article, then the summaries. Either
        way a rewrite is kept only if it is faithful to its sentence (its words, names and
        numbers, its main verb; see ``newsqa.faithful``), else the sentence stands as written.
        With ``headline`` the model also writes ``Summary.headline`` from the lead.
        Scores: benchmarks/eval_summarize.py.
        """
        from newsqa.summaries import summarize_article

        if article is None:
            added = self.library.articles()
            if len(added) != 1:
                raise InputError("name the article to summarize" if added else "no articles added")
            article = added[0]
        found = self.library.get(_article_id(article))
        summary = summarize_article(
            self.generator,
            found,
            self.library.sentences(found.id),
            max_words,
            embed=self.embedder.encode,
            strategy=strategy,
            headline=headline,
        )
        return replace(summary, notice=ingest.language_notice(found.text))

    def summarize_story(
        self,
        story: int | None = None,
        articles: list[str | Article] | None = None,
        max_words: int | None = None,
    ) -> Summary:
        """One summary of a story (``stories()``'s id) or of the ``articles`` given: the
        sentences that say most about the event, from all its articles, each said once, every
        one citing its article (``Summary.evidence``), in time order. Each is an article's own
        sentence (or a clause cut of it), so no name, number or date is in it that its article
        lacks. ``max_words``: ``story_summary.MAX_WORDS`` (250) unless given. Scores:
        benchmarks/eval_story_summaries.py."""
        from newsqa.story_summary import MAX_WORDS, summarize_story

        if (story is None) == (articles is None):
            raise InputError("give a story id or a list of articles")
        if story is not None:
            articles = self.story(story).article_ids
        if not articles:
            raise InputError("no articles to summarize")
        chosen = [self.library.get(_article_id(article)) for article in articles]
        summary = summarize_story(
            [(article, self.library.sentences(article.id)) for article in chosen],
            self.embedder.encode,
            max_words or MAX_WORDS,
        )
        return replace(summary, notice=ingest.language_notice(" ".join(a.text for a in chosen[:3])))


def split_document(
    document: ingest.Document,
    count_tokens: Callable[[str], int],
    chunk_tokens: int = CHUNK_TOKENS,
) -> tuple[Article, list[Sentence], list[Chunk]]:
    """A cleaned document's article (its id: the text's hash), sentences and chunks: all that
    ``NewsQA.prepare`` makes but the vectors (``newsqa.batch`` runs the two steps apart)."""
    article_id = hashlib.sha256(document.text.encode("utf-8")).hexdigest()[:12]
    article = Article(
        article_id, document.title, document.text, document.source, document.published
    )
    sentences = split_sentences(document.text)
    if not sentences:
        raise InputError(f"{document.source} holds no sentences")
    chunks = chunk_sentences(document.text, sentences, count_tokens, max_tokens=chunk_tokens)
    return article, sentences, chunks


def _article_id(article: str | Article) -> str:
    return article.id if isinstance(article, Article) else article


def _published_between(published: str | None, since: str | None, until: str | None) -> bool:
    return published is not None and (since or published) <= published <= (until or published)


def _range_text(since: str | None, until: str | None) -> str:
    if since and until:
        return f"from {since} to {until}"
    return f"since {since}" if since else f"until {until}"
