"""Faster decoding for our own encoder-decoders (a BERT decoder with cross-attention, as in
newsqa-mini and newsqa-base): the same beams and scores as ``EncoderDecoderModel.generate``.

For an encoder-decoder searching with beams, ``generate`` repeats work that does not change from
one step, or one beam, to the next: it projects the encoder states to the decoder's width at
every step (newsqa-base: 768 -> 384, over every beam's copy), computes the cross-attention keys
and values once per beam rather than once per input, and copies that cross-attention cache into
beam order at every step although the beams of one input share it. Here the projection and the
cross-attention keys and values are computed once per input. Grounded answers go through
``beam_search``, our own loop with ``generate``'s selection rules and a lean decoder step
(``_Step``); summaries and free answers through the decoder's own ``generate`` with a cache
whose cross-attention part is shared by an input's beams. ``encode`` runs a BERT or MPNet encoder
without the padding's work.

On a CPU a decoder step over a few beams costs about what reading the decoder's weights costs
(the output layer's alone are 47 MB for newsqa-mini), whatever the rows. A grounded answer
mostly walks along its passage: once its first tokens are chosen, the constraint leaves each
beam one token to write (the next one of the only span it can be in). So a pass also reads the
positions of those forced paths (``_ReadAhead``), and the steps that follow need no pass of
their own while every beam stays on its path: about half the passes, the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import torch
from transformers import DynamicCache, EncoderDecoderCache


class PackedLinear(torch.nn.Module):
    """A linear layer with its weight laid out once for the kernel that runs it fastest on this
    CPU, within float rounding of ``torch.nn.Linear`` (benchmarks/bench_decoding.py):

    - ``"prepacked"``: oneDNN's linear over a weight reordered once into its blocked layout for
      about ``rows`` rows; on a 2-core AMD EPYC the output layer's 32 rows x 30,522 words take
      4.3 ms against 7.5 ms for oneDNN on a weight packed per call and 8-15 ms for
      ``torch.nn.Linear``, and the encoder's and decoder's layers gain 8-30 %;
    - ``"transposed"``: one BLAS matmul over the weight stored transposed, the fastest measured
      for the output layer on an Intel Xeon (2.0 ms, against 2.4 ms for ``torch.nn.Linear``).
    """

    def __init__(self, linear: torch.nn.Linear, kernel: str | None = None, rows: int = 32):
        """``rows``: how many rows a call usually reads (a decoder pass: up to ``AHEAD_ROWS``)."""
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.kernel = kernel or output_kernel()
        weight = linear.weight.detach()
        bias = linear.bias
        bias = weight.new_zeros(weight.shape[0]) if bias is None else bias.detach()
        if self.kernel == "prepacked":
            self.weight, self.bias = torch.ops.mkldnn._reorder_linear_weight(weight, rows), bias
        else:
            self.weight, self.bias = weight.t().contiguous(), bias

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.kernel == "prepacked":
            linear = torch.ops.mkldnn._linear_pointwise
            return linear(inputs, self.weight, self.bias, "none", [], "")
        flat = inputs.reshape(-1, self.in_features).contiguous()
        output = torch.addmm(self.bias, flat, self.weight)
        return output.reshape(*inputs.shape[:-1], self.out_features)

    @staticmethod
    def applies(model, device: str, precision: str) -> bool:
        """Whether ``pack_linear_layers`` speeds up ``model`` here: fp32 on a CPU with oneDNN."""
        head = getattr(getattr(getattr(model, "decoder", None), "cls", None), "predictions", None)
        return (
            device == "cpu"
            and precision == "fp32"
            and torch.backends.mkldnn.is_available()
            and type(getattr(head, "decoder", None)) is torch.nn.Linear
        )


@cache
def output_kernel() -> str:
    """``PackedLinear``'s kernel for this CPU: ``"transposed"`` on Intel, else ``"prepacked"``
    where this torch has oneDNN's prepacked linear."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            intel = "GenuineIntel" in info.read(4096)
    except OSError:
        intel = False
    if intel or not _prepacked_linear_works():
        return "transposed"
    return "prepacked"


