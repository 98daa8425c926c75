"""Seq2SeqGenerator: any Hugging Face seq2seq model, the bundled newsqa-mini by default.

Loads lazily and once, picks the device and dtype, batches ``generate`` with inputs sorted by
length, and offers grounded decoding: the output may only be a span of the input's context (or
the no-answer target), so an answer is quoted from the article by construction.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
import weakref
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from newsqa import causal_lm
from newsqa.devices import resolve_device
from newsqa.errors import InputError, ModelError
from newsqa.quiet import quiet_transformers
from newsqa.resources import package_folder

BUNDLED_MODEL = "newsqa-mini"
BASE_MODEL = "newsqa-base"  # the installed all-mpnet-base-v2 + models/newsqa-base (base_model.py)
_LOADED: dict[tuple[str, str, str, bool], tuple] = {}
_SPAN_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # by loaded model
_LOADING = threading.Lock()


def bundled_model_path() -> Path:
    """The shipped newsqa-mini: the installed package ``newsqa.bundled_model`` (its folder, or,
    imported from a zip, its copy in the user cache: see ``newsqa.resources``), or ``models/``
    in a checkout that is not installed."""
    try:
        packaged = package_folder("newsqa.bundled_model")
        if (packaged / "config.json").exists():
            return packaged
    except (ModuleNotFoundError, TypeError):  # a checkout that is not installed
        pass
    return Path(__file__).resolve().parent.parent / "models" / BUNDLED_MODEL


def native_cpu_bf16() -> bool:
    """Whether bf16 is faster than fp32 on this CPU: only with AMX tiles. AVX-512 BF16 alone
    (no AMX) ran a training step at 1.9 s vs 1.3 s in fp32 here, and its matmuls slower too."""
    import torch

    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


PRECISIONS = ("auto", "fp32", "bf16", "int8")
"""How the generator runs on CPU. ``auto`` is fp32 on every CPU: the same question gets the same
answer on any machine, whatever it is batched with. bf16 (1.3x faster with AMX) and ``int8``
(dynamic quantization of the linear layers, 1.5x) answer a little worse and round differently
from one CPU, and one batch, to another."""


def cpu_precision(requested: str | None) -> str:
    """The CPU precision for ``requested`` (or ``$NEWSQA_PRECISION``, or ``auto``).

    ``auto`` is fp32 (see ``PRECISIONS``; docs/performance.md).
    """
    name = (requested or os.environ.get("NEWSQA_PRECISION") or "auto").strip().lower()
    if name not in PRECISIONS:
        raise InputError(f"unknown precision {name!r}: choose {', '.join(PRECISIONS)}")
    if name != "auto":
        return name
    return "fp32"


@dataclass(frozen=True)
class Generation:
    """One output: its text, its log-probability, and for grounded outputs the source span."""

    text: str
    logprob: float
    span: tuple[int, int] | None = None  # character offsets into the grounded context


@dataclass(frozen=True)
class Request:
    """What to generate from: the encoder text, and optionally where the quotable context lies."""

    text: str
    context_start: int | None = None  # grounded decoding quotes only text[context_start:]
    context_end: int | None = None  # ... up to here (a decoder-only prompt goes on after it)


class Seq2SeqGenerator:
    """Batched generation over ``AutoModelForSeq2SeqLM``; loaded on first use."""

    def __init__(
        self,
        model: str | None = None,
        device: str | None = "auto",
        max_input_tokens: int = 256,
        batch_size: int = 16,
        precision: str | None = None,
        fast: bool | None = None,
    ):
        """``precision`` applies on CPU: auto, fp32, bf16 or int8 (see ``cpu_precision``).
        GPUs always run bf16 (fp16 where bf16 is missing). ``fast``: our own models decode
        through ``fast_decoding`` (the same beams as ``transformers``' ``generate``, which
        every other model uses and which ``fast=False``, or ``$NEWSQA_DECODING=reference``,
        restores as the reference)."""
        self.name = model or os.environ.get("NEWSQA_MODEL") or BUNDLED_MODEL
        if fast is None:
            fast = os.environ.get("NEWSQA_DECODING", "fast").strip().lower() != "reference"
        self.fast = fast
        self.device = resolve_device(device)
        self.max_input_tokens = max_input_tokens
        self.batch_size = batch_size
        self.precision = "fp32"
        if self.device == "cpu":
            self.precision = cpu_precision(precision)
        elif self.device.startswith("cuda"):
            import torch

            self.precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"

    @property
    def is_bundled(self) -> bool:
        """One of our own models (grounded decoding by default): newsqa-mini or newsqa-base."""
        return self.name in (BUNDLED_MODEL, BASE_MODEL)

    @property
    def folder(self) -> Path | None:
        """The model's local folder, None for a hub name or a single file."""
        if self.name == BASE_MODEL:
            from newsqa.base_model import delta_path

            return delta_path()
        if self.is_bundled:
            return bundled_model_path()
        return Path(self.name) if Path(self.name).is_dir() else None

    @property
    def location(self) -> str:
        """What loads the model: its folder, hub name or file (an installed local chat model,
        ``newsqa models install NAME``, is its GGUF file in the user data folder)."""
        from newsqa.models_install import LANGUAGE_MODELS, installed_path

        if self.name in LANGUAGE_MODELS:
            spec = LANGUAGE_MODELS[self.name]
            found = installed_path(spec)
            if found is None:
                raise ModelError(
                    f"{self.name} is not installed: run newsqa models install {self.name}"
                )
            return str(found / spec.weights)
        return str(self.folder) if self.is_bundled else self.name

    @property
    def calibration_file(self) -> Path | None:
        """The model's fitted calibrator, None when it has none: our own models' files; for
        any other model, the one ``newsqa calibrate`` wrote in the user data folder
        (``calibration.folder_for``), else one its own folder ships, else the one newsqa ships
        for an installable local chat model (``calibration.shipped_file``)."""
        if self.is_bundled:
            return self.folder / "calibration.json"
        from newsqa.calibration import folder_for, shipped_file

        folder = self.folder
        for candidate in (
            folder_for(self.location) / "calibration.json",
            folder / "calibration.json" if folder is not None else None,
            shipped_file(self.location),
        ):
            if candidate is not None and candidate.is_file():
                return candidate
        return None

    @property
    def _loaded(self):
        """(tokenizer, model), loaded once per process for each model, device and precision:
        every NewsQA (and each one-shot ``newsqa.ask``) shares them."""
        key = (self.name, self.device, self.precision, self.fast)
        with _LOADING:
            if key not in _LOADED:
                _LOADED[key] = self._load()
        return _LOADED[key]

    def _load(self):
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        location = self.location
        if self.name == BUNDLED_MODEL and not Path(location, "config.json").exists():
            raise ModelError(f"the bundled model is missing from {location}: reinstall newsqa")
        quiet_transformers()
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision, torch.float32)
        try:
            if self.name == BASE_MODEL:
                from newsqa.base_model import load_newsqa_base

                tokenizer, model = load_newsqa_base(dtype=dtype)
            elif self.decoder_only:
                tokenizer, model = causal_lm.load(*causal_lm.gguf_location(location), dtype)
            else:
                tokenizer = AutoTokenizer.from_pretrained(location)
                model = AutoModelForSeq2SeqLM.from_pretrained(location, dtype=dtype)
        except ImportError as error:
            raise ModelError(
                f"cannot load {self.name!r}: {str(error).splitlines()[0]} — for .gguf files: "
                "pip install 'newsqa[llm]'"
            ) from error
        except (OSError, ValueError, KeyError) as error:
            if location.lower().endswith(".gguf"):
                raise ModelError(
                    f"cannot load {self.name!r}: {str(error).splitlines()[0]}"
                ) from error
            if Path(location).is_file():
                raise ModelError(
                    f"cannot load model {self.name!r}: a file that is not a .gguf model — give "
                    "a model's folder, a .gguf file or a Hugging Face model name"
                ) from error
            raise ModelError(
                f"cannot load model {self.name!r}: {str(error).splitlines()[0]} — "
                "give a local folder, or go online once so the hub can cache it "
                "(e.g. huggingface-cli download google/flan-t5-base)"
            ) from error
        model.eval().to(self.device)
        if self.precision == "int8":
            with warnings.catch_warnings():  # torch marks its quantized tensors as deprecated
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
                )
        if self.fast and self.is_bundled:
            from newsqa.fast_decoding import PackedLinear, pack_linear_layers

            if PackedLinear.applies(model, self.device, self.precision):
                pack_linear_layers(model)
        return tokenizer, model

    @property
    def batch_invariant(self) -> bool:
        """Whether a request's output is independent of what shares its batch: only in fp32.
        int8 scales activations by the whole batch's range, and bf16's padded matmuls moved
        confidences by up to 0.025 with the batch (enough to flip an answer at the bar)."""
        return self.precision == "fp32"

    @cached_property
    def decoder_only(self) -> bool:
        """A decoder-only (causal) language model, prompted through ``newsqa.causal_lm``; read
        from its config, without loading it (False where even that cannot load)."""
        if self.is_bundled:
            return False
        try:
            return causal_lm.is_decoder_only(*causal_lm.gguf_location(self.location))
        except (OSError, ValueError, KeyError):
            return False

    @property
    def tokenizer(self):
        return self._loaded[0]

    @property
    def model(self):
        return self._loaded[1]

    def generate(
        self,
        requests: list[Request],
        max_new_tokens: int = 32,
        num_beams: int = 4,
        grounded: bool = False,
        always_allowed: str | None = None,
        no_repeat_ngram_size: int = 0,
    ) -> list[list[Generation]]:
        """For each request, its beams best first. Inputs are batched, sorted by length.

        With ``grounded``, every output is a span of the request's context or the
        ``always_allowed`` text (the no-answer target).
        """
        beams, _ = self.generate_and_score(
            requests,
            None,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            grounded=grounded,
            always_allowed=always_allowed,
            no_repeat_ngram_size=no_repeat_ngram_size,
        )
        return beams

    def score(self, requests: list[Request], target: str) -> list[float]:
        """The log-probability the model gives ``target`` (then end of text) for each request."""
        return self.generate_and_score(requests, target, num_beams=0)[1]

    def generate_and_score(
        self,
        requests: list[Request],
        target: str | None,
        max_new_tokens: int = 32,
        num_beams: int = 4,
        grounded: bool = False,
        always_allowed: str | None = None,
        no_repeat_ngram_size: int = 0,
        groups: list[int] | None = None,
    ) -> tuple[list[list[Generation]], list[float]]:
        """``generate`` and ``score(target)`` from one encoder pass per batch.

        ``num_beams=0`` only scores. Returns (beams per request, target log-probabilities).
        ``groups`` (one number per request, e.g. its question): where outputs depend on the
        batch (int8), requests share a batch only with their own group, so a question gets the
        same answer asked alone or among others.
        """
        import torch
        from transformers.modeling_outputs import BaseModelOutput

        tokenizer, model = self._loaded
        causal = self.decoder_only
        if causal:
            requests = [
                Request(*causal_lm.prompt(tokenizer, r.text, r.context_start)) for r in requests
            ]
        encoded = tokenizer(
            [r.text for r in requests],
            truncation=True,
            max_length=causal_lm.MAX_PROMPT_TOKENS if causal else self.max_input_tokens,
            return_offsets_mapping=grounded,
            add_special_tokens=causal_lm.adds_special_tokens(tokenizer) if causal else True,
        )
        order = sorted(range(len(requests)), key=lambda i: len(encoded["input_ids"][i]))
        results: list[list[Generation]] = [[] for _ in requests]
        scores: list[float] = [0.0] * len(requests)
        fixed = None
        lead = " " if causal else ""  # a decoder-only reply goes on after "Answer:"
        if grounded and always_allowed:
            fixed = tokenizer(lead + always_allowed, add_special_tokens=False)["input_ids"]
        labels = None
        if target is not None:
            labels = tokenizer(lead + target, add_special_tokens=False)["input_ids"] + [self._eos]
        if groups is None or self.batch_invariant:
            groups = [0] * len(requests)
        for batch in _batches(order, groups, self.batch_size):
            features = [{"input_ids": encoded["input_ids"][i]} for i in batch]
            inputs = tokenizer.pad(features, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                if causal:
                    self._causal_batch(
                        batch,
                        inputs,
                        labels,
                        scores,
                        encoded,
                        requests,
                        fixed,
                        results,
                        max_new_tokens=max_new_tokens,
                        num_beams=num_beams,
                        grounded=grounded,
                        no_repeat_ngram_size=no_repeat_ngram_size,
                    )
                    continue
                hidden = self._encode(inputs)
                fast = self._fast_decoding(hidden, inputs["attention_mask"])
                logprobs = None
                if num_beams:
                    spans, constraint = self._grounding(batch, encoded, requests, fixed, grounded)
                    if fast and grounded and not no_repeat_ngram_size and self._own_search:
                        from newsqa.fast_decoding import beam_search

                        output, logprobs = beam_search(
                            fast, num_beams, max_new_tokens, constraint[0], self._eos, labels
                        )
                    else:
                        settings = _search_settings(
                            max_new_tokens, num_beams, grounded, no_repeat_ngram_size, constraint
                        )
                        output = (
                            fast.generate(**settings)
                            if fast
                            else model.generate(
                                encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
                                attention_mask=inputs["attention_mask"],
                                **settings,
                            )
                        )
                    self._collect(output, batch, num_beams, spans, results)
                if labels is not None:
                    if logprobs is None:
                        logprobs = (
                            fast.target_logprobs(labels)
                            if fast
                            else self._target_logprobs(hidden, inputs, labels)
                        )
                    for index, value in zip(batch, logprobs):
                        scores[index] = value
        return results, scores

    def _causal_batch(
        self,
        batch,
        inputs,
        labels,
        scores,
        encoded,
        requests,
        fixed,
        results,
        max_new_tokens: int,
        num_beams: int,
        grounded: bool,
        no_repeat_ngram_size: int,
    ) -> None:
        """``generate_and_score`` for one batch of a decoder-only model's prompts: the prompts
        are read once (not once per beam, as ``generate`` would), their cache serving both the
        no-answer score and every beam."""

        model = self.model
        prompt = inputs["input_ids"]
        length = prompt.shape[1]
        cache = causal_lm.read_prompts(model, inputs)
        if labels is not None:
            logprobs = causal_lm.target_logprobs(model, inputs, labels, cache, copy=bool(num_beams))
            for index, value in zip(batch, logprobs):
                scores[index] = value
        if not num_beams:
            return
        spans, constraint = self._grounding(batch, encoded, requests, fixed, grounded, length)
        cache.batch_repeat_interleave(num_beams)
        output = model.generate(
            **inputs,
            cache=cache,
            pad_token_id=self.tokenizer.pad_token_id,
            **_search_settings(
                max_new_tokens, num_beams, grounded, no_repeat_ngram_size, constraint
            ),
        )
        self._collect(output, batch, num_beams, spans, results, skip=length)

    def _grounding(self, batch, encoded, requests, fixed, grounded, prompt_length=None):
        """(each request's context tokens and offsets, the span constraint) for one batch;
        (None, None) when not grounded."""
        if not grounded:
            return None, None
        from transformers import LogitsProcessorList

        spans = [self._context_tokens(encoded, i, requests[i]) for i in batch]
        contexts = [s[0] for s in spans]
        constraint = _SpanConstraint(contexts, fixed, self._eos, *self._span_tables, prompt_length)
        return spans, LogitsProcessorList([constraint])

    @property
    def _own_search(self) -> bool:
        """Whether our own encoder pass and beam search serve the fast path: not in int8, where
        dynamically quantized layers scale by the whole batch's range, so reading the tokens
        packed or the no-answer rows with the first step moves answers at the bar."""
        return self.precision != "int8"

    def _encode(self, inputs):
        """The encoder's last hidden states for a padded batch (without the padding's work on
        the fast path, where the encoder allows it)."""
        if self.fast and self.is_bundled and self._own_search:
            from newsqa.fast_decoding import encode

            hidden = encode(self.model.get_encoder(), inputs["input_ids"], inputs["attention_mask"])
            if hidden is not None:
                return hidden
        return self.model.get_encoder()(**inputs).last_hidden_state

    def _fast_decoding(self, hidden, attention_mask):
        """The fast decoder for this encoded batch, or None where it does not apply."""
        if not (self.fast and self.is_bundled):
            return None
        from newsqa.fast_decoding import FastDecoding

        return FastDecoding.for_model(self.model, hidden, attention_mask)

    def _target_logprobs(self, hidden, inputs, labels: list[int]) -> list[float]:
        """Teacher-forced log-probability of ``labels`` for each row of an encoded batch."""
        import torch
        from transformers.modeling_outputs import BaseModelOutput

        model = self.model
        label_ids = torch.tensor([labels] * hidden.shape[0], device=self.device)
        decoder_ids = model.prepare_decoder_input_ids_from_labels(labels=label_ids)
        logits = model(
            encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
            attention_mask=inputs["attention_mask"],
            decoder_input_ids=decoder_ids,
        ).logits.float()
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, label_ids.unsqueeze(-1))
        return [float(v) for v in logprobs.squeeze(-1).sum(-1).tolist()]

    def _collect(self, output, batch, num_beams: int, spans, results, skip: int = 0) -> None:
        """Decode one batch's beams into ``results`` (with source spans when grounded);
        ``skip``: the prompt's tokens at the start of each sequence (decoder-only models)."""
        sequences = output.sequences[:, skip:].tolist()
        scores = (
            output.sequences_scores.tolist()
            if getattr(output, "sequences_scores", None) is not None
            else [0.0] * len(sequences)
        )
        for position, index in enumerate(batch):
            for beam in range(num_beams):
                row = position * num_beams + beam
                tokens = [t for t in sequences[row] if t not in self._special_ids]
                text = self.tokenizer.decode(tokens, skip_special_tokens=True).strip()
                span = _locate(tokens, *spans[position]) if spans is not None else None
                results[index].append(Generation(text, float(scores[row]), span))

    @cached_property
    def _eos(self) -> int:
        config = self.model.generation_config
        eos = config.eos_token_id
        return eos[0] if isinstance(eos, list) else int(eos)

    @property
    def _span_tables(self):
        """For grounded decoding, once per loaded model (a batch job makes a NewsQA per
        article): the special ids, and a mask over the output vocabulary (plus one spare id) of
        the pieces that continue a word, where an answer can neither start nor end
        (``causal_lm.word_continuations``)."""
        import torch

        tokenizer, model = self._loaded
        tables = _SPAN_TABLES.get(model)
        if tables is None:
            size = model.get_output_embeddings().out_features  # also once quantized
            continues = causal_lm.word_continuations(tokenizer, size)
            special = torch.tensor(sorted(self._special_ids), dtype=torch.long)
            tables = _SPAN_TABLES.setdefault(
                model, (special.to(self.device), continues.to(self.device))
            )
        return tables

    @cached_property
    def _special_ids(self) -> set[int]:
        config = self.model.generation_config
        ids = set(self.tokenizer.all_special_ids)
        for value in (config.decoder_start_token_id, config.bos_token_id, config.pad_token_id):
            if value is not None:
                ids.add(int(value))
        return ids

    def _context_tokens(self, encoded, index: int, request: Request):
        """The context's token ids and their character offsets inside the request text."""
        start = request.context_start or 0
        end = request.context_end if request.context_end is not None else len(request.text)
        ids = encoded["input_ids"][index]
        offsets = encoded["offset_mapping"][index]
        text = request.text
        kept = []
        for token, (a, b) in zip(ids, offsets):
            if a == b or token in self._special_ids:
                continue
            while a < b and text[a].isspace():  # byte-level BPE offsets hold the space before
                a += 1
            if start <= a <= b <= end:
                kept.append((token, (a, b)))
        return [t for t, _ in kept], [(a - start, b - start) for _, (a, b) in kept]


