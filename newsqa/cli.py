"""The ``newsqa`` command line: a thin layer over the public API.

Exit codes: 0 done (also when the article does not say), 2 user error, 1 internal error.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsqa.batch_cli import app as batch_app
from newsqa.cli_options import (
    DeviceOption,
    MinConfidenceOption,
    ModelOption,
    PrecisionOption,
    SinceOption,
    StrictOption,
    TopKOption,
    UntilOption,
    VerifyOption,
    check_bar,
    check_dates,
    parse_date_option,
)
from newsqa.errors import InputError, UserError
from newsqa.models_cli import models_app

app = typer.Typer(
    help=(
        "Ask questions about news articles and summarize them with a local seq2seq model.\n\n"
        "Nothing leaves your machine. Questions go to the articles you have added (newsqa add), "
        "or to --article; on a fresh install, to the bundled default article.\n\n"
        "Examples:\n\n"
        '  newsqa ask "how many soldiers?"\n\n'
        "  newsqa add today/*.html ~/saved/story.txt\n\n"
        "  newsqa stories --since 2021-07-01\n\n"
        '  newsqa ask "who won?" --article story.html --json\n\n'
        '  newsqa ask "who resigned?" --since 2021-07-01 --until 2021-07-31\n\n'
        "  curl -s https://example.com/story | newsqa summarize --article - --words 60"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(batch_app, name="batch")
app.add_typer(models_app, name="models")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
ARTICLE_SUFFIXES = {".txt", ".text", ".html", ".htm", ".md"}
_state: dict[str, str | None] = {"library": None}

ArticleOption = Annotated[
    str | None,
    typer.Option(
        "--article",
        "-a",
        help="An added article's id, or a file, URL, or - for stdin (not added to the library).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _show_version(shown: bool) -> None:
    if shown:
        from newsqa import __version__

        out.print(f"newsqa {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    library: Annotated[
        str | None,
        typer.Option(
            "--library",
            help="Library folder (default: $NEWSQA_LIBRARY, else your user data folder).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print newsqa's version and exit.",
        ),
    ] = False,
) -> None:
    _state["library"] = library


def library_path() -> Path:
    """--library, else $NEWSQA_LIBRARY, else the platform's user data folder."""
    chosen = _state["library"] or os.environ.get("NEWSQA_LIBRARY")
    if chosen:
        return Path(chosen).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("newsqa")) / "library"


def _library_exists() -> bool:
    return (library_path() / "library.sqlite3").exists()


def _stored_articles():
    """The library for reading; an empty in-memory one when none exists yet (nothing created)."""
    from newsqa.library import Library

    return Library(library_path() if _library_exists() else None)


def default_article_path() -> Path:
    """The bundled seed article (package data: a real file even when newsqa runs from a zip)."""
    from newsqa.resources import package_folder

    return package_folder("newsqa.data") / "article.txt"


def _library(**options):
    from newsqa import NewsQA

    return NewsQA(path=str(library_path()), **options)


def _target(
    article: str | None,
    device: str | None,
    model: str | None,
    precision: str | None = None,
    **answering,
):
    """The engine and the article id to use (None: every added article).

    --article names an added article's id, or a file/URL/stdin read for this call only. With
    neither, the library's articles; with an empty library, the bundled default article.
    """
    from newsqa import NewsQA

    options = {"device": device, "model": model, "precision": precision, **answering}
    if article is not None and re.fullmatch(r"[0-9a-f]{12}", article):
        qa = _library(**options)
        return qa, qa.library.get(article).id
    if article is None:
        if _library_exists():
            qa = _library(**options)
            if len(qa.library):
                return qa, None
        qa = NewsQA(**options)
        added = qa.add(str(default_article_path()))
        err.print(
            f"[dim]Using the bundled default article: {added.title} "
            "(newsqa add, or --article, to use your own).[/dim]"
        )
        return qa, added.id
    is_file = article != "-" and not re.match(r"^https?://", article, re.I)
    if is_file and not Path(article).expanduser().exists():
        raise InputError(f"no such file: {article}")
    qa = NewsQA(**options)
    return qa, qa.add(article).id