def _prepacked_linear_works() -> bool:
    """Whether this torch has oneDNN's prepacked linear (private operators, present since torch
    2.0) and it computes a small linear layer as ``torch.nn.functional.linear`` does."""
    try:
        generator = torch.Generator().manual_seed(0)
        weight = torch.randn(24, 16, generator=generator)
        bias, rows = torch.randn(24, generator=generator), torch.randn(3, 16, generator=generator)
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, 3)
        got = torch.ops.mkldnn._linear_pointwise(rows, packed, bias, "none", [], "")
        return torch.allclose(got, torch.nn.functional.linear(rows, weight, bias), atol=1e-4)
    except (AttributeError, RuntimeError, TypeError):
        return False


ENCODER_ROWS = 640
"""The rows an encoder's layers are prepacked for: 4 passages of ~160 tokens, read packed."""


def pack_linear_layers(model) -> None:
    """Run the decoder's output layer (to the vocabulary) through ``PackedLinear``; where the
    kernel is ``"prepacked"`` (measured faster for every layer), every other linear layer too:
    the encoder's for a packed batch of passages, the decoder's for a step's beam rows."""
    head = model.decoder.cls.predictions
    head.decoder = PackedLinear(head.decoder)
    if output_kernel() != "prepacked":
        return
    for part, rows in ((model.encoder, ENCODER_ROWS), (model.decoder, AHEAD_ROWS)):
        pack_children(part, rows)
    if isinstance(getattr(model, "enc_to_dec_proj", None), torch.nn.Linear):
        model.enc_to_dec_proj = PackedLinear(model.enc_to_dec_proj, "prepacked", ENCODER_ROWS)


def pack_children(module: torch.nn.Module, rows: int) -> None:
    """Every ``torch.nn.Linear`` inside ``module`` prepacked for about ``rows`` rows."""
    for name, child in module.named_children():
        if type(child) is torch.nn.Linear:
            setattr(module, name, PackedLinear(child, "prepacked", rows))
        else:
            pack_children(child, rows)


class _BeamSharedCache(EncoderDecoderCache):
    """A cache whose cross-attention part is the same for every beam of an input."""

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self.self_attention_cache.reorder_cache(beam_idx)


@dataclass
class FastDecoding:
    """One encoded batch, ready to decode: the decoder, the states it attends to, and each
    decoder layer's cross-attention keys and values (one row per input)."""

    model: object  # the EncoderDecoderModel (its generation config and start token)
    states: torch.Tensor
    attention_mask: torch.Tensor
    keys: list[torch.Tensor]
    values: list[torch.Tensor]

    @classmethod
    def for_model(cls, model, hidden: torch.Tensor, attention_mask) -> FastDecoding | None:
        """Prepare ``hidden`` (the encoder's output) for decoding; None for a model whose
        decoder is not a BERT decoder with cross-attention."""
        decoder = getattr(model, "decoder", None)
        bert = getattr(decoder, "bert", None)
        layers = getattr(getattr(bert, "encoder", None), "layer", None)
        if layers is None or not all(hasattr(layer, "crossattention") for layer in layers):
            return None
        states = hidden
        if (  # as EncoderDecoderModel.forward decides it
            model.encoder.config.hidden_size != decoder.config.hidden_size
            and getattr(decoder.config, "cross_attention_hidden_size", None) is None
        ):
            states = model.enc_to_dec_proj(hidden)
        keys, values = [], []
        for layer in layers:
            attention = layer.crossattention.self
            shape = (*states.shape[:-1], -1, attention.attention_head_size)
            keys.append(attention.key(states).view(shape).transpose(1, 2))
            values.append(attention.value(states).view(shape).transpose(1, 2))
        return cls(model, states, attention_mask, keys, values)

    def _cache(self, copies: int) -> EncoderDecoderCache:
        """A fresh cache with the cross-attention keys and values, ``copies`` rows per input."""
        cross = DynamicCache()
        for number, (key, value) in enumerate(zip(self.keys, self.values)):
            if copies > 1:
                key, value = key.repeat_interleave(copies, 0), value.repeat_interleave(copies, 0)
            cross.update(key, value, number)
        return _BeamSharedCache(DynamicCache(), cross)

    @property
    def _start(self) -> int:
        return int(self.model.generation_config.decoder_start_token_id)

    def generate(self, num_beams: int, **settings):
        """``generate`` with these settings (as for ``EncoderDecoderModel.generate``)."""
        rows = self.states.shape[0]
        start = torch.full((rows, 1), self._start, dtype=torch.long, device=self.states.device)
        return self.model.decoder.generate(
            input_ids=start,
            encoder_hidden_states=self.states,
            encoder_attention_mask=self.attention_mask,
            cache=self._cache(num_beams),
            generation_config=self.model.generation_config,
            num_beams=num_beams,
            **settings,
        )

    def target_logprobs(self, labels: list[int]) -> list[float]:
        """Teacher-forced log-probability of ``labels`` for each input."""
        rows = self.states.shape[0]
        label_ids = torch.tensor([labels] * rows, device=self.states.device)
        start = torch.full((rows, 1), self._start, dtype=torch.long, device=self.states.device)
        logits = _Step(self)(torch.cat([start, label_ids[:, :-1]], dim=1), 0).float()
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, label_ids.unsqueeze(-1))
        return [float(v) for v in logprobs.squeeze(-1).sum(-1).tolist()]


