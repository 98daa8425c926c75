"""The server's NewsQA engines: one set of loaded models behind several views.

``library`` answers from the library; ``scratch`` holds texts sent with a request, in memory
only (the newest ``MAX_SCRATCH_ARTICLES``). A request with its own confidence bar gets a shallow
copy of either, which shares the models, the library and the calibrator.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

from newsqa.core import NewsQA
from newsqa.errors import InputError
from newsqa.library import Library
from newsqa.results import Article

MAX_SCRATCH_ARTICLES = 32
MAX_VIEWS = 64
"""ingest.load reads a one-line source shorter than this as a path when it may be one."""


class Engines:
    """The library engine, the scratch engine, and copies of both at other confidence bars."""

    def __init__(self, qa: NewsQA):
        self.library = qa
        self.scratch = copy.copy(qa)
        self.scratch.library = Library(None)
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._views: dict[tuple[bool, float], NewsQA] = {}

    def holding(self, article_id: str | None) -> NewsQA:
        """The engine that holds ``article_id``: the library's when it holds it (or for None or
        an unknown id), so that a text another client sends unkept never changes the answers
        about a kept article (BM25 weighs words over all of an engine's articles)."""
        if article_id is None or article_id in self.library.library:
            return self.library
        return self.scratch if article_id in self._recent else self.library

    def get(self, article_id: str) -> Article:
        """An article of the library or of the scratch texts (NotFoundError if neither)."""
        return self.holding(article_id).library.get(article_id)

    def at_bar(self, engine: NewsQA, min_confidence: float | None, strict: bool) -> NewsQA:
        """``engine`` answering at ``min_confidence`` (or the strict bar); itself by default."""
        if strict and min_confidence is not None:
            raise InputError("give strict or min_confidence, not both")
        if strict:
            min_confidence = engine.calibrator.strict_confidence
        if min_confidence is None or min_confidence == engine.min_confidence:
            return engine
        if not 0.0 <= min_confidence <= 1.0:
            raise InputError(f"min_confidence is a probability: {min_confidence} is not in 0..1")
        key = (engine is self.scratch, float(min_confidence))
        if key not in self._views:
            if len(self._views) >= MAX_VIEWS:
                self._views.clear()
            view = copy.copy(engine)
            view.min_confidence = float(min_confidence)
            self._views[key] = view
        return self._views[key]

    def add(
        self, text: str, title: str | None, keep: bool, published: str | None = None
    ) -> tuple[Article, bool]:
        """Add a text to the library (``keep``) or to the scratch texts; returns the article and
        whether it is new. ``published``: as for ``NewsQA.add``. Runs the embedder: call it on
        the batcher's thread."""
        engine = self.library if keep else self.scratch
        before = len(engine.library)
        # never read as a path on this machine
        article = engine.add_text(text, title=title, published=published)
        fresh = len(engine.library) > before
        if not keep:
            self._remember(article.id)
        return article, fresh

    def _remember(self, article_id: str) -> None:
        self._recent[article_id] = None
        self._recent.move_to_end(article_id)
        while len(self._recent) > MAX_SCRATCH_ARTICLES:
            oldest, _ = self._recent.popitem(last=False)
            self.scratch.remove(oldest)