def _server(device: str | None, model: str | None, precision: str | None):
    """The running server for this library (or $NEWSQA_SERVER), unless the call chooses its own
    device, model or precision; None: answer in this process."""
    if device or model or precision or os.environ.get("NEWSQA_NO_SERVER"):
        return None
    from newsqa.client import find_server

    client = find_server(library_path())
    if client is None and os.environ.get("NEWSQA_SERVER"):
        err.print(f"[dim]No server answers at {os.environ['NEWSQA_SERVER']}: answering here.[/dim]")
    return client


def _server_source(client, article: str | None) -> tuple[dict, bool]:
    """The request fields for --article, as ``_target`` reads it, and whether they name one
    article. Files, stdin and URLs are read here: the server never reads this machine's paths."""
    from newsqa import ingest

    if article is not None and re.fullmatch(r"[0-9a-f]{12}", article):
        return {"article": article}, True
    if article is None:
        if client.articles():
            return {}, False
        document = ingest.load(str(default_article_path()))
        err.print(
            f"[dim]Using the bundled default article: {document.title} "
            "(newsqa add, or --article, to use your own).[/dim]"
        )
    else:
        is_file = article != "-" and not re.match(r"^https?://", article, re.I)
        if is_file and not Path(article).expanduser().exists():
            raise InputError(f"no such file: {article}")
        document = ingest.load(article)
    return {"text": document.text, "title": document.title}, True


def _answer_from(found: dict):
    from newsqa.results import Answer, Evidence, SourceAnswer

    evidence = [Evidence(**item) for item in found.get("evidence", [])]
    sources = [
        SourceAnswer(**{**item, "evidence": [Evidence(**e) for e in item.get("evidence", [])]})
        for item in found.get("sources", [])
    ]
    return Answer(**{**found, "evidence": evidence, "sources": sources})