def encode(encoder, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor | None:
    """A BERT or MPNet encoder's last hidden states for a padded batch (padded on the right),
    computed without the padding: every linear layer reads the batch's real tokens only, packed
    into one matrix, and each input attends to its own tokens (MPNet: with its relative position
    bias for that input's length). Padded positions come back as zeros (the decoder masks them).
    None for any other encoder (a BERT with relative positions, another architecture)."""
    config = getattr(encoder, "config", None)
    kind = getattr(config, "model_type", None)
    if kind == "bert" and getattr(config, "position_embedding_type", "absolute") == "absolute":
        layers = _bert_layers
    elif kind == "mpnet":
        layers = _mpnet_layers
    else:
        return None
    real = attention_mask.bool()
    lengths = real.sum(1).tolist()
    hidden = layers(encoder, input_ids[real], lengths)
    padded = hidden.new_zeros(*input_ids.shape, hidden.shape[-1])
    padded[real] = hidden
    return padded


def _positions(lengths: list[int], first: int, device) -> torch.Tensor:
    return torch.cat([torch.arange(first, first + length, device=device) for length in lengths])


def _attend(
    projected: list[torch.Tensor],
    lengths: list[int],
    heads: int,
    scale: float,
    biases: dict[int, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Each input's queries attend to its own keys and values (rows packed input after input);
    ``biases``: the scores' additive bias for each input length, or None."""
    sdpa = torch.nn.functional.scaled_dot_product_attention
    size = projected[0].shape[-1] // heads
    attended = []
    for length, *parts in zip(lengths, *(p.split(lengths) for p in projected)):
        query, key, value = (part.view(1, -1, heads, size).transpose(1, 2) for part in parts)
        mask = None if biases is None else biases[length]
        output = sdpa(query, key, value, attn_mask=mask, scale=scale)
        attended.append(output.transpose(1, 2).reshape(-1, heads * size))
    return torch.cat(attended)


def _bert_layers(encoder, tokens: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    embeddings = encoder.embeddings
    hidden = embeddings.word_embeddings(tokens) + embeddings.token_type_embeddings.weight[0]
    positions = _positions(lengths, 0, tokens.device)
    hidden = embeddings.LayerNorm(hidden + embeddings.position_embeddings(positions))
    for layer in encoder.encoder.layer:
        attention = layer.attention.self
        projected = [attention.query(hidden), attention.key(hidden), attention.value(hidden)]
        heads = attention.num_attention_heads
        attended = _attend(projected, lengths, heads, attention.scaling)
        hidden = layer.attention.output(attended, hidden)
        hidden = layer.output(layer.intermediate(hidden), hidden)
    return hidden


def _mpnet_layers(encoder, tokens: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    embeddings = encoder.embeddings
    positions = _positions(lengths, embeddings.padding_idx + 1, tokens.device)
    hidden = embeddings.word_embeddings(tokens) + embeddings.position_embeddings(positions)
    hidden = embeddings.LayerNorm(hidden)
    biases = {  # (1, heads, length, length) for each length, as MPNet computes it
        length: encoder.encoder.compute_position_bias(hidden[None, :length])
        for length in set(lengths)
    }
    for layer in encoder.encoder.layer:
        attention = layer.attention.attn
        projected = [attention.q(hidden), attention.k(hidden), attention.v(hidden)]
        heads, size = attention.num_attention_heads, attention.attention_head_size
        attended = _attend(projected, lengths, heads, size**-0.5, biases)
        hidden = layer.attention.LayerNorm(attention.o(attended) + hidden)
        hidden = layer.output(layer.intermediate(hidden), hidden)
    return hidden


@dataclass
class BeamOutput:
    """What ``Seq2SeqGenerator._collect`` reads of a beam search: ``num_beams`` rows per input."""

    sequences: torch.Tensor
    sequences_scores: torch.Tensor


class _Step:
    """One decoder step for the live beams: a BERT decoder layer by layer, its self-attention
    keys and values kept per beam, the cross-attention's once per input (each input's beams
    attend to them as so many queries)."""

    def __init__(self, decoding: FastDecoding):
        decoder = decoding.model.decoder
        self.embeddings = decoder.bert.embeddings
        self.layers = list(decoder.bert.encoder.layer)
        self.head = decoder.cls.predictions
        self.vocabulary = int(self.head.decoder.out_features)
        attention = self.layers[0].attention.self
        self.heads, self.head_size = attention.num_attention_heads, attention.attention_head_size
        self.scaling = attention.scaling
        self.keys, self.values = list(decoding.keys), list(decoding.values)
        mask = decoding.attention_mask
        self.mask = None if bool(mask.all()) else mask.bool()[:, None, None, :]
        self.past_keys: list[torch.Tensor | None] = [None] * len(self.layers)
        self.past_values: list[torch.Tensor | None] = [None] * len(self.layers)

    def keep_inputs(self, inputs: torch.Tensor) -> None:
        """Keep only these inputs' cross-attention keys and values."""
        self.keys = [k.index_select(0, inputs) for k in self.keys]
        self.values = [v.index_select(0, inputs) for v in self.values]
        if self.mask is not None:
            self.mask = self.mask.index_select(0, inputs)

    def trim(self, positions: int) -> None:
        """Keep only the first ``positions`` of the self-attention cache."""
        self.past_keys = [k[:, :, :positions] for k in self.past_keys]
        self.past_values = [v[:, :, :positions] for v in self.past_values]

    def reorder(self, rows: torch.Tensor) -> None:
        """The self-attention cache of these beam rows, in this order."""
        self.past_keys = [k.index_select(0, rows) for k in self.past_keys]
        self.past_values = [v.index_select(0, rows) for v in self.past_values]

    def _split(self, states: torch.Tensor) -> torch.Tensor:
        """(rows, positions, width) -> (rows, heads, positions, head width)"""
        return states.view(*states.shape[:2], self.heads, self.head_size).transpose(1, 2)

    def __call__(self, tokens: torch.Tensor, position: int) -> torch.Tensor:
        """The logits after each of ``tokens`` (rows, positions), which follow what the rows'
        cache holds from ``position`` on (a first call may read several positions at once)."""
        sdpa = torch.nn.functional.scaled_dot_product_attention
        embeddings = self.embeddings
        rows, length = tokens.shape
        inputs = self.keys[0].shape[0]
        hidden = embeddings.word_embeddings(tokens) + embeddings.token_type_embeddings.weight[0]
        where = embeddings.position_embeddings.weight[position : position + length]
        hidden = embeddings.LayerNorm(hidden + where)
        causal = None  # after a cache, new positions read it and the new ones up to their own
        if length > 1 and position:
            seen = position + torch.arange(length, device=tokens.device)[:, None]
            causal = torch.arange(position + length, device=tokens.device)[None, :] <= seen
        for number, layer in enumerate(self.layers):
            own = layer.attention.self
            key, value = self._split(own.key(hidden)), self._split(own.value(hidden))
            if self.past_keys[number] is not None:
                key = torch.cat([self.past_keys[number], key], dim=2)
                value = torch.cat([self.past_values[number], value], dim=2)
            self.past_keys[number], self.past_values[number] = key, value
            query = self._split(own.query(hidden))
            attended = sdpa(
                query,
                key,
                value,
                attn_mask=causal,
                is_causal=causal is None and length > 1,
                scale=self.scaling,
            )
            hidden = layer.attention.output(attended.transpose(1, 2).reshape(hidden.shape), hidden)
            cross = layer.crossattention  # each input's rows and positions as its queries
            query = cross.self.query(hidden).view(inputs, -1, self.heads, self.head_size)
            attended = sdpa(
                query.transpose(1, 2),
                self.keys[number],
                self.values[number],
                attn_mask=self.mask,
                scale=self.scaling,
            )
            hidden = cross.output(attended.transpose(1, 2).reshape(hidden.shape), hidden)
            hidden = layer.output(layer.intermediate(hidden), hidden)
        return self.head(hidden)


def beam_search(
    decoding: FastDecoding,
    num_beams: int,
    max_new_tokens: int,
    constraint,
    eos: int,
    target: list[int] | None = None,
) -> tuple[BeamOutput, list[float] | None]:
    """Canonical beam search (``generate`` with ``early_stopping="never"``, no length penalty,
    ``num_return_sequences=num_beams``), the same selection rules step by step, with less work:
    the first step is computed once per input (its beams are all the start token), an input
    whose search is over leaves the batch (``generate`` goes on computing it, which can no
    longer change its result), and nothing is kept that the answer does not read.

    ``constraint``: a ``_SpanConstraint``; only the tokens it allows are ranked (the rest would
    rank at -inf), and ``keep`` makes it follow the inputs still searching. ``target``: token
    ids whose teacher-forced log-probability is returned for each input too (as
    ``target_logprobs``), read in the same pass as the first step.
    """
    count, beams, keep = decoding.states.shape[0], num_beams, 2 * num_beams
    device = decoding.states.device
    step = _Step(decoding)
    start = torch.full((count, 1), decoding._start, dtype=torch.long, device=device)
    running = start[:, None, :].expand(count, beams, 1)  # (inputs, beams, length)
    running_scores = torch.zeros(count, beams, device=device)
    running_scores[:, 1:] = -1e9
    finished = torch.full((count, beams, max_new_tokens + 1), eos, dtype=torch.long, device=device)
    finished[:, :, 0] = decoding._start
    finished_scores = torch.full((count, beams), -1e9, device=device)
    is_finished = torch.zeros(count, beams, dtype=torch.bool, device=device)
    top = torch.zeros(keep, dtype=torch.bool, device=device)
    top[:beams] = True
    live = torch.arange(count, device=device)  # the inputs still searching
    done_sequences = finished.clone()
    done_scores = finished_scores.clone()
    target_scores = None
    if target is not None:
        labels = torch.tensor([target] * count, device=device)
    ahead: _ReadAhead | None = None
    for length in range(1, max_new_tokens + 1):
        if length == 1:  # one row per input: its beams all hold the start token
            first = start if target is None else torch.cat([start, labels[:, :-1]], 1)
            read = torch.log_softmax(step(first, 0).float(), -1)
            if target is not None:
                target_scores = read.gather(-1, labels[..., None]).squeeze(-1).sum(-1).tolist()
                step.trim(1)
            log_probs = read[:, 0].repeat_interleave(beams, 0)
            allowed = constraint.allowed(running.reshape(-1, length), step.vocabulary)
        else:
            if ahead is None:  # a decoder pass: this step, and the forced path ahead of each row
                step.trim(length - 1)
                sequences = running.reshape(-1, length)
                positions = AHEAD_ROWS // sequences.shape[0]
                most = max(min(MOST_AHEAD, max_new_tokens - length, positions - 1), 0)
                ahead = _ReadAhead.read(step, constraint, sequences, eos, most)
            log_probs, allowed = ahead.current()
        vocabulary = log_probs.shape[-1]
        top_scores, top_indices = _best_allowed(log_probs, running_scores, allowed)
        origin = top_indices // vocabulary
        tokens = top_indices % vocabulary
        candidates = torch.cat([running.gather(1, _along(origin, length)), tokens[..., None]], 2)
        hits = (tokens == eos) | (length + 1 > max_new_tokens)
        # the best unfinished candidates run on
        pushed = top_scores + hits.to(torch.float32) * -1.0e9
        chosen = torch.topk(pushed, beams)[1]
        running = candidates.gather(1, _along(chosen, length + 1))
        running_scores = pushed.gather(1, chosen)
        # finished candidates among the best ``beams`` join the finished ones if better
        just_finished = hits & top[None, :]
        entered = top_scores + (~just_finished) * -1.0e9
        padded = torch.nn.functional.pad(candidates, (0, max_new_tokens - length), value=eos)
        merged = torch.cat([finished, padded], 1)
        merged_scores = torch.cat([finished_scores, entered], 1)
        merged_finished = torch.cat([is_finished, just_finished], 1)
        best = torch.topk(merged_scores, beams)[1]
        finished = merged.gather(1, _along(best, max_new_tokens + 1))
        finished_scores = merged_scores.gather(1, best)
        is_finished = merged_finished.gather(1, best)
        # an input is done when no running beam can beat its worst finished one
        worst = torch.where(is_finished, finished_scores.min(1, keepdim=True)[0], -1.0e9)
        searching = (running_scores[:, :1] > worst).any(-1)
        if bool(hits.all()) or not bool(searching.any()):
            done_sequences[live], done_scores[live] = finished, finished_scores
            break
        inputs = torch.arange(len(live), device=device)[:, None]
        if length == 1:  # the first step had one row per input
            rows = inputs.expand(-1, beams)
        else:
            rows = origin.gather(1, chosen) + inputs * beams
        if not bool(searching.all()):
            over, kept = ~searching, searching.nonzero().squeeze(1)
            done_sequences[live[over]] = finished[over]
            done_scores[live[over]] = finished_scores[over]
            live, rows = live[kept], rows[kept]
            running, running_scores = running[kept], running_scores[kept]
            finished, finished_scores = finished[kept], finished_scores[kept]
            is_finished = is_finished[kept]
            constraint.keep(kept)
            step.keep_inputs(kept)
        step.reorder(rows.reshape(-1))
        if ahead is not None and not ahead.follow(rows.reshape(-1), running[:, :, -1].flatten()):
            ahead = None
    return BeamOutput(done_sequences.flatten(0, 1), done_scores.flatten()), target_scores


AHEAD_ROWS = 32
"""Beam rows x positions that one decoder pass reads at most when it reads ahead. A pass over up
to 16 rows costs about what one row's does (reading the weights dominates: the output layer's
are 47 MB); 48 rows cost about 1.6x 16 rows' on a 2-core AMD EPYC."""
MOST_AHEAD = 8


class _ReadAhead:
    """One decoder pass read ahead along each beam row's forced path, and the steps it serves.

    Where the constraint leaves a row one token to write (the next token of the only span its
    answer can be in, or the end), the pass reads that token's position too, and so on along the
    path; the steps that follow it need no pass of their own while every row stays on its path.
    The numbers are those a pass per step computes: the same positions, tokens and cache.

    One kind of row leaves its path without a new pass: a row that has just ended (the end
    written where its path went on; such a row runs on only as filler, at -1e9 or less, when too
    few beams do). It may only end again, and its score, -1e9 or less in float32 (where floats
    are 64 apart), stays the same number whatever end log-probability above -32 it adds (the
    lowest seen over 511 such steps of seed and news questions: -19.5), so it reads its
    origin's numbers instead of its own."""

    def __init__(self, log_probs: torch.Tensor, allowed: list, forced: torch.Tensor, eos: int):
        self.log_probs = log_probs  # (rows, 1 + forced steps, vocabulary)
        self.allowed = allowed  # each step's allowed (row, token) pairs, in the pass's rows
        self.forced = forced  # (rows, forced steps): the token each row must write, else -1
        self.eos = eos
        self.pointer = torch.arange(log_probs.shape[0], device=log_probs.device)
        self.ended = torch.zeros_like(self.pointer, dtype=torch.bool)
        self.offset = 0

    @classmethod
    def read(cls, step: _Step, constraint, sequences: torch.Tensor, eos: int, most: int):
        """Read the next step of ``sequences`` (rows, length) and up to ``most`` forced steps."""
        rows, length = sequences.shape
        allowed = [constraint.allowed(sequences, step.vocabulary)]
        forced: list[torch.Tensor] = []
        written = sequences
        while len(forced) < most:
            row, token = allowed[-1]
            going_on = token != eos
            count = torch.bincount(row[going_on], minlength=rows)
            only = torch.full((rows,), -1, dtype=torch.long, device=sequences.device)
            only[row[going_on]] = token[going_on]
            only = torch.where(count == 1, only, torch.where(count == 0, eos, -1))
            if forced:
                only = torch.where(forced[-1] < 0, -1, only)
            if not bool((only >= 0).any()):
                break
            forced.append(only)
            written = torch.cat([written, only.clamp(min=0)[:, None]], 1)
            allowed.append(constraint.allowed(written, step.vocabulary))
        path = torch.stack(forced, 1) if forced else sequences.new_zeros((rows, 0))
        tokens = torch.cat([sequences[:, -1:], path.clamp(min=0)], 1)
        log_probs = torch.log_softmax(step(tokens, length - 1).float(), -1)
        return cls(log_probs, allowed, path, eos)

    def current(self) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """This step's log-probabilities and allowed (row, token) pairs, in the current rows."""
        log_probs = self.log_probs[self.pointer, self.offset]
        row, token = self.allowed[self.offset]
        if self.offset == 0:
            return log_probs, (row, token)
        on_path = (~self.ended).nonzero().squeeze(1)
        current = torch.full((self.log_probs.shape[0],), -1, dtype=torch.long, device=row.device)
        current[self.pointer[on_path]] = on_path
        row = current[row]
        kept = row >= 0
        ended = self.ended.nonzero().squeeze(1)
        row = torch.cat([row[kept], ended])
        token = torch.cat([token[kept], torch.full_like(ended, self.eos)])
        width = self.log_probs.shape[-1] + 1
        keys = torch.sort(row * width + token).values
        return log_probs, (keys // width, keys % width)

    def follow(self, rows: torch.Tensor, tokens: torch.Tensor) -> bool:
        """Go on to the next step: the current rows came from these ``rows`` and wrote these
        ``tokens``. False where a row left its path (a new pass is needed)."""
        if self.offset >= self.forced.shape[1]:
            return False
        pointer = self.pointer[rows]
        on_path = ~self.ended[rows] & (self.forced[pointer, self.offset] == tokens)
        if not bool((on_path | (tokens == self.eos)).all()):
            return False
        self.pointer, self.ended, self.offset = pointer, ~on_path, self.offset + 1
        return True


def _best_allowed(log_probs, running_scores, allowed) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2 x beams best (score, beam x vocabulary + token) of each input among the allowed
    (row, token) pairs, as ``topk`` over the masked scores ranks them; -inf fills the rest."""
    count, beams = running_scores.shape
    vocabulary = log_probs.shape[1]
    row, token = allowed
    scores = log_probs[row, token] + running_scores.flatten()[row]
    owner = row // beams
    sizes = torch.bincount(owner, minlength=count)
    width = max(int(sizes.max()), 2 * beams)
    position = torch.arange(len(row), device=row.device) - (sizes.cumsum(0) - sizes)[owner]
    ranked = torch.full((count, width), -math.inf, device=log_probs.device)
    ranked[owner, position] = scores
    flat = torch.zeros((count, width), dtype=torch.long, device=row.device)
    flat[owner, position] = (row % beams) * vocabulary + token
    top_scores, top = torch.topk(ranked, 2 * beams)
    return top_scores, flat.gather(1, top)


def _along(indices: torch.Tensor, length: int) -> torch.Tensor:
    """``indices`` (inputs, k) as gather indices over (inputs, beams, length) sequences."""
    return indices[..., None].expand(*indices.shape, length)
