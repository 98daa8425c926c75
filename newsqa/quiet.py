"""Keep third-party progress bars and load reports out of the user's terminal."""

from __future__ import annotations

import os


def quiet_transformers() -> None:
    """Silence transformers' weight-loading bars and reports (warnings and errors still show)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