def _summary_from(found: dict):
    from newsqa.results import Evidence, Summary

    evidence = [Evidence(**item) for item in found.get("evidence", [])]
    return Summary(**{**found, "evidence": evidence})


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    article: ArticleOption = None,
    json_output: JsonOption = False,
    device: DeviceOption = None,
    model: ModelOption = None,
    precision: PrecisionOption = None,
    top_k: TopKOption = 4,
    min_confidence: MinConfidenceOption = None,
    strict: StrictOption = False,
    verify: VerifyOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    story: Annotated[
        int | None,
        typer.Option(
            "--story",
            help="Ask every article of a story (an id from newsqa stories): the surest answer, "
            "then what each article says and whether it agrees.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Answer a question, quoting the sentence the answer comes from.

    The confidence is the probability that the answer is right, calibrated on questions the
    model was not trained on. When no answer reaches the bar: "The article does not say."
    --since/--until keep to the articles published in that range. An answer that is a date
    ("late Sunday") is followed by the date it means, when its article is dated.

    Example: newsqa ask "how many soldiers crossed the border?"

    Example: newsqa ask "who won?" --since 2021-07-01 --until 2021-07-31

    Example: newsqa ask "how many people died?" --story 2

    Example: newsqa ask "how many soldiers crossed the border?" --verify
    """
    from newsqa.answer import check_question

    check_question(question)  # fail fast, before any model loads
    check_bar(strict, min_confidence)
    since, until = check_dates(since, until)
    if story is not None and article is not None:
        raise InputError("--story asks a whole story: drop --article")
    if verify:
        os.environ["NEWSQA_VERIFY"] = "1"
    client = None if verify else _server(device, model, precision)
    if client is not None:
        fields, one_article = _server_source(client, article)
        found = client.ask(
            question,
            top_k=top_k,
            min_confidence=min_confidence,
            strict=strict or None,
            since=since,
            until=until,
            story=story,
            **fields,
        )
        _print_answer(_answer_from(found), json_output, one_article)
        return
    if story is not None:
        if not _library_exists():
            raise InputError(f"the library has no stories ({library_path()}): add articles first")
        qa = _library(
            device=device,
            model=model,
            precision=precision,
            top_k=top_k,
            min_confidence=min_confidence,
            strict=strict,
        )
        answer = qa.ask(question, since=since, until=until, story=story)
        _print_answer(answer, json_output, False)
        return
    qa, article_id = _target(
        article,
        device,
        model,
        precision,
        top_k=top_k,
        min_confidence=min_confidence,
        strict=strict,
    )
    answer = qa.ask(question, article=article_id, since=since, until=until)
    _print_answer(answer, json_output, article_id is not None)


def _print_answer(answer, json_output: bool, one_article: bool) -> None:
    """An answer as JSON, or for a reader: the answer, its confidence and its evidence."""
    if json_output:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    if answer.notice:
        err.print(f"[yellow]Note: {answer.notice}[/yellow]")
    uncalibrated = "" if answer.calibrated else ", uncalibrated"
    if not answer.answerable:
        note = "" if answer.calibrated else "  [dim](uncalibrated)[/dim]"
        out.print(f"[yellow]{answer.text}[/yellow]{note}")
        _print_sources(answer.sources)
        return
    when = f"  [dim]({answer.date})[/dim]" if answer.date else ""
    out.print(
        f"[bold green]{escape(answer.text)}[/bold green]{when}  "
        f"[dim](confidence {answer.confidence:.2f}{uncalibrated})[/dim]"
    )
    for evidence in answer.evidence:
        where = "" if one_article else f"article {evidence.article_id}, "
        out.print(f"  [dim]evidence, {where}characters {evidence.start}-{evidence.end}:[/dim]")
        out.print(f"  “{evidence.sentence}”", highlight=False)
    _print_sources(answer.sources)


def _print_sources(sources) -> None:
    """What each article of a story says: its answer and confidence, whether it agrees."""
    if not sources:
        return
    out.print(f"\n  [dim]what the story's {len(sources)} articles say:[/dim]")
    for source in sources:
        if source.answerable:
            verdict = "agrees" if source.agrees else "differs"
            said = f"{escape(source.text)} ({source.confidence:.2f}, {verdict})"
        else:
            said = "[dim]does not say[/dim]"
        when = source.published or "undated"
        out.print(
            f"  {said}  [dim]{source.article_id}  {when}  {escape(source.title or '')}[/dim]",
            highlight=False,
        )


@app.command()
def summarize(
    article: ArticleOption = None,
    words: Annotated[
        int | None,
        typer.Option(
            "--words",
            "-w",
            min=5,
            max=1000,
            help="Longest summary, in words: 80 for an article, 250 for a story.",
            show_default=False,
        ),
    ] = None,
    story: Annotated[
        int | None,
        typer.Option(
            "--story",
            help="Summarize a story (an id from newsqa stories): all its articles in one "
            "summary, each sentence citing its article.",
            show_default=False,
        ),
    ] = None,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            help="compress: pick the leading, central sentences and rewrite each shorter; "
            "map-reduce: summarize every part of the article, then the parts.",
        ),
    ] = "compress",
    headline: Annotated[
        bool, typer.Option("--headline", help="Also write a headline from the lead.")
    ] = False,
    json_output: JsonOption = False,
    device: DeviceOption = None,
    model: ModelOption = None,
    precision: PrecisionOption = None,
) -> None:
    """Summarize an article of any length, or a whole story (--story), in its own words.

    Each summary sentence is an article sentence or a faithful shortening of one (same words,
    names and numbers, main verb kept); --json gives each one's evidence with offsets.

    Example: newsqa summarize --article story.txt --words 60 --headline

    Example: newsqa summarize --story 3
    """
    if story is not None:
        _summarize_story(story, article, words, headline, json_output, device, model, precision)
        return
    words = words or 80
    client = _server(device, model, precision)
    if client is not None:
        fields, _ = _server_source(client, article)
        found = client.summarize(words=words, strategy=strategy, headline=headline, **fields)
        summary = _summary_from(found)
    else:
        qa, article_id = _target(article, device, model, precision)
        summary = qa.summarize(
            article=article_id, max_words=words, strategy=strategy, headline=headline
        )
    if json_output:
        print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
        return
    if summary.notice:
        err.print(f"[yellow]Note: {summary.notice}[/yellow]")
    if summary.headline:
        out.print(f"[bold]{escape(summary.headline)}[/bold]\n")
    out.print(summary.text, highlight=False)


def _summarize_story(
    story: int,
    article: str | None,
    words: int | None,
    headline: bool,
    json_output: bool,
    device: str | None,
    model: str | None,
    precision: str | None,
) -> None:
    """``summarize --story``: the story's summary, each sentence with the article it is from."""
    if article is not None or headline:
        raise InputError("--story summarizes a whole story: drop --article and --headline")
    client = _server(device, model, precision)
    if client is not None:
        summary = _summary_from(client.summarize(story=story, words=words))
    elif _library_exists():
        summary = _library(device=device, model=model, precision=precision).summarize_story(
            story, max_words=words
        )
    else:
        raise InputError(f"the library has no stories ({library_path()}): add articles first")
    if json_output:
        print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
        return
    titles: dict[str, int] = {}
    for line, evidence in zip(summary.sentences, summary.evidence):
        number = titles.setdefault(evidence.article_id, len(titles) + 1)
        out.print(f"{escape(line)} [dim][{number}][/dim]", highlight=False)
    out.print()
    for article_id, number in titles.items():
        title = next(e.title for e in summary.evidence if e.article_id == article_id)
        out.print(f"[dim][{number}] {article_id}  {escape(title or '')}[/dim]", highlight=False)


def expand_sources(sources: list[str]) -> list[str]:
    """Files, folders (their article files, recursively), globs, URLs and '-' in order."""
    expanded: list[str] = []
    for source in sources:
        if source == "-" or re.match(r"^https?://", source, re.I):
            expanded.append(source)
            continue
        path = Path(source).expanduser()
        if path.is_dir():
            expanded += sorted(
                str(p)
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES
            )
        elif not path.exists() and glob.has_magic(source):
            expanded += sorted(glob.glob(os.path.expanduser(source), recursive=True))
        else:
            expanded.append(source)
    return expanded


@app.command()
def add(
    sources: Annotated[
        list[str], typer.Argument(help="Files, folders, globs, URLs, or - for stdin.")
    ],
    json_output: JsonOption = False,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray",
            help="Read, clean, chunk and embed on Ray (a local one, or --ray-address); this "
            "process still writes the library, in batches.",
        ),
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="A Ray cluster's address (host:port, ray://host:10001, auto); implies --ray.",
            show_default=False,
        ),
    ] = None,
    num_gpus: Annotated[
        float, typer.Option("--num-gpus", min=0.0, help="GPUs per embedding actor, on Ray.")
    ] = 0.0,
    published: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="The publication date of the articles added, YYYY-MM-DD (e.g. --date "
            "2021-07-26); without it, the page's metadata or the text's dateline gives it, "
            "if either states a full date. An article already added keeps its date.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Add articles to the library. Duplicates are skipped; a bad file does not stop the rest.

    Example: newsqa add ~/news/*.html https://example.com/story

    Example: newsqa add story.txt --date 2021-07-26
    """
    from rich.progress import Progress

    published = parse_date_option(published, "--date")
    qa = _library(device="cpu")
    files = expand_sources(sources)
    if not files:
        raise InputError("nothing to add: no article files matched")
    with Progress(console=err, transient=True, disable=json_output) as progress:
        task = progress.add_task("adding", total=len(files))

        def advance(done: int) -> None:
            progress.update(task, completed=done)

        if ray or ray_address:
            from newsqa import batch

            done = batch.add_many(
                qa,
                files,
                address=ray_address,
                num_gpus=num_gpus,
                on_progress=advance,
                published=published,
            )
        else:
            done = qa.add_many(files, on_progress=advance, published=published)
    if ray or ray_address:
        qa.group_stories()  # Ray's workers embed the chunks only: group the new articles here
    results = [asdict(result) for result in done]
    _report_added(results, json_output)
    if any(r["status"] == "error" for r in results):
        raise typer.Exit(2)


def _report_added(results: list[dict], json_output: bool) -> None:
    if json_output:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    for result in results:
        if result["status"] == "added":
            out.print(f"added      {result['id']}  {result['source']}", highlight=False)
        elif result["status"] == "duplicate":
            out.print(f"[dim]duplicate  {result['id']}  {result['source']}[/dim]")
        else:
            err.print(
                f"[red]failed[/red]     {result['source']}: {result['error']}", highlight=False
            )
    counts = {s: sum(r["status"] == s for r in results) for s in ("added", "duplicate", "error")}
    err.print(
        f"{counts['added']} added, {counts['duplicate']} duplicates skipped, "
        f"{counts['error']} failed — library: {library_path()}"
    )


@app.command("list")
def list_articles(json_output: JsonOption = False) -> None:
    """List the articles in the library, with their publication dates (YYYY-MM-DD, or none).

    Example: newsqa list --json
    """
    articles = _stored_articles().articles()
    if json_output:
        print(
            json.dumps(
                [
                    {
                        "id": a.id,
                        "title": a.title,
                        "source": a.source,
                        "characters": len(a.text),
                        "published": a.published,
                    }
                    for a in articles
                ],
                indent=2,
            )
        )
        return
    if not articles:
        err.print(f"The library is empty ({library_path()}). Add articles with: newsqa add FILE")
        return
    table = Table("id", "title", "published", "characters", "source")
    for article in articles:
        table.add_row(
            article.id,
            article.title or "",
            article.published or "",
            f"{len(article.text):,}",
            article.source,
        )
    out.print(table)


@app.command()
def stories(
    since: SinceOption = None,
    until: UntilOption = None,
    json_output: JsonOption = False,
    library: Annotated[
        str | None,
        typer.Option("--library", help="Library folder (as newsqa --library).", show_default=False),
    ] = None,
) -> None:
    """List the library's stories: its articles grouped by the event they report.

    Each article joins a story as it is added (newsqa add) and never moves to another;
    near-identical copies are marked as duplicates. A story shows its title, the span of its
    articles' dates, and each article's id, date and title. --since/--until keep to the stories
    with an article published in that range, showing only those articles.

    Example: newsqa stories

    Example: newsqa stories --since 2021-07-01 --until 2021-07-31 --json
    """
    since, until = check_dates(since, until)
    if library is not None:
        _state["library"] = library
    found = _library(device="cpu").stories(since, until) if _library_exists() else []
    if json_output:
        print(json.dumps([story.to_dict() for story in found], ensure_ascii=False, indent=2))
        return
    if not found:
        if since or until:
            err.print(f"No story has an article published {_range_words(since, until)}.")
        else:
            err.print(f"The library has no articles ({library_path()}). Add some: newsqa add FILE")
        return
    for number, story in enumerate(found):
        _print_story(story, blank_line=number > 0)


def _range_words(since: str | None, until: str | None) -> str:
    if since and until:
        return f"from {since} to {until}"
    return f"since {since}" if since else f"until {until}"


def _print_story(story, blank_line: bool) -> None:
    """One story: its title, dates and counts, then one line per article."""
    if blank_line:
        out.print()
    span = story.first if story.first == story.last else f"{story.first} to {story.last}"
    duplicates = len(story.duplicates)
    counts = f"{len(story.article_ids)} article{'s' if len(story.article_ids) != 1 else ''}"
    if duplicates:
        counts += f", {duplicates} duplicate{'s' if duplicates != 1 else ''}"
    dated = f"{span}, " if story.first else ""
    out.print(
        f"[bold]story {story.id}: {escape(story.title)}[/bold]  [dim]({dated}{counts})[/dim]",
        highlight=False,
    )
    for article in story.articles:
        line = f"  {article.id}  {article.published or 'undated   '}  {escape(article.title)}"
        if article.duplicate_of:
            line += f"  [dim](duplicate of {article.duplicate_of})[/dim]"
        out.print(line, highlight=False)


@app.command()
def show(
    article_id: Annotated[str, typer.Argument(help="The article's id.")],
    json_output: JsonOption = False,
) -> None:
    """Print one article's title, publication date and cleaned text.

    Example: newsqa show 3f2a9c81d0e4 --json
    """
    article = _stored_articles().get(article_id)
    if json_output:
        print(
            json.dumps(
                {
                    "id": article.id,
                    "title": article.title,
                    "source": article.source,
                    "published": article.published,
                    "text": article.text,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    dated = f"  [dim]published {article.published}[/dim]" if article.published else ""
    title = escape(article.title or "(untitled)")
    out.print(f"[bold]{title}[/bold]{dated}  [dim]{escape(article.source)}[/dim]\n")
    out.print(article.text, highlight=False, markup=False)


@app.command()
def remove(article_ids: Annotated[list[str], typer.Argument(help="Article ids.")]) -> None:
    """Remove articles (and their vectors) from the library."""
    _stored_articles().remove(article_ids)
    err.print(f"removed {len(article_ids)} article(s)")


@app.command()
def doctor() -> None:
    """Check the index and the stories against the stored articles; rebuild the index when
    missing or damaged, and group the articles into stories anew when their rows are."""
    library = _stored_articles()
    health = library.check()
    if health.ok:
        out.print(f"ok: {health.articles} articles, {health.chunks} chunks, all indexed")
        return
    for problem in health.problems:
        err.print(f"[yellow]problem:[/yellow] {problem}", highlight=False)
    health = library.repair()
    if not health.ok:
        raise UserError("could not repair the library: " + "; ".join(health.problems))
    regrouped = ""
    ungrouped = library.ungrouped_count()
    if ungrouped:
        library.close()
        _library()  # NewsQA groups the articles in no story as it opens the library
        regrouped = f", {ungrouped} articles grouped into stories anew"
    out.print(
        f"repaired: {health.articles} articles, {health.chunks} chunks, all indexed{regrouped}"
    )


@app.command()
def calibrate(
    model: Annotated[
        str,
        typer.Option(
            help="The model to calibrate: an installed local chat model (smollm2), a .gguf "
            "file, a Hugging Face folder or name.",
            show_default=False,
        ),
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            help="Folder of the public data to fit on: squad1-train.json.gz, "
            "squad2-train-unanswerable.json.gz, tweetqa-train.json.gz, "
            "reuters-headlines.jsonl.gz (default: $NEWSQA_CALIBRATION_DATA).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(min=20, help="Questions drawn from each source (about 4.7x this in all)."),
    ] = 150,
    device: DeviceOption = None,
    precision: PrecisionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fit a model's confidence on public questions held out of our training, so that its
    answers carry a probability of being right and its default bar.

    Until a model is calibrated its answers say "uncalibrated": the confidence then only ranks
    answers. The fit is stored in your user data folder, where newsqa finds it for that model;
    an interrupted run resumes where it stopped. Example:

      newsqa models install smollm2 && newsqa calibrate --model smollm2 --data ~/qa-data
    """
    from rich.progress import Progress

    from newsqa.calibration import calibrate as fit_calibrator
    from newsqa.calibration import data_dir_for
    from newsqa.generate import BASE_MODEL, BUNDLED_MODEL

    if model in (BUNDLED_MODEL, BASE_MODEL):
        raise InputError(f"{model} ships its calibrator (benchmarks/calibrate.py refits it)")
    folder = data_dir_for(data)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("collecting candidate answers", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        fitted, path = fit_calibrator(
            model, folder, limit, precision=precision, device=device or "auto", progress=advance
        )
    summary = {
        "model": model,
        "calibration": str(path),
        "questions": len(fitted.questions),
        "candidates": len(fitted.candidates),
        "default_bar": fitted.bar,
        "strict_bar": fitted.strict_bar,
        "mix_f1": fitted.mix_f1,
        "out_of_fold_ece": fitted.ece,
        "auc_answerable": fitted.auc_answerable,
    }
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    out.print(
        f"calibrated {model} on {summary['questions']} questions "
        f"({summary['candidates']} candidate answers): default bar {fitted.bar}, "
        f"strict bar {fitted.strict_bar}; out of fold: ECE {fitted.ece:.3f}, "
        f"reader-mix F1 {fitted.mix_f1}, answerable-vs-not AUC {fitted.auc_answerable}\n"
        f"wrote {path}",
        highlight=False,
    )


@app.command()
def reindex(device: DeviceOption = None) -> None:
    """Re-embed every article with the current embedding model ($NEWSQA_EMBEDDER)."""
    qa = _library(device=device)
    count = qa.reindex()
    out.print(f"re-embedded {count} chunks with {qa.embedder.name}")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; any but loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8000,
    library: Annotated[
        str | None,
        typer.Option("--library", help="Library folder (as newsqa --library).", show_default=False),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="NEWSQA_TOKEN",
            help="Every request must then send 'Authorization: Bearer TOKEN' "
            "(default: $NEWSQA_TOKEN). Required to listen beyond this machine.",
            show_default=False,
        ),
    ] = None,
    allow_urls: Annotated[
        bool,
        typer.Option(
            "--allow-urls",
            help="Fetch http(s) pages that clients name (public addresses only).",
        ),
    ] = False,
    batch_ms: Annotated[
        float,
        typer.Option(
            "--batch-ms",
            min=0.0,
            max=1000.0,
            help="Gather concurrent questions for this long into one batch (0: one at a time).",
        ),
    ] = 5.0,
    device: DeviceOption = None,
    model: ModelOption = None,
    precision: PrecisionOption = None,
) -> None:
    """Serve the library over HTTP: a JSON API, its docs at /docs, and a web page at /.

    Models load once; while it runs, `newsqa ask` and `newsqa summarize` for the same library
    send their questions to it (set $NEWSQA_SERVER=URL to name a server, $NEWSQA_NO_SERVER=1 to
    answer in-process). Ctrl-C stops it after the requests in flight.

    Example: newsqa serve --port 8000, then open http://127.0.0.1:8000
    """
    try:
        from newsqa.serve.server import serve as run_server
    except ImportError as error:
        raise UserError(f"newsqa serve needs: pip install 'newsqa[serve]' ({error})") from error
    if library is not None:
        _state["library"] = library
    options = {"device": device, "model": model, "precision": precision}
    run_server(
        library_path(),
        host,
        port,
        token or None,
        allow_urls,
        batch_ms,
        options,
        announce=lambda line: err.print(line, highlight=False),
    )


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except UserError as error:
        err.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        sys.exit(2)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as error:  # click's own usage errors carry an exit code
        exit_code = getattr(error, "exit_code", None)
        if exit_code is not None and hasattr(error, "show"):
            error.show()
            sys.exit(exit_code)
        if os.environ.get("NEWSQA_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/red] {type(error).__name__}: {error} "
            "(set NEWSQA_DEBUG=1 for the traceback)",
            highlight=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
