"""newsqa: ask questions about news articles and summarize them with a local seq2seq model.

>>> import newsqa
>>> qa = newsqa.NewsQA()
>>> article = qa.add("path/to/article.txt")
>>> qa.ask("how many soldiers?").text
"""

from __future__ import annotations

from newsqa.core import NewsQA
from newsqa.errors import NewsQAError, UserError
from newsqa.results import Answer, Article, Evidence, Summary

__all__ = [
    "Answer",
    "Article",
    "Evidence",
    "NewsQA",
    "NewsQAError",
    "Summary",
    "UserError",
    "ask",
    "summarize",
]
__version__ = "0.1.0"


def ask(question: str, text: str, **options) -> Answer:
    """One-shot: answer ``question`` from ``text`` (text, HTML, a path or a URL)."""
    qa = NewsQA(**options)
    article = qa.add(text)
    return qa.ask(question, article=article.id)


def summarize(text: str, max_words: int = 80, strategy: str = "compress", **options) -> Summary:
    """One-shot: summarize ``text`` (text, HTML, a path or a URL)."""
    qa = NewsQA(**options)
    article = qa.add(text)
    return qa.summarize(article=article.id, max_words=max_words, strategy=strategy)
