"""``newsqa batch``: ask questions of, or summarize, many articles into a JSONL file, resumably,
in this process or on Ray. A thin layer over :mod:`newsqa.batch`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from newsqa.cli_options import (
    DeviceOption,
    MinConfidenceOption,
    ModelOption,
    PrecisionOption,
    StrictOption,
    TopKOption,
    check_bar,
)
from newsqa.errors import InputError

app = typer.Typer(
    help=(
        "Ask questions of, or summarize, many articles: one JSON line each, resumable.\n\n"
        "Examples:\n\n"
        '  newsqa batch ask "who?" "where?" --articles \'news/*.html\' --out answers.jsonl\n\n'
        "  newsqa batch summarize --articles archive.jsonl.gz --out summaries.jsonl --ray"
    ),
    no_args_is_help=True,
)
err = Console(stderr=True, soft_wrap=True)

ArticlesOption = Annotated[
    list[str],
    typer.Option(
        "--articles",
        "-a",
        help="Article files, folders, globs (quote them: 'news/*.html'), URLs, or JSONL archives "
        "(.jsonl, .jsonl.gz: one article a line, with 'text' or 'article', and 'id'). "
        "Repeat for more.",
        show_default=False,
    ),
]
OutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        help="The JSONL file to write. Run again with the same file to finish an interrupted run.",
        show_default=False,
    ),
]
RayOption = Annotated[
    bool,
    typer.Option(
        "--ray", help="Run on Ray: a local one, or the cluster at --ray-address / $RAY_ADDRESS."
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="A Ray cluster's address (host:port, ray://host:10001, auto); implies --ray.",
        show_default=False,
    ),
]
NumGpusOption = Annotated[
    float, typer.Option("--num-gpus", min=0.0, help="GPUs per model actor, on Ray.")
]
ActorsOption = Annotated[
    int | None,
    typer.Option(
        "--actors",
        min=1,
        help="Model actors on Ray (default: one per CPU of the cluster, or per --num-gpus GPUs).",
        show_default=False,
    ),
]


def _run(kind: str, start, ray: bool, ray_address: str | None) -> None:
    """Run ``start(on_progress=..., ray=..., address=...)`` with a progress bar and a report."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.2f} articles/s" if speed else "… articles/s", style="cyan")

    progress = Progress(
        TextColumn(kind),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
    )
    tasks = []

    def on_progress(done: int, total: int) -> None:
        if not tasks:  # shown from the first article on, not while arguments are checked
            progress.start()
            tasks.append(progress.add_task(kind, total=total, completed=done))
        progress.update(tasks[0], completed=done)

    try:
        report = start(on_progress=on_progress, ray=ray or bool(ray_address), address=ray_address)
    finally:
        if tasks:
            progress.stop()
    errors = f", {report.errors} of them errors" if report.errors else ""
    err.print(
        f"{report.articles} articles done, {report.lines} lines written{errors}, "
        f"{report.already_done} articles done before, in {report.seconds:.1f} s "
        f"({report.articles_per_second:.2f} articles/s) — {report.out}",
        highlight=False,
    )
    if report.errors:
        raise typer.Exit(2)


@app.command("ask")
def ask(
    questions: Annotated[list[str], typer.Argument(help="The questions, each in quotes.")],
    articles: ArticlesOption,
    out: OutOption,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    num_gpus: NumGpusOption = 0.0,
    actors: ActorsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    precision: PrecisionOption = None,
    top_k: TopKOption = 4,
    min_confidence: MinConfidenceOption = None,
    strict: StrictOption = False,
) -> None:
    """Ask every question of every article, into a JSONL file.

    One line per article and question: {"source", "article_id", "question", "answer"}, the
    answer as `newsqa ask --json` prints it, or {..., "error"} for an article that cannot be
    read. Run it again with the same --out to finish an interrupted run.

    Example: newsqa batch ask "who won?" "by how much?" --articles 'news/*.html' --out a.jsonl
    """
    from newsqa import batch

    for question in questions:
        if Path(question).expanduser().is_file():
            raise InputError(
                f"{question!r} is a file, not a question: quote globs "
                "(--articles 'news/*.html') or repeat --articles"
            )
    check_bar(strict, min_confidence)
    options = {"device": device, "model": model, "precision": precision, "top_k": top_k}
    options.update(min_confidence=min_confidence, strict=strict)

    def start(**run):
        return batch.ask(
            questions, articles, out, num_gpus=num_gpus, actors=actors, **run, **options
        )

    _run("answering", start, ray, ray_address)


@app.command("summarize")
def summarize(
    articles: ArticlesOption,
    out: OutOption,
    words: Annotated[
        int, typer.Option("--words", "-w", min=5, max=1000, help="Longest summary, in words.")
    ] = 80,
    strategy: Annotated[
        str, typer.Option("--strategy", help="compress or map-reduce (as newsqa summarize).")
    ] = "compress",
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    num_gpus: NumGpusOption = 0.0,
    actors: ActorsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    precision: PrecisionOption = None,
) -> None:
    """Summarize every article, into a JSONL file.

    One line per article: {"source", "article_id", "summary"}, the summary as
    `newsqa summarize --json` prints it, or {..., "error"}. Run it again with the same --out
    to finish an interrupted run.

    Example: newsqa batch summarize --articles archive.jsonl.gz --out summaries.jsonl --ray
    """
    from newsqa import batch

    options = {"device": device, "model": model, "precision": precision}

    def start(**run):
        return batch.summarize(
            articles,
            out,
            words=words,
            strategy=strategy,
            num_gpus=num_gpus,
            actors=actors,
            **run,
            **options,
        )

    _run("summarizing", start, ray, ray_address)
