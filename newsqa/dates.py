"""Dates: an article's publication date, and what the dates an answer states mean.

Three jobs, all on ISO dates (``YYYY-MM-DD``):

- :func:`parse_date` checks a date a user gives (``NewsQA.add(published=)``, ``since``/``until``).
- :func:`dateline` reads a publication date from the top of an article's text: a wire dateline
  ("WASHINGTON, March 3, 2021 (Reuters) -"), a "Published: 12:01 EST, 3 March 2015" line, a
  leading "Saturday, January 8, 2005". Only a full date with its year counts: "SALVADOR, Feb
  26 -" gives none (a year is never guessed).
- :func:`resolve` turns a date an answer states into the date or range it means, given the
  article's publication date: "late Sunday" in an article published Monday 2021-07-26 is
  2021-07-25, "last week" the Monday to Sunday before, "July 1" the July 1 of the publication
  year (or of the year before or after, within ``NEAR_DAYS``). A range is
  ``YYYY-MM-DD/YYYY-MM-DD`` (ISO 8601's interval). A full date ("July 5, 2021") needs no
  publication date.

News conventions: a bare weekday is the most recent such day on or before publication (the
"Sunday" of a Monday story is the day before); "last Monday" is strictly before; "next Monday"
strictly after; weeks run Monday to Sunday. python-dateutil parses the absolute dates and does
the calendar arithmetic; the expressions recognised are the patterns below.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from datetime import date, datetime, timedelta

from dateutil import parser as date_parser
from dateutil.relativedelta import FR, MO, SA, SU, TH, TU, WE, relativedelta

from newsqa.errors import InputError

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:tember|t)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b\.?"
)
_WEEKDAY_SHORT = r"(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs?)?|Fri|Sat(?:ur)?|Sun)(?:day)?\b\.?"
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAY = r"(?-i:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
_DAY = r"[0-3]?\d(?:st|nd|rd|th)?(?!\d)"
_YEAR = r"(?:1[89]|20)\d\d(?!\d)"
_FULL = (
    rf"(?:{_MONTH}\s+{_DAY},?\s+{_YEAR}|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}|"
    rf"{_YEAR}-[01]\d-[0-3]\d(?!\d))"
)
"""A full date: "March 3, 2021", "3 March 2021", "2021-03-03" (with its year, always)."""

# -- user input -------------------------------------------------------------------------------


def parse_date(value: str | date, what: str = "date") -> str:
    """``value`` as an ISO date string; a ``date`` or a ``YYYY-MM-DD`` string, else InputError."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _ISO.match(value.strip()):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise InputError(f"{what} must be a date as YYYY-MM-DD (e.g. 2021-07-05), not {shown}")


def check_range(
    since: str | date | None, until: str | date | None
) -> tuple[str | None, str | None]:
    """``since`` and ``until`` as ISO dates (either may be None); InputError if since > until."""
    start = parse_date(since, "since") if since is not None else None
    end = parse_date(until, "until") if until is not None else None
    if start and end and start > end:
        raise InputError(f"since ({start}) is after until ({end})")
    return start, end


# -- datelines --------------------------------------------------------------------------------

DATELINE_CHARS = 2000
"""A dateline is looked for in the article's first characters only."""
DATELINE_LINES = 3
"""...and, for a date or a wire dateline that opens a line, in its first lines only."""
_TIME = r"\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s*(?-i:[A-Z]{2,4}))?"
_PUBLISHED = re.compile(
    r"(?:^|[|.•·\-–—]\s*|\n)\s*(?-i:First published|Published|PUBLISHED|Posted|POSTED)"
    rf"(?:\s+on)?\s*[:.|\s]*(?:{_TIME}[\s,.|]*(?:on\s+)?)?(?P<date>(?:{_WEEKDAY_SHORT},?\s+)?"
    rf"{_FULL})",
    re.IGNORECASE,
)
"""A "Published: 12:01 EST, 3 March 2015" or "PUBLISHED: . 10:35, 2 May 2015 . |" marker."""
_LEADING_DATE = re.compile(rf"^\s*(?P<date>(?:{_WEEKDAY_SHORT},?\s+)?{_FULL})", re.IGNORECASE)
"""A line that opens with a full date: "Saturday, January 8, 2005", "18 March 2014 Last
updated at 09:22 GMT"."""
_WIRE = re.compile(
    r"^\s*(?:By\s+(?:[A-Z][\w.'’-]*[^\S\n]+){1,4})?"  # a byline run into it (AG News copies)
    r"(?-i:[A-Z][A-Za-z.'’-]*(?:[^\S\n]+[A-Za-z.'’-]+){0,3})"  # the place: WASHINGTON, New Delhi
    r"(?:,[^\S\n]*(?-i:[A-Z][\w.'’-]*(?:[^\S\n]+[\w.'’-]+){0,2}))?"  # its region: England
    rf",[^\S\n]*(?P<date>{_FULL})"
    r"[^\S\n]*(?:\([^)\n]{1,40}\)[^\S\n]*)?[-–—:]",
    re.IGNORECASE,
)
"""A wire dateline with its year: "WASHINGTON, March 3, 2021 (Reuters) -"."""


