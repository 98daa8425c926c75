"""newsqa: ask questions about news articles and summarize them with a local seq2seq model.

>>> import newsqa
>>> qa = newsqa.NewsQA()
>>> article = qa.add("path/to/article.txt")
>>> qa.ask("how many soldiers?").text
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from newsqa.errors import NewsQAError, UserError

if TYPE_CHECKING:
    from newsqa.core import NewsQA
    from newsqa.results import Answer, Article, Evidence, SourceAnswer, Summary
    from newsqa.stories import Story, StoryArticle

# Loaded on first use, so that the CLI's path through a running server imports no numpy or torch.
_LAZY = {
    "NewsQA": "newsqa.core",
    "Answer": "newsqa.results",
    "Article": "newsqa.results",
    "Evidence": "newsqa.results",
    "SourceAnswer": "newsqa.results",
    "Summary": "newsqa.results",
    "Story": "newsqa.stories",
    "StoryArticle": "newsqa.stories",
}

__all__ = [
    "Answer",
    "Article",
    "Evidence",
    "NewsQA",
    "NewsQAError",
    "SourceAnswer",
    "Story",
    "StoryArticle",
    "Summary",
    "UserError",
    "ask",
    "summarize",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'newsqa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def ask(question: str, text: str, **options) -> Answer:
    """One-shot: answer ``question`` from ``text`` (text, HTML, a path or a URL)."""
    from newsqa.core import NewsQA

    qa = NewsQA(**options)
    article = qa.add(text)
    return qa.ask(question, article=article.id)


def summarize(text: str, max_words: int = 80, strategy: str = "compress", **options) -> Summary:
    """One-shot: summarize ``text`` (text, HTML, a path or a URL)."""
    from newsqa.core import NewsQA

    qa = NewsQA(**options)
    article = qa.add(text)
    return qa.summarize(article=article.id, max_words=max_words, strategy=strategy)
