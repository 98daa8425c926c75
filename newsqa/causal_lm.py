"""Decoder-only language models (a local chat model: a Hugging Face folder or hub name, or a
``.gguf`` file) as newsqa's generator, through the same calls as a seq2seq model.

A request written for a seq2seq model (``newsqa.prompts``) becomes an instruction, the text to
read verbatim, and the question, put through the model's chat template (a plain
"Article: / Question: / Answer:" prompt for a model without one). Grounded decoding works as
for seq2seq models: the span constraint sees only the tokens generated after the prompt, and
the text read keeps its character offsets inside the prompt, so an answer is still a quote
with offsets. The no-answer score is the log-probability of the refusal after the prompt.
"""

from __future__ import annotations

from pathlib import Path

from newsqa.errors import InputError, ModelError
from newsqa.prompts import chat_parts

MAX_PROMPT_TOKENS = 2048
ANSWER_LEAD = "Answer:"
"""Where the model's reply starts for a question, so that the answer's first word comes with
its leading space, as every word of the article does in a byte-level or SentencePiece
vocabulary (a reply's very first word comes without one, and could not be quoted)."""


def gguf_location(name: str) -> tuple[str, str | None]:
    """(folder or hub name, GGUF file name or None) for a model name or path."""
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise InputError(f"no GGUF file at {path}")
        return str(path.parent), path.name
    return name, None


def is_decoder_only(location: str, gguf_file: str | None) -> bool:
    """Whether the model at ``location`` is a decoder-only (causal) language model."""
    if gguf_file is not None:  # transformers reads GGUF files as causal language models
        return True
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(location)
    return not getattr(config, "is_encoder_decoder", False)


GGUF_BITS_PER_WEIGHT = 4.5
"""What a 4-bit GGUF (the common kind) stores per weight, scales included: a file's size over
this is about its weights' count (an 8- or 16-bit file has fewer, so this over-counts them)."""


def available_memory() -> int | None:
    """Bytes of memory available now (Linux's MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_fits(path: Path, bytes_per_weight: int, available: int | None = None) -> None:
    """A one-line ModelError when a GGUF file's weights, expanded from their quantized form
    to ``bytes_per_weight`` as transformers loads them, would not fit in available memory."""
    available = available_memory() if available is None else available
    needed = path.stat().st_size * 8 / GGUF_BITS_PER_WEIGHT * bytes_per_weight
    if available is not None and needed > 0.9 * available:
        raise ModelError(
            f"{path.name} needs about {needed / 1e9:.1f} GB of memory once loaded (transformers "
            f"expands GGUF weights to {8 * bytes_per_weight}-bit), more than the "
            f"{available / 1e9:.1f} GB available: choose a smaller model"
        )


def load(location: str, gguf_file: str | None, dtype):
    """(tokenizer, model) of a causal LM; the tokenizer pads on the left, for batches."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if gguf_file is not None:
        check_fits(Path(location, gguf_file), dtype.itemsize)

    tokenizer = AutoTokenizer.from_pretrained(location, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(location, gguf_file=gguf_file, dtype=dtype)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, model


def prompt(
    tokenizer, request_text: str, context_start: int | None
) -> tuple[str, int | None, int | None]:
    """A seq2seq request (its text, where its context starts) as the model's prompt through
    its chat template, and where the text it reads starts and ends inside that prompt, so a
    grounded answer quotes only that text."""
    instruction, text, question = chat_parts(request_text, context_start)
    if question is not None:
        content = f"{instruction}\n\nArticle: {text}\n\nQuestion: {question}"
    else:
        content = f"{instruction}\n\n{text}" if instruction else text
    if tokenizer.chat_template:
        written = tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
        )
        written += ANSWER_LEAD if question is not None else ""
    else:
        written = f"{content}\n\n{ANSWER_LEAD}" if question is not None else f"{content}\n\n"
    if context_start is None:
        return written, None, None
    start = written.index(content) + content.index(text)
    return written, start, start + len(text)


def adds_special_tokens(tokenizer) -> bool:
    """Whether prompts need the tokenizer's special tokens (a chat template writes its own)."""
    return not tokenizer.chat_template


def word_continuations(tokenizer, size: int):
    """A mask over the vocabulary (plus one spare id) of the pieces that continue a word, where
    a quoted answer can neither start nor end: WordPiece's ``##`` pieces, or, in vocabularies
    that mark a word's start ("▁" in SentencePiece, "Ġ" in byte-level BPE), the pieces
    without the mark that begin with a letter or digit."""
    import torch

    pieces = tokenizer.convert_ids_to_tokens(list(range(min(len(tokenizer), size))))
    marked = any(p and p[0] in "▁Ġ" for p in pieces[:5000])
    continues = torch.zeros(size + 1, dtype=torch.bool)
    for number, piece in enumerate(pieces):
        if not piece:
            continue
        if piece.startswith("##") or (marked and piece[0] not in "▁Ġ" and piece[0].isalnum()):
            continues[number] = True
    return continues


def _positions(mask):
    """Position ids of left-padded rows: counted from each row's first real token."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def read_prompts(model, inputs):
    """The key/value cache of each (left-padded) prompt but its last token, read in one pass."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    mask = inputs["attention_mask"]
    model(
        input_ids=inputs["input_ids"][:, :-1],
        attention_mask=mask[:, :-1],
        position_ids=_positions(mask)[:, :-1],
        cache=cache,
        use_cache=True,
    )
    return cache


def target_logprobs(model, inputs, labels: list[int], cache, copy: bool) -> list[float]:
    """Teacher-forced log-probability of ``labels`` right after each prompt, from the prompts'
    cache (``read_prompts``; a copy of it when ``copy``, so it can still serve generation)."""
    import copy as copying

    import torch

    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    rows = ids.shape[0]
    label_ids = torch.tensor([labels] * rows, device=ids.device)
    full_mask = torch.cat([mask, torch.ones_like(label_ids)], dim=1)
    logits = model(
        input_ids=torch.cat([ids[:, -1:], label_ids], dim=1),
        attention_mask=full_mask,
        position_ids=_positions(full_mask)[:, ids.shape[1] - 1 :],
        cache=copying.deepcopy(cache) if copy else cache,
        use_cache=True,
    ).logits.float()
    predicted = logits[:, : len(labels)]
    logprobs = torch.log_softmax(predicted, dim=-1).gather(-1, label_ids.unsqueeze(-1))
    return [float(v) for v in logprobs.squeeze(-1).sum(-1).tolist()]
