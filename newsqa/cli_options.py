"""Command-line options shared by ``newsqa`` and its ``batch`` commands (one definition each)."""

from __future__ import annotations

from typing import Annotated

import typer

DeviceOption = Annotated[
    str | None,
    typer.Option(
        help="auto, cpu, cuda or mps (default: $NEWSQA_DEVICE or auto).", show_default=False
    ),
]
PrecisionOption = Annotated[
    str | None,
    typer.Option(
        help="How the model runs on CPU: auto (bf16 on CPUs with AMX, else int8 for the bundled "
        "model), fp32, bf16 or int8 (default: $NEWSQA_PRECISION or auto).",
        show_default=False,
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        help="Seq2seq model: a Hugging Face name or local folder "
        "(default: $NEWSQA_MODEL or the bundled newsqa-mini).",
        show_default=False,
    ),
]
