"""The ``newsqa`` command line: a thin layer over the public API.

Exit codes: 0 answered (also when the article does not say), 2 user error, 1 internal error.
"""

from __future__ import annotations

import json
import os
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from newsqa.errors import InputError, UserError

app = typer.Typer(
    help=(
        "Ask questions about news articles and summarize them with a local seq2seq model.\n\n"
        "Nothing leaves your machine. With no --article, the bundled default article is used.\n\n"
        "Examples:\n\n"
        '  newsqa ask "how many soldiers?"\n\n'
        '  newsqa ask "who won?" --article story.html --json\n\n'
        "  curl -s https://example.com/story | newsqa summarize --article - --words 60"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ArticleOption = Annotated[
    str | None,
    typer.Option("--article", "-a", help="Article file, URL, or - for stdin.", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
DeviceOption = Annotated[
    str | None,
    typer.Option(
        help="auto, cpu, cuda or mps (default: $NEWSQA_DEVICE or auto).", show_default=False
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        help="Seq2seq model: a Hugging Face name or local folder "
        "(default: the bundled newsqa-mini).",
        show_default=False,
    ),
]


def default_article_path() -> Path:
    return Path(str(resources.files("newsqa.data").joinpath("article.txt")))


def _open(article: str | None, device: str | None, model: str | None, top_k: int = 4):
    """A NewsQA over the given article, or the bundled default article (said in one line)."""
    from newsqa import NewsQA

    qa = NewsQA(device=device, model=model, top_k=top_k)
    if article is None:
        added = qa.add(str(default_article_path()))
        err.print(
            f"[dim]Using the bundled default article: {added.title} "
            "(pass --article to use your own).[/dim]"
        )
        return qa, added
    if article != "-" and not re.match(r"^https?://", article, re.I):
        path = Path(article).expanduser()
        if not path.exists():
            raise InputError(f"no such file: {article}")
    return qa, qa.add(article)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    article: ArticleOption = None,
    json_output: JsonOption = False,
    device: DeviceOption = None,
    model: ModelOption = None,
    top_k: Annotated[
        int, typer.Option("--top-k", min=1, max=50, help="Chunks to read per question.")
    ] = 4,
) -> None:
    """Answer a question from an article, quoting the sentence it comes from.

    Example: newsqa ask "how many soldiers crossed the border?"
    """
    from newsqa.answer import check_question

    check_question(question)  # fail fast, before any model loads
    qa, added = _open(article, device, model, top_k)
    answer = qa.ask(question, article=added.id)
    if json_output:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    if not answer.answerable:
        out.print(f"[yellow]{answer.text}[/yellow]")
        return
    out.print(
        f"[bold green]{answer.text}[/bold green]  [dim](confidence {answer.confidence:.2f})[/dim]"
    )
    for evidence in answer.evidence:
        out.print(f"  [dim]evidence, characters {evidence.start}-{evidence.end}:[/dim]")
        out.print(f"  “{evidence.sentence}”", highlight=False)


@app.command()
def summarize(
    article: ArticleOption = None,
    words: Annotated[
        int, typer.Option("--words", "-w", min=5, max=1000, help="Longest summary, in words.")
    ] = 80,
    json_output: JsonOption = False,
    device: DeviceOption = None,
    model: ModelOption = None,
) -> None:
    """Summarize an article of any length.

    Example: newsqa summarize --article story.txt --words 60
    """
    qa, added = _open(article, device, model)
    summary = qa.summarize(article=added.id, max_words=words)
    if json_output:
        print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
        return
    out.print(summary.text, highlight=False)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        app(standalone_mode=False)
    except UserError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(2)
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