class _SpanConstraint:
    """A logits processor: the next token must continue a span of the row's context, or the
    fixed (no-answer) text; everything else gets -inf.

    Vectorised over the batch's beams: each step compares every context window of the generated
    length with what each beam has written so far, in one tensor operation.
    """

    def __init__(
        self,
        contexts: list[list[int]],
        fixed: list[int] | None,
        eos: int,
        special,
        continues,
        prompt_length: int | None = None,
    ):
        """``special``: the special ids (a tensor); ``continues``: the word-continuation mask
        over the output vocabulary plus one spare id (see ``Seq2SeqGenerator._span_tables``);
        ``prompt_length``: a decoder-only model's prompt, before what it writes (else what it
        writes follows the leading special tokens)."""
        import torch

        self.prompt_length = prompt_length

        width = max((len(c) for c in contexts), default=0)
        padded = torch.full((len(contexts), width + 1), -1, dtype=torch.long)
        for row, context in enumerate(contexts):
            padded[row, : len(context)] = torch.tensor(context, dtype=torch.long)
        self.contexts = padded.to(special.device)  # one spare -1 column: "past the end"
        self.fixed = torch.tensor(fixed or [], dtype=torch.long, device=special.device)
        self.eos = eos
        self.special = special
        self.continues = continues

    def keep(self, rows) -> None:
        """Go on with these rows' contexts only (a search that drops finished inputs)."""
        self.contexts = self.contexts.index_select(0, rows)

    def allowed(self, input_ids, vocabulary: int):
        """The (row, token) pairs each beam row may write next, sorted and each once."""
        import torch

        rows = input_ids.shape[0]
        contexts = self.contexts.repeat_interleave(rows // self.contexts.shape[0], dim=0)
        start = self.prompt_length
        if start is None:
            start = _leading_special(input_ids, self.special)
        generated = input_ids[:, start:]
        size = generated.shape[1]
        nothing = input_ids.new_empty(0)  # a row longer than every context: only the end
        found_rows, found_tokens = [nothing], [nothing]

        def allow(where, tokens) -> None:
            row, position = where.nonzero(as_tuple=True)
            found_rows.append(row)
            found_tokens.append(tokens[row, position] if tokens.dim() == 2 else tokens[row])

        valid = contexts >= 0
        tokens = contexts.clamp(min=0)
        eos = torch.full((rows,), self.eos, dtype=torch.long, device=contexts.device)
        if size == 0:
            allow(valid & ~self.continues[tokens], tokens)
        elif size < contexts.shape[1]:
            windows = contexts[:, :-1].unfold(1, size, 1)  # (rows, positions, size)
            matched = (windows == generated[:, None, :]).all(-1)
            following = contexts[:, size:]  # the token after each window (-1: the end)
            allow(matched & (following >= 0), following.clamp(min=0))
            ends = matched & ((following < 0) | ~self.continues[following.clamp(min=0)])
            allow(ends.any(-1, keepdim=True), eos)
        fixed = self.fixed
        if len(fixed) and size <= len(fixed):
            on_track = (generated == fixed[:size]).all(-1, keepdim=True)
            allow(on_track, eos if size == len(fixed) else fixed[size].expand(rows))
        row, token = torch.cat(found_rows), torch.cat(found_tokens)
        inside = token < vocabulary
        row, token = row[inside], token[inside]
        empty = torch.bincount(row, minlength=rows) == 0  # nothing left: only the end
        row, token = torch.cat([row, empty.nonzero().squeeze(1)]), torch.cat([token, eos[empty]])
        keys = torch.unique(row * (vocabulary + 1) + token)
        return keys // (vocabulary + 1), keys % (vocabulary + 1)

    def __call__(self, input_ids, scores):
        import torch

        row, token = self.allowed(input_ids, scores.shape[1])
        allowed = torch.zeros_like(scores, dtype=torch.bool)
        allowed[row, token] = True
        return scores.masked_fill(~allowed, -math.inf)


def _search_settings(
    max_new_tokens: int, num_beams: int, grounded: bool, no_repeat_ngram_size: int, constraint
) -> dict:
    """``generate``'s beam search settings, for seq2seq and decoder-only models alike."""
    return dict(
        max_new_tokens=max_new_tokens,
        num_beams=num_beams,
        num_return_sequences=num_beams,
        length_penalty=0.0,
        # grounded: exact search (the constraint makes early stops rank high)
        early_stopping="never" if grounded else True,
        do_sample=False,
        no_repeat_ngram_size=no_repeat_ngram_size,
        logits_processor=constraint,
        output_scores=True,
        return_dict_in_generate=True,
    )


def _batches(order: list[int], groups: list[int], size: int) -> list[list[int]]:
    """``order`` (indices sorted by length) cut into batches of at most ``size`` that never
    mix groups; groups come in the order of their shortest request."""
    by_group: dict[int, list[int]] = {}
    for index in order:
        by_group.setdefault(groups[index], []).append(index)
    return [
        members[first : first + size]
        for members in by_group.values()
        for first in range(0, len(members), size)
    ]


def _leading_special(input_ids, special) -> int:
    """How many leading columns hold only special tokens (the decoder's start)."""
    import torch

    count = 0
    while count < input_ids.shape[1] and bool(torch.isin(input_ids[:, count], special).all()):
        count += 1
    return count


def _occurrences(context: list[int], span: list[int]) -> list[int]:
    size = len(span)
    return [
        i
        for i in range(len(context) - size + 1)
        if context[i] == span[0] and context[i : i + size] == span
    ]


def _locate(tokens: list[int], context: list[int], offsets) -> tuple[int, int] | None:
    """Character span of the first occurrence of ``tokens`` in the context, if any."""
    if not tokens:
        return None
    found = _occurrences(context, tokens)
    if not found:
        return None
    first = found[0]
    return offsets[first][0], offsets[first + len(tokens) - 1][1]
