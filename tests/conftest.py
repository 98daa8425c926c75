"""Shared fixtures: real models, real text (the seed article and ../shared/data)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEED = SHARED / "seed" / "article.txt"


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def squad_dev() -> list[dict]:
    """The public SQuAD v2 dev articles (for measuring and testing, never for training)."""
    return json.loads((SHARED / "data" / "squad2-dev-public.json").read_text())["data"]


@pytest.fixture(scope="session")
def cnndm_articles() -> list[dict]:
    rows = [json.loads(line) for line in (SHARED / "data" / "summ-dev-public.jsonl").open()]
    return [r for r in rows if r["source"] == "cnndm"]


@pytest.fixture(scope="session")
def qa():
    """One NewsQA with the bundled models and the seed article, shared by the API tests."""
    import newsqa

    engine = newsqa.NewsQA(device="cpu")
    engine.add(str(SEED))
    return engine
