"""Command-line options shared by ``newsqa`` and its ``batch`` commands (one definition each)."""

from __future__ import annotations

from typing import Annotated

import typer

from newsqa.errors import InputError

DeviceOption = Annotated[
    str | None,
    typer.Option(
        help="auto, cpu, cuda or mps (default: $NEWSQA_DEVICE or auto).", show_default=False
    ),
]
PrecisionOption = Annotated[
    str | None,
    typer.Option(
        help="How the model runs on CPU: auto (fp32: the same answers on any CPU), fp32, bf16 "
        "(1.3x faster on CPUs with AMX) or int8 (1.5x faster; both answer a little worse; "
        "default: $NEWSQA_PRECISION or auto).",
        show_default=False,
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        help="The model that reads: newsqa-mini (bundled, the default; or $NEWSQA_MODEL), "
        "newsqa-base, an installed local chat model (smollm2, qwen2.5-coder-0.5b: newsqa "
        "models install NAME), a .gguf file, or a Hugging Face seq2seq or chat model's name "
        "or folder.",
        show_default=False,
    ),
]
TopKOption = Annotated[
    int, typer.Option("--top-k", min=1, max=50, help="Chunks to read per question.")
]
MinConfidenceOption = Annotated[
    float | None,
    typer.Option(
        "--min-confidence",
        help="Answer only when the probability that the answer is right reaches this "
        "(default: the model's bar for everyday news questions). Lower answers more often.",
        show_default=False,
    ),
]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="A higher bar, for questions written to trick a reader (SQuAD 2.0 style): "
        "refuses more, and more of what the article does not say.",
    ),
]

VerifyOption = Annotated[
    bool,
    typer.Option(
        "--verify",
        help="A second model checks each candidate answer against its sentence (newsqa-mini, "
        "fp32 or bf16): confidence that tells right from wrong better, ~30 ms more a question. "
        "$NEWSQA_VERIFY=1 turns it on everywhere.",
    ),
]


def check_bar(strict: bool, min_confidence: float | None) -> None:
    """--strict and --min-confidence both set the bar: refuse the two together."""
    if strict and min_confidence is not None:
        raise InputError("give --strict or --min-confidence, not both")


def parse_date_option(value: str | None, option: str) -> str | None:
    """A --date/--since/--until value as an ISO date; a bad one is a user error (exit 2)."""
    if value is None:
        return None
    from newsqa.dates import parse_date

    return parse_date(value, option)


def check_dates(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """--since and --until as ISO dates, checked before any model loads (since <= until)."""
    from newsqa.dates import check_range

    return check_range(parse_date_option(since, "--since"), parse_date_option(until, "--until"))


SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only articles published on or after this date, YYYY-MM-DD "
        "(e.g. --since 2021-07-01); undated articles are left out.",
        show_default=False,
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="Only articles published on or before this date, YYYY-MM-DD "
        "(e.g. --until 2021-07-31); undated articles are left out.",
        show_default=False,
    ),
]
