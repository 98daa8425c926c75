"""Faster decoding for our own encoder-decoders (a BERT decoder with cross-attention, as in
newsqa-mini and newsqa-base): the same beams and scores as ``EncoderDecoderModel.generate``.

For an encoder-decoder searching with beams, ``generate`` repeats work that does not change from
one step, or one beam, to the next: it projects the encoder states to the decoder's width at
every step (newsqa-base: 768 -> 384, over every beam's copy), computes the cross-attention keys
and values once per beam rather than once per input, and copies that cross-attention cache into
beam order at every step although the beams of one input share it. Here the projection and the
cross-attention keys and values are computed once per input and copied to the beams once, and
only the self-attention cache follows the beams. The search itself is still ``transformers``'
(the decoder's own ``generate``), so scores and tie-breaks are the reference's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import DynamicCache, EncoderDecoderCache


class PackedLinear(torch.nn.Module):
    """A linear layer run by oneDNN with its weight packed once. For the output layer's few rows
    per step (beams x passages) over the whole vocabulary it runs 1.5-1.8x faster on CPU than
    the default BLAS (benchmarks/bench_decoding.py), within float rounding of it."""

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = linear.weight.detach().to_mkldnn()
        self.bias = None if linear.bias is None else linear.bias.detach().to_mkldnn()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        flat = inputs.reshape(-1, self.in_features).contiguous().to_mkldnn()
        output = torch.nn.functional.linear(flat, self.weight, self.bias).to_dense()
        return output.reshape(*inputs.shape[:-1], self.out_features)

    @staticmethod
    def applies(model, device: str, precision: str) -> bool:
        """Whether ``pack_output_layer`` speeds up ``model`` here: fp32 on a CPU with oneDNN."""
        head = getattr(getattr(getattr(model, "decoder", None), "cls", None), "predictions", None)
        return (
            device == "cpu"
            and precision == "fp32"
            and torch.backends.mkldnn.is_available()
            and type(getattr(head, "decoder", None)) is torch.nn.Linear
        )


def pack_output_layer(model) -> None:
    """Run the decoder's output layer (to the vocabulary) through ``PackedLinear``."""
    head = model.decoder.cls.predictions
    head.decoder = PackedLinear(head.decoder)


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
        logits = self.model.decoder(
            input_ids=torch.cat([start, label_ids[:, :-1]], dim=1),
            encoder_hidden_states=self.states,
            encoder_attention_mask=self.attention_mask,
            cache=self._cache(1),
            use_cache=True,
        ).logits.float()
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, label_ids.unsqueeze(-1))
        return [float(v) for v in logprobs.squeeze(-1).sum(-1).tolist()]