def dateline(text: str) -> str | None:
    """The publication date the top of ``text`` states, as an ISO date; None when it states
    none with its year (a dateline such as "LONDON (AP) —" or "SALVADOR, Feb 26 -" has none)."""
    head = text[:DATELINE_CHARS]
    found = _PUBLISHED.search(head)
    if found and (day := _absolute(found.group("date"))):
        return day.isoformat()
    lines = [line for line in head.split("\n") if line.strip()][:DATELINE_LINES]
    for line in lines:
        for pattern in (_LEADING_DATE, _WIRE):
            found = pattern.match(line)
            if found and (day := _absolute(found.group("date"))):
                return day.isoformat()
    return None


def _absolute(span: str) -> date | None:
    """A full date's text ("Tues., March 3, 2015") as a date; None if there is no such day."""
    span = re.sub(rf"^{_WEEKDAY_SHORT},?\s*", "", span.strip(), flags=re.IGNORECASE)
    span = re.sub(r"\bof\b", " ", span)
    try:
        return date_parser.parse(span, default=datetime(2000, 1, 1)).date()
    except (ValueError, OverflowError):
        return None


# -- relative dates in answers ----------------------------------------------------------------

Span = tuple[date, date]
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_RELATIVE_WEEKDAY = {name: day for name, day in zip(_WEEKDAYS, (MO, TU, WE, TH, FR, SA, SU))}


def resolve(text: str, published: str | date | None) -> str | None:
    """The date or range that the first date expression in ``text`` means, for an article
    published on ``published``: ``YYYY-MM-DD`` or ``YYYY-MM-DD/YYYY-MM-DD``.

    A full date ("July 5, 2021", "March 2015") needs no publication date; a relative one
    ("late Sunday", "last week", "yesterday", "earlier this month", "July 1") does, and is None
    without it. None when ``text`` states no date.
    """
    if not text:
        return None
    base = date.fromisoformat(parse_date(published)) if published is not None else None
    best: tuple[int, int, Span] | None = None  # leftmost, then longest
    for pattern, meaning in _RULES:
        for found in pattern.finditer(text):
            if best is not None and (found.start(), -found.end()) >= (best[0], -best[1]):
                break
            span = meaning(found, base)
            if span is not None:
                best = (found.start(), found.end(), span)
                break
    if best is None:
        return None
    start, end = best[2]
    return start.isoformat() if start == end else f"{start.isoformat()}/{end.isoformat()}"


def _day(day: date | None) -> Span | None:
    return (day, day) if day is not None else None


def _month_of(day: date) -> Span:
    return day + relativedelta(day=1), day + relativedelta(day=31)


def _year_of(day: date) -> Span:
    return date(day.year, 1, 1), date(day.year, 12, 31)


def _week_of(day: date) -> Span:
    monday = day + relativedelta(weekday=MO(-1))
    return monday, monday + timedelta(days=6)


NEAR_DAYS = 92
"""A date without its year is in the publication's year (news omits the current year) unless
the same day of the year before or after lies within this many days of publication: "December
28" in a story of January 3 is the one six days before."""


