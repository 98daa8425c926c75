"""Device selection: ``auto`` picks cuda, then mps, then cpu. ``NEWSQA_DEVICE`` sets the default."""

from __future__ import annotations

import os

from newsqa.errors import DeviceError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(requested: str | None = None) -> str:
    """Return a torch device string for ``requested`` (or ``$NEWSQA_DEVICE``, or ``auto``)."""
    name = (requested or os.environ.get("NEWSQA_DEVICE") or "auto").strip().lower()
    kind = name.split(":", 1)[0]
    if kind not in DEVICES:
        raise DeviceError(f"unknown device {name!r}: choose one of {', '.join(DEVICES)}")
    import torch

    if kind == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device 'cuda' was asked for, but this machine has no usable CUDA GPU")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("device 'mps' was asked for, but this machine has no Apple MPS backend")
    return name
