"""The public result types: plain dataclasses, easy to print and to turn into JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Article:
    """An added article. ``text`` is the cleaned text that every offset refers to.

    ``published`` is its publication date (ISO ``YYYY-MM-DD``) or None: given to ``add``, else
    read from the page's metadata or the text's dateline (``newsqa.dates``).
    """

    id: str
    title: str | None
    text: str
    source: str = "text"
    published: str | None = None


@dataclass(frozen=True)
class Evidence:
    """Where an answer or summary comes from: ``article.text[start:end]`` is the quoted span."""

    article_id: str
    title: str | None
    sentence: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class SourceAnswer:
    """What one article of a story says to a question: its own answer (or that it does not
    say), that answer's confidence, and whether it ``agrees`` with the story's answer (the same
    answer, or one holding the other: "46" and "46 members")."""

    article_id: str
    title: str | None
    published: str | None
    text: str
    answerable: bool
    confidence: float
    agrees: bool
    evidence: list[Evidence] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    """An answer; ``answerable`` is False when the article does not say.

    ``confidence`` is the calibrated probability that the answer is right (for a refusal: that
    the article indeed does not say); ``evidence`` cites the sentence the answer is quoted from.
    ``notice`` says when the article read is mostly not English (the bundled models read
    English only). ``date`` is the date or range an answer that states one means
    (``YYYY-MM-DD`` or ``YYYY-MM-DD/YYYY-MM-DD``): "late Sunday" in an article published on
    Monday 2021-07-26 is 2021-07-25; None when the answer states no date, or a relative one
    in an undated article (``newsqa.dates.resolve``). ``sources``: for a question asked of a
    story, what each of its articles says (``SourceAnswer``), in the story's time order.
    ``calibrated`` is False for a model nobody has calibrated yet (``newsqa calibrate``): its
    ``confidence`` is then a score that ranks answers, not a probability.
    """

    text: str
    answerable: bool
    confidence: float
    evidence: list[Evidence] = field(default_factory=list)
    notice: str | None = None
    date: str | None = None
    sources: list[SourceAnswer] = field(default_factory=list)
    calibrated: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Summary:
    """A summary written by the generator, with the sentences it draws on as evidence.

    Each summary sentence is an article sentence or a faithful shortening of one; ``evidence``
    cites them in order, and ``sentences`` holds them (``text`` joins them). ``headline`` is set
    when asked for.
    """

    text: str
    evidence: list[Evidence] = field(default_factory=list)
    notice: str | None = None  # as for Answer: the article is mostly not English
    headline: str | None = None
    sentences: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)