def _in_year_of(candidates: dict[int, date], base: date) -> date | None:
    """Of one day of the year in the years around ``base``, the one meant (see NEAR_DAYS)."""
    near = min(candidates.values(), key=lambda day: abs((day - base).days), default=None)
    if near is not None and abs((near - base).days) <= NEAR_DAYS:
        return near
    return candidates.get(base.year)


def _full_date(found: re.Match, base: date | None) -> Span | None:
    return _day(_absolute(found.group()))


def _month_year(found: re.Match, base: date | None) -> Span | None:
    day = _absolute(f"1 {found.group('month')} {found.group('year')}")
    return _month_of(day) if day else None


def _in_year(found: re.Match, base: date | None) -> Span | None:
    return _year_of(date(int(found.group("year")), 1, 1))


def _month_number(name: str) -> int:
    return date_parser.parse(f"1 {name} 2000").month


def _month_day(found: re.Match, base: date | None) -> Span | None:
    """ "July 1", "1 July": that day in the publication's year, or the nearest (NEAR_DAYS)."""
    if base is None:
        return None
    month = _month_number(found.group("month") or found.group("month2"))
    day = int(re.match(r"\d+", found.group("day") or found.group("day2")).group())
    candidates = {}
    for year in (base.year - 1, base.year, base.year + 1):
        with suppress(ValueError):  # February 29 of a common year, or "June 31"
            candidates[year] = date(year, month, day)
    return _day(_in_year_of(candidates, base))


def _month_alone(found: re.Match, base: date | None) -> Span | None:
    """ "in July" (the publication year's, or the nearest: NEAR_DAYS), "last July" (the one
    before the publication month), "next July" (after it), "this July" (the publication year's)."""
    if base is None:
        return None
    month = _month_number(found.group("month"))
    which = (found.group("which") or "").lower()
    this_month = base + relativedelta(day=1)
    firsts = {year: date(year, month, 1) for year in (base.year - 1, base.year, base.year + 1)}
    if which == "last":
        first = max(day for day in firsts.values() if day < this_month)
    elif which == "next":
        first = min(day for day in firsts.values() if day > this_month)
    elif which == "this":
        first = firsts[base.year]
    else:
        first = _in_year_of(firsts, this_month)
    return _month_of(first)


def _shift(days: int) -> Callable[[re.Match, date | None], Span | None]:
    def meaning(found: re.Match, base: date | None) -> Span | None:
        return _day(base + timedelta(days=days)) if base else None

    return meaning


def _ago(found: re.Match, base: date | None) -> Span | None:
    """ "three days ago" (a day), "two weeks ago" (a day), "six months ago" (that month),
    "two years ago" (that year)."""
    if base is None:
        return None
    count = found.group("count").lower()
    n = int(count) if count.isdigit() else _NUMBERS[count]
    unit = found.group("unit").lower()
    if unit == "day":
        return _day(base - timedelta(days=n))
    if unit == "week":
        return _day(base - timedelta(weeks=n))
    if unit == "month":
        return _month_of(base - relativedelta(months=n))
    return _year_of(base - relativedelta(years=n))


def _calendar(found: re.Match, base: date | None) -> Span | None:
    """ "this week", "earlier this month", "later this year", "last week", "next month", "the
    past year" (the year up to publication)."""
    if base is None:
        return None
    which = found.group("which").lower()
    unit = found.group("unit").lower()
    step = {
        "week": timedelta(weeks=1),
        "month": relativedelta(months=1),
        "year": relativedelta(years=1),
    }[unit]
    whole = {"week": _week_of, "month": _month_of, "year": _year_of}[unit]
    if which in ("past", "the past"):
        return base - step, base
    if which in ("last", "previous"):
        return whole(base - step)
    if which == "next":
        return whole(base + step)
    start, end = whole(base)
    if which == "earlier this":
        return start, base
    if which == "later this":
        return base, end
    return start, end


def _weekend(found: re.Match, base: date | None) -> Span | None:
    """ "over the weekend" (the last one begun by publication), "last weekend" (the one before
    the publication's own), "this weekend" (the publication week's), "next weekend"."""
    if base is None:
        return None
    which = " ".join(found.group("which").lower().split())
    saturday = base + relativedelta(weekday=SA(-1))  # the last Saturday on or before
    week_saturday = _week_of(base)[0] + timedelta(days=5)
    if which == "last" and base.weekday() >= 5:
        saturday -= timedelta(weeks=1)
    elif which == "this":
        saturday = week_saturday
    elif which == "next":
        saturday = week_saturday + timedelta(weeks=1)
    return saturday, saturday + timedelta(days=1)


