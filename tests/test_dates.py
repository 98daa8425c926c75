"""Dates: publication dates from pages and datelines, ``published=``, ``since``/``until``, and
the absolute date a relative one in an answer means ("late Sunday" -> 2021-07-25)."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

import newsqa
from newsqa import dates, ingest
from newsqa.errors import InputError

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SEED = SHARED / "seed" / "article.txt"  # the bundled default article (cli.default_article_path)
DATA = SHARED / "data"
MONDAY = "2021-07-26"  # the seed article's Monday: "the ISPR said Monday", "late Sunday"
CROSSING = "when did the soldiers cross the border?"
COUNT = "how many members of the Afghanistan forces crossed the border?"


# -- relative dates in answers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("late Sunday", "2021-07-25"),  # the seed's crossing: the day before a Monday story
        ("crossed the border late Sunday near Chitral", "2021-07-25"),
        ("Sunday night", "2021-07-25"),
        ("on Monday", "2021-07-26"),  # on or before publication: the day itself
        ("last Monday", "2021-07-19"),  # strictly before
        ("next Friday", "2021-07-30"),
        ("this Friday", "2021-07-30"),  # in the publication's week
        ("yesterday", "2021-07-25"),
        ("last night", "2021-07-25"),
        ("today", "2021-07-26"),
        ("tomorrow", "2021-07-27"),
        ("the day before yesterday", "2021-07-24"),
        ("three days ago", "2021-07-23"),
        ("two weeks ago", "2021-07-12"),
        ("last week", "2021-07-19/2021-07-25"),  # Monday to Sunday
        ("this week", "2021-07-26/2021-08-01"),
        ("next week", "2021-08-02/2021-08-08"),
        ("over the weekend", "2021-07-24/2021-07-25"),
        ("this month", "2021-07-01/2021-07-31"),
        ("earlier this month", "2021-07-01/2021-07-26"),
        ("later this month", "2021-07-26/2021-07-31"),
        ("last month", "2021-06-01/2021-06-30"),
        ("six months ago", "2021-01-01/2021-01-31"),
        ("this year", "2021-01-01/2021-12-31"),
        ("earlier this year", "2021-01-01/2021-07-26"),
        ("last year", "2020-01-01/2020-12-31"),
        ("July 1", "2021-07-01"),  # the seed's earlier crossing
        ("on July 1", "2021-07-01"),
        ("1 July", "2021-07-01"),
        ("the 1st of July", "2021-07-01"),
        ("January 3", "2021-01-03"),  # no year: the publication's
        ("in May", "2021-05-01/2021-05-31"),
        ("last July", "2020-07-01/2020-07-31"),
        ("July 5, 2021", "2021-07-05"),  # a full date is itself
        ("Saturday, January 8, 2005", "2005-01-08"),
        ("3 March 2015", "2015-03-03"),
        ("March 2015", "2015-03-01/2015-03-31"),
        ("in 2015", "2015-01-01/2015-12-31"),
    ],
)
def test_a_date_in_an_answer_is_resolved_against_the_publication_date(text, meant):
    assert dates.resolve(text, MONDAY) == meant


@pytest.mark.parametrize(
    "text",
    ["46", "five officers", "Chitral", "Theresa May", "Jan Smith", "2015", "may", "a week", ""],
)
def test_what_states_no_date_resolves_to_none(text):
    assert dates.resolve(text, MONDAY) is None


def test_a_year_is_taken_from_the_nearest_publication_when_it_is_near():
    assert dates.resolve("December 28", "2021-01-03") == "2020-12-28"
    assert dates.resolve("January 3", "2020-12-28") == "2021-01-03"
    assert dates.resolve("in December", "2021-01-10") == "2020-12-01/2020-12-31"
    assert dates.resolve("February 29", "2021-03-01") is None  # no such day near 2021


def test_weekdays_and_weekends_follow_the_news_convention():
    sunday = "2021-07-25"
    assert dates.resolve("Sunday", sunday) == sunday  # the day itself
    assert dates.resolve("Saturday", sunday) == "2021-07-24"
    assert dates.resolve("Monday", sunday) == "2021-07-19"
    assert dates.resolve("last weekend", sunday) == "2021-07-17/2021-07-18"
    assert dates.resolve("over the weekend", sunday) == "2021-07-24/2021-07-25"


def test_without_a_publication_date_only_full_dates_resolve():
    assert dates.resolve("late Sunday", None) is None
    assert dates.resolve("last week", None) is None
    assert dates.resolve("July 1", None) is None
    assert dates.resolve("July 5, 2021", None) == "2021-07-05"


# -- user input -------------------------------------------------------------------------------


def test_dates_from_the_user_are_checked():
    assert dates.parse_date("2021-07-05") == "2021-07-05"
    assert dates.parse_date(date(2021, 7, 5)) == "2021-07-05"
    for bad in ["2021-13-01", "2021-02-30", "5 July 2021", "yesterday", "", "2021-7-5", 20210705]:
        with pytest.raises(InputError) as raised:
            dates.parse_date(bad, "published")
        message = str(raised.value)
        assert "\n" not in message and message.startswith("published must be a date as YYYY-MM-DD")
    with pytest.raises(InputError, match="after until"):
        dates.check_range("2021-08-01", "2021-07-01")


# -- publication dates from HTML pages -------------------------------------------------------

BODY = """<h1>Council adopts the town budget</h1>
<p>The town council adopted its budget for the coming year after a long debate on Tuesday
evening, with nine votes in favour and two against.</p>
<p>The budget raises spending on schools and roads, and the mayor said the new library would
open before the winter if the builders keep to their schedule.</p>
<p>Opposition members said the plan leaves too little for the bus service, which lost two
routes last spring.</p>"""


def page(head: str = "", before_body: str = "", footer: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head><title>Council adopts the town budget</title>{head}</head>"
        f"<body><article>{before_body}{BODY}</article>{footer}</body></html>"
    )


@pytest.mark.parametrize(
    "html",
    [
        page('<meta property="article:published_time" content="2021-07-05T10:00:00Z">'),
        page(
            '<script type="application/ld+json">{"@context": "https://schema.org", '
            '"@type": "NewsArticle", "headline": "Council adopts the town budget", '
            '"datePublished": "2021-07-05T22:30:00-05:00", "dateModified": "2021-07-09"}'
            "</script>"
        ),
        page('<meta name="date" content="2021-07-05">'),
        page(before_body='<time datetime="2021-07-05T08:00" pubdate>5 July</time>'),
        page('<link rel="canonical" href="https://news.example.com/2021/07/05/budget.html">'),
    ],
    ids=["article:published_time", "json-ld", "meta date", "time element", "url"],
)
def test_a_page_gives_its_publication_date(html):
    document = ingest.load_text(html)
    assert document.published == "2021-07-05"
    assert document.text.startswith("Council adopts")


def test_a_page_without_a_date_gets_none_and_no_guess():
    assert ingest.load_text(page()).published is None
    # htmldate's extensive search would read the copyright year as 2021-01-01: not a date
    footer = "<footer><p>© 2021 Town News. All rights reserved.</p></footer>"
    assert ingest.load_text(page(footer=footer)).published is None


def test_a_page_without_metadata_gives_its_dateline():
    dateline = "<p>SPRINGFIELD, July 5, 2021 (Reuters) - The council met.</p>"
    assert ingest.load_text(page(before_body=dateline)).published == "2021-07-05"


# -- datelines in real articles ---------------------------------------------------------------


@pytest.fixture(scope="module")
def multiling() -> dict[str, dict]:
    return {row["id"]: row for row in _jsonl(DATA / "multiling2011-en-events.jsonl.gz")}


@pytest.fixture(scope="module")
def agnews() -> dict[str, str]:
    rows = _jsonl(DATA / "summ-train.jsonl.gz")
    return {row["id"]: row["article"] for row in rows if row["source"] == "agnews-headline"}


def _jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_a_leading_date_line_is_the_publication_date(multiling):
    """WikiNews copies open with "Saturday, January 8, 2005"; where the set gives the date, it
    is the one read."""
    read = {key: dates.dateline(row["text"]) for key, row in multiling.items()}
    assert read["M0000.english"] == multiling["M0000.english"]["date"] == "2005-01-08"
    assert read["M0006.english"] == "2004-12-29"  # "December 29, 2004\nThe death toll..."
    assert read["M0007.english"] == "2005-03-26"  # "Saturday, March 26, 2005 Up to four..."
    assert read["M0004.english"] == "2005-01-18"  # after a title line, run into the text
    # "Profiles of the suspects in the July 7, 2005 bombings": a date in a sentence, no dateline
    assert read["M0011.english"] is None
    dated = [key for key, day in read.items() if day is not None]
    assert all(read[key] == multiling[key]["date"] for key in dated if multiling[key]["date"])
    assert len(dated) == 4


@pytest.mark.parametrize(
    ("key", "published"),
    [
        ("agnews-test-2856", "2004-09-30"),  # "WASHINGTON, Sept. 30, 2004 -- A series..."
        ("agnews-test-1267", "2004-09-07"),  # "NEW DELHI, 7 September 2004 - India and..."
        ("agnews-test-0567", "2004-08-25"),  # "ABUJA, Aug 25, 2004 (dpa) -- Rebel groups..."
        ("agnews-test-0202", "2004-08-18"),  # "AUGUST 18, 2004 (IDG NEWS SERVICE) - A..."
        ("agnews-test-2480", None),  # "NEW YORK, Sept 23 (AFP) - Oil prices...": no year
        ("agnews-test-3014", None),  # "LONDON, Oct 2 (AFP) - British Prime Minister..."
        ("agnews-test-0323", None),  # "LIVERPOOL, England (AP) -- Spanish pair...": no date
        ("agnews-test-0025", None),  # "By MICHAEL LIEDTKE SAN FRANCISCO (AP) -- With..."
    ],
)
def test_wire_datelines_give_a_date_only_with_its_year(agnews, key, published):
    assert dates.dateline(agnews[key]) == published
    assert ingest.load_text(agnews[key]).published == published


def test_no_year_is_ever_guessed_for_reuters_datelines():
    """Reuters-21578 stories open "SALVADOR, Feb 26 -": a dateline without its year, so none
    of the 15,919 gets a date."""
    rows = _jsonl(DATA / "reuters-headlines.jsonl.gz")
    assert len(rows) > 15_000
    assert rows[0]["article"].startswith("SALVADOR, Feb 26 -")
    assert [row["id"] for row in rows if dates.dateline(row["article"])] == []


def test_a_bbc_copy_dated_above_its_text():
    rows = [json.loads(line) for line in (DATA / "summ-dev-public.jsonl").open()]
    text = next(row["article"] for row in rows if row["id"] == "xsum-26625099")
    assert text.startswith("18 March 2014 Last updated at 09:22 GMT")
    assert ingest.load_text(text).published == "2014-03-18"
    dated = [row["id"] for row in rows if dates.dateline(row["article"])]
    assert dated == ["xsum-26625099"]  # the 199 others state no date at their top


@pytest.mark.parametrize(
    ("head", "published"),
    [
        # the Daily Mail's page furniture, as copies of its pages hold it
        (
            "By . Daily Mail Reporter . PUBLISHED: . 10:35 EST, 2 May 2015 . | . UPDATED: . "
            "11:01 EST, 2 May 2015 .",
            "2015-05-02",
        ),
        ("PUBLISHED: 10:35, 2 May 2015 | UPDATED: 12:40, 3 May 2015", "2015-05-02"),
        ("Published: 12:01 EST, 3 March 2015 | Updated: 14:20 EST, 3 March 2015", "2015-03-03"),
        ("Published on July 5, 2021", "2021-07-05"),
        ("July 5, 2021", "2021-07-05"),
        ("WASHINGTON, March 3, 2021 (Reuters) -", "2021-03-03"),
        ("WASHINGTON, March 3 (Reuters) -", None),  # no year
        ("LONDON (AP) —", None),
    ],
)
def test_dateline_forms(head, published):
    story = "The council adopted its budget after a long debate, with nine votes in favour."
    document = ingest.load_text(f"{head}\n\n{story}" if "(" not in head else f"{head} {story}")
    assert document.published == published


def test_the_date_is_read_before_its_line_is_dropped_as_page_furniture():
    text = (
        "Published: 12:01 EST, 3 March 2015 | Updated: 14:20 EST, 3 March 2015\n\nThe council met."
    )
    document = ingest.load_text(text)
    assert document.published == "2015-03-03" and document.text == "The council met."


def test_a_date_inside_the_story_is_no_dateline():
    text = (
        "A study published on March 3, 2015, found that councils spend too little on buses.\n\n"
        "The council adopted its budget after a long debate on Tuesday."
    )
    assert ingest.load_text(text).published is None


# -- the library: published=, since/until, Answer.date ----------------------------------------


@pytest.fixture(scope="module")
def engine(squad_dev, seed_text):
    """The seed (published on a Monday), a SQuAD paragraph dated 2015 and one undated."""
    qa = newsqa.NewsQA(device="cpu")
    first, second = squad_dev[0], squad_dev[1]
    qa.add(seed_text, published=MONDAY)
    qa.add_text(first["paragraphs"][0]["context"], title=first["title"], published=date(2015, 6, 1))
    qa.add_text(second["paragraphs"][0]["context"], title=second["title"])
    return qa


def test_published_is_stored_and_listed(engine, squad_dev):
    listed = {article.title: article.published for article in engine.articles()}
    assert listed[squad_dev[0]["title"]] == "2015-06-01"
    assert listed[squad_dev[1]["title"]] is None
    seed = engine.articles()[0]
    assert seed.published == MONDAY and engine.library.get(seed.id).published == MONDAY


def test_a_bad_published_is_a_user_error_and_adds_nothing(engine):
    before = len(engine.articles())
    with pytest.raises(InputError, match="published must be a date as YYYY-MM-DD"):
        engine.add_text("The council adopted its budget after a long debate.", published="5/7/21")
    assert len(engine.articles()) == before


def test_published_given_wins_over_the_page_and_the_page_over_nothing():
    qa = newsqa.NewsQA(device="cpu")
    html = page('<meta property="article:published_time" content="2021-07-05T10:00:00Z">')
    assert qa.add_text(html).published == "2021-07-05"
    other = newsqa.NewsQA(device="cpu")
    assert other.add_text(html, published="2021-07-06").published == "2021-07-06"


def test_the_seed_crossing_late_sunday_is_dated(engine):
    answer = engine.ask(CROSSING)
    assert answer.answerable and answer.text == "late Sunday"
    assert answer.date == "2021-07-25"  # the Sunday before the Monday it was published
    assert answer.to_dict()["date"] == "2021-07-25"
    assert list(answer.to_dict())[:5] == ["text", "answerable", "confidence", "evidence", "notice"]


def test_an_undated_article_gives_no_date_for_a_relative_answer():
    qa = newsqa.NewsQA(device="cpu")
    qa.add(str(SEED))
    assert qa.articles()[0].published is None
    answer = qa.ask(CROSSING)
    assert answer.text == "late Sunday" and answer.date is None


def test_since_and_until_restrict_the_articles_asked(engine, squad_dev):
    seed = engine.articles()[0].id
    answer = engine.ask(COUNT, since="2021-07-01")
    assert "46" in answer.text and answer.evidence[0].article_id == seed
    assert engine.ask(COUNT, since="2021-07-26", until="2021-07-26").evidence[0].article_id == seed
    older = engine.ask_many([COUNT, CROSSING], until=date(2020, 12, 31))
    assert all(seed not in {e.article_id for e in answer.evidence} for answer in older)
    found = engine.retrieve(COUNT, None, 8, until="2020-12-31")
    titles = {passage.title for passage in found}
    assert titles == {squad_dev[0]["title"]}  # the undated article is in no range


def test_a_range_with_no_article_is_a_user_error(engine):
    with pytest.raises(InputError, match="no article was published since 2022-01-01"):
        engine.ask(COUNT, since="2022-01-01")
    seed = engine.articles()[0].id
    with pytest.raises(InputError, match=f"article {seed} was published {MONDAY}, outside"):
        engine.ask(COUNT, article=seed, until="2021-01-01")
    with pytest.raises(InputError, match="until must be a date"):
        engine.ask(COUNT, until="last week")
    assert [a.published for a in engine.articles(since="2015-01-01", until="2015-12-31")] == [
        "2015-06-01"
    ]