def _weekday(found: re.Match, base: date | None) -> Span | None:
    """ "Sunday", "late Sunday", "on Monday night": the last such day on or before publication;
    "last Monday": strictly before; "next Monday", "this coming Monday": strictly after;
    "this Monday": in the publication's week (Monday to Sunday)."""
    if base is None:
        return None
    name = found.group("name").capitalize()
    weekday = _RELATIVE_WEEKDAY[name]
    which = " ".join((found.group("which") or "").lower().split())
    if which in ("last", "this past", "past"):
        return _day(base - timedelta(days=1) + relativedelta(weekday=weekday(-1)))
    if which in ("next", "this coming", "coming"):
        return _day(base + timedelta(days=1) + relativedelta(weekday=weekday(+1)))
    if which == "this":
        return _day(_week_of(base)[0] + timedelta(days=_WEEKDAYS.index(name)))
    return _day(base + relativedelta(weekday=weekday(-1)))


def _compile(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


_FULL_MONTH = (
    r"(?-i:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)"
)
"""A month named alone ("in July", "last May") is read only by its full name, after a word that
makes it a time: "Theresa May" or "Jan Smith" is no month."""
_CASED_MONTH = rf"(?-i:{_MONTH})"
"""Month names as news writes them, capitalised: "May", not the verb "may"."""
_RULES: list[tuple[re.Pattern, Callable[[re.Match, date | None], Span | None]]] = [
    (_compile(rf"\b(?:{_WEEKDAY},?\s+)?(?-i:{_FULL})"), _full_date),
    (_compile(rf"\b(?P<month>{_CASED_MONTH}),?\s+(?P<year>{_YEAR})"), _month_year),
    (_compile(rf"\b(?:in|during)\s+(?P<year>{_YEAR})"), _in_year),
    (
        _compile(
            rf"\b(?:(?P<month>{_CASED_MONTH})\s+(?P<day>{_DAY})|"
            rf"(?:the\s+)?(?P<day2>{_DAY})\s+(?:of\s+)?(?P<month2>{_CASED_MONTH}))"
        ),
        _month_day,
    ),
    (
        _compile(
            rf"(?:\b(?P<which>last|next|this)\s+|\b(?:in|since|until|by|during|early|late|"
            rf"mid-?|(?:the\s+)?(?:end|start|beginning|middle)\s+of)\s+|^\s*)"
            rf"(?P<month>{_FULL_MONTH})\b(?!\s*\d)"
        ),
        _month_alone,
    ),
    (_compile(r"\bthe\s+day\s+before\s+yesterday\b"), _shift(-2)),
    (_compile(r"\bthe\s+day\s+after\s+tomorrow\b"), _shift(2)),
    (_compile(r"\b(?:today|tonight|this\s+(?:morning|afternoon|evening))\b"), _shift(0)),
    (_compile(r"\b(?:yesterday|last\s+night)\b"), _shift(-1)),
    (_compile(r"\btomorrow\b"), _shift(1)),
    (
        _compile(
            rf"\b(?P<count>\d{{1,3}}|{'|'.join(_NUMBERS)})\s+(?P<unit>day|week|month|year)s?"
            r"\s+ago\b"
        ),
        _ago,
    ),
    (
        _compile(
            r"\b(?P<which>earlier\s+this|later\s+this|this|last|previous|next|(?:the\s+)?past)"
            r"\s+(?P<unit>week|month|year)\b"
        ),
        _calendar,
    ),
    (
        _compile(r"\b(?P<which>over\s+the|at\s+the|this\s+past|last|this|next)\s+weekend\b"),
        _weekend,
    ),
    (
        _compile(
            rf"\b(?:(?P<which>last|this\s+past|past|next|this\s+coming|coming|this)\s+)?"
            rf"(?P<name>{_WEEKDAY})"
        ),
        _weekday,
    ),
]


__all__ = ["check_range", "dateline", "parse_date", "resolve"]
