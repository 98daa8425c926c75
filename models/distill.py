"""Distil newsqa-base into newsqa-mini: the teacher's next-token distributions as soft targets.

    python -m models.distill label --minutes 35    # newsqa-base reads QA examples (resumable)
    python -m models.distill label --news          # ... and news questions it never trained on
    python -m models.distill train --minutes 35 --output models/runs/newsqa-mini-distilled

``label`` runs newsqa-base (the installed encoder plus the shipped delta) teacher-forced over
the gold answers of QA training examples (SQuAD, its human-written and generated unanswerables,
TweetQA and its negatives; one data seed, shuffled) and keeps, at every answer position, the
teacher's ``TOP_K`` most likely tokens and their log-probabilities in newsqa-mini's vocabulary.
Shards are written atomically under ``models/runs/teacher/``; a stopped run goes on after the
last shard. ``label --news`` labels the news questions of ``data.news_examples`` instead (made
from the summary data's BBC and Inshorts articles; neither model trained on them) into
``models/runs/teacher/news/``. ``train`` continues the shipped newsqa-mini on those examples with
``(1 - alpha) * cross-entropy(gold) + alpha * cross-entropy(teacher top-k)`` (summary and
headline examples, a tenth of the mix as in ``models.train``, on gold targets alone; with
``--gold-qa N``, N more QA examples on gold targets alone), validates on
``models.train``'s held-out set and exports the best weights only when they score better than
the shipped ones (or ``--export-always``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from models import data, train
from newsqa.base_model import BERT_OFFSET, SPECIAL_ROWS, load_newsqa_base

TEACHER_DIR = train.RUNS / "teacher"
NEWS_TEACHER_DIR = TEACHER_DIR / "news"
NEWS_COPIES = 2
"""Windows of each kind per news question: about 800 training questions, labelled twice."""
TOP_K = 16
SHARD_EXAMPLES = 256
LABEL_SEED = 50
"""The data seed of the labelled examples: new windows and negatives, not an earlier run's."""
QA_SOURCES = (
    "squad",
    "squad-human",
    "squad-noans",
    "squad-swap",
    "squad-reword",
    "tweetqa",
    "tweetqa-ontopic",
    "tweetqa-offtopic",
)
STUDENT_VOCAB = 30522
STUDENT_EOS = 102
TEACHER_SPECIALS = {bert: mpnet for mpnet, bert in SPECIAL_ROWS.items()}
"""newsqa-mini's special tokens' ids in newsqa-base's vocabulary."""


def teacher_ids(student_labels: list[int]) -> list[int]:
    """newsqa-mini's (BERT) token ids as newsqa-base's (MPNet-indexed) ids."""
    return [TEACHER_SPECIALS.get(t, t + BERT_OFFSET) for t in student_labels]


def student_logits(logits: torch.Tensor) -> torch.Tensor:
    """The teacher's logits over newsqa-mini's vocabulary: BERT row ``i`` is MPNet row ``i + 4``;
    the end of the answer is MPNet's separator."""
    mapped = logits[..., BERT_OFFSET : BERT_OFFSET + STUDENT_VOCAB].clone()
    mapped[..., STUDENT_EOS] = logits[..., TEACHER_SPECIALS[STUDENT_EOS]]
    return mapped


def qa_examples(seed: int) -> list[data.Example]:
    examples, _ = data.build(seed=seed)
    chosen = [e for e in examples if e.source in QA_SOURCES]
    random.Random(seed).shuffle(chosen)
    return chosen


def news_examples(seed: int) -> list[data.Example]:
    """The training part of ``data.news_examples``: questions on news articles, asked of their
    sentence's window, of the window without it and of a neighbouring article."""
    rng = random.Random(seed)
    chosen, _ = data.news_examples(data.SHARED_DATA / "summ-train.jsonl.gz", rng, NEWS_COPIES)
    rng.shuffle(chosen)
    return chosen


@torch.inference_mode()
def label_batch(teacher, teacher_tokenizer, examples, student_rows) -> list[dict]:
    """Top-k teacher log-probs at each gold answer position for one batch."""
    inputs = teacher_tokenizer(
        [e.input for e in examples],
        truncation=True,
        max_length=train.MAX_INPUT_TOKENS,
        padding=True,
        return_tensors="pt",
    )
    start = teacher.config.decoder_start_token_id
    pad = teacher.config.pad_token_id
    depth = max(len(labels) for _, labels in student_rows)
    decoder_ids = torch.full((len(examples), depth), pad, dtype=torch.long)
    for n, (_, labels) in enumerate(student_rows):
        decoder_ids[n, : len(labels)] = torch.tensor([start, *teacher_ids(labels)[:-1]])
    logits = teacher(
        input_ids=inputs["input_ids"],
        attention_mask=inputs["attention_mask"],
        decoder_input_ids=decoder_ids,
        decoder_attention_mask=(decoder_ids != pad).long(),
    ).logits
    logprobs = torch.log_softmax(student_logits(logits.float()), dim=-1)
    top = logprobs.topk(TOP_K, dim=-1)
    rows = []
    for n, (ids, labels) in enumerate(student_rows):
        length = len(labels)
        rows.append(
            {
                "input": ids,
                "labels": labels,
                "top_ids": top.indices[n, :length].to(torch.int32),
                "top_logprobs": top.values[n, :length].to(torch.float16),
                "source": examples[n].source,
            }
        )
    return rows


def label(args) -> None:
    """Label examples shard by shard until the time budget is spent."""
    torch.set_num_threads(os.cpu_count() or 1)
    deadline = time.time() + args.minutes * 60
    folder = NEWS_TEACHER_DIR if args.news else TEACHER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    examples = news_examples(args.seed) if args.news else qa_examples(args.seed)
    student_tokenizer = AutoTokenizer.from_pretrained(train.minilm_path())
    teacher_tokenizer, teacher = load_newsqa_base()
    done = len(list(folder.glob("shard-*.pt")))
    kind = "news" if args.news else "QA"
    print(f"{len(examples)} {kind} examples; {done} shards labelled already", flush=True)
    started = time.time()
    while time.time() < deadline:
        part = examples[done * SHARD_EXAMPLES : (done + 1) * SHARD_EXAMPLES]
        if not part:
            break
        student_rows = train.tokenize(student_tokenizer, part)
        order = sorted(range(len(part)), key=lambda i: len(student_rows[i][0]))
        rows = []
        for at in range(0, len(order), args.batch_size):
            chosen = order[at : at + args.batch_size]
            rows += label_batch(
                teacher,
                teacher_tokenizer,
                [part[i] for i in chosen],
                [student_rows[i] for i in chosen],
            )
        path = folder / f"shard-{done:05d}.pt"
        torch.save({"seed": args.seed, "rows": rows}, path.with_suffix(".tmp"))
        os.replace(path.with_suffix(".tmp"), path)
        done += 1
        rate = (done * SHARD_EXAMPLES) / max(time.time() - started, 1e-9)
        print(json.dumps({"shards": done, "examples_per_s": round(rate, 2)}), flush=True)


def load_labelled() -> list[dict]:
    """Every labelled example: the QA shards, then the news shards."""
    rows = []
    for folder in (TEACHER_DIR, NEWS_TEACHER_DIR):
        for path in sorted(folder.glob("shard-*.pt")):
            rows += torch.load(path)["rows"]
    return rows


def agreement(rows: list[dict]) -> dict[str, dict]:
    """Per source: how often the teacher's likeliest first token is the gold one, and the mean
    probability it gives that likeliest token (near 1: the soft targets say little beyond gold)."""
    found: dict[str, list[tuple[bool, float]]] = {}
    for row in rows:
        if "top_ids" not in row:
            continue
        top = (int(row["top_ids"][0, 0]) == row["labels"][0], math.exp(row["top_logprobs"][0, 0]))
        found.setdefault(row["source"], []).append(top)
    return {
        source: {
            "examples": len(pairs),
            "top1_is_gold": round(sum(a for a, _ in pairs) / len(pairs), 3),
            "top1_probability": round(sum(p for _, p in pairs) / len(pairs), 3),
        }
        for source, pairs in sorted(found.items())
    }


def collate(rows: list[dict], device) -> dict[str, torch.Tensor]:
    batch = train.collate([(r["input"], r["labels"]) for r in rows], device)
    depth = batch["labels"].shape[1]
    top_ids = torch.zeros(len(rows), depth, TOP_K, dtype=torch.long)
    top_logprobs = torch.full((len(rows), depth, TOP_K), -math.inf)
    for n, row in enumerate(rows):
        if "top_ids" not in row:  # a summary example: gold targets alone
            continue
        length = len(row["labels"])
        top_ids[n, :length] = row["top_ids"].long()
        top_logprobs[n, :length] = row["top_logprobs"].float()
    batch["top_ids"] = top_ids.to(device)
    batch["top_logprobs"] = top_logprobs.to(device)
    return batch


def distillation_loss(model, batch: dict, alpha: float) -> torch.Tensor:
    """Gold cross-entropy mixed with cross-entropy against the teacher's renormalised top-k."""
    out = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        labels=batch["labels"],
    )
    logprobs = torch.log_softmax(out.logits.float(), dim=-1)
    taught = batch["top_logprobs"][..., 0] > -math.inf
    if not taught.any():
        return out.loss
    teacher = torch.softmax(batch["top_logprobs"][taught], dim=-1)
    soft = -(teacher * logprobs[taught].gather(-1, batch["top_ids"][taught])).sum(-1).mean()
    return (1 - alpha) * out.loss + alpha * soft


def fit(args) -> None:
    """Continue the shipped newsqa-mini on the labelled examples."""
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(os.cpu_count() or 1)
    device = torch.device("cpu")
    tokenizer = AutoTokenizer.from_pretrained(train.minilm_path())
    model = AutoModelForSeq2SeqLM.from_pretrained(train.SHIPPED, dtype=torch.float32)
    train.configure_tokens(model)
    train.freeze_word_embeddings(model)
    model.train()
    rows = load_labelled()
    taught = agreement(rows)
    print(json.dumps({"teacher_agreement": taught}), flush=True)
    built = data.build(seed=LABEL_SEED)[0]
    gold_qa = [e for e in built if e.source in QA_SOURCES][: args.gold_qa]
    rows += [{"input": i, "labels": t} for i, t in train.tokenize(tokenizer, gold_qa)]
    summaries = [e for e in built if e.source not in QA_SOURCES]
    kept = summaries[: int(len(rows) * args.summary_share / (1 - args.summary_share))]
    rows += [{"input": i, "labels": t} for i, t in train.tokenize(tokenizer, kept)]
    _, validation = data.build(seed=0)
    validation = random.Random(1).sample(validation, min(args.validation_size, len(validation)))
    print(
        f"{len(rows)} examples ({len(gold_qa)} QA and {len(kept)} summaries on gold alone), "
        f"{len(validation)} held out",
        flush=True,
    )

    def autocast():
        return torch.autocast("cpu", enabled=False)

    baseline = train.validate(model, tokenizer, validation, device, autocast)
    print(json.dumps({"baseline": baseline}), flush=True)
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in model.encoder.parameters() if p.requires_grad]},
            {"params": [p for p in model.decoder.parameters() if p.requires_grad]},
        ],
        weight_decay=0.01,
    )
    base_lrs = [args.lr_encoder, args.lr_decoder]
    lengths = [len(r["input"]) + 4 * len(r["labels"]) for r in rows]
    budget = args.minutes * 60
    started = time.time()
    deadline = started + budget
    best = {"score": baseline["score"]}
    step, epoch, seen = 0, 0, 0
    last_validation = time.time()
    history = []
    while time.time() < deadline:
        for indices in train.batches(lengths, args.batch_size, seed=args.seed + epoch):
            if time.time() >= deadline:
                break
            remaining = deadline - time.time()
            scale = min(1.0, (step + 1) / args.warmup_steps, max(remaining / (0.3 * budget), 0.05))
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * scale
            loss = distillation_loss(model, collate([rows[i] for i in indices], device), args.alpha)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seen += len(indices)
            if step % 50 == 0:
                print(
                    json.dumps(
                        {
                            "step": step,
                            "examples": seen,
                            "loss": round(loss.item(), 4),
                            "elapsed_min": round((time.time() - started) / 60, 1),
                        }
                    ),
                    flush=True,
                )
            if time.time() - last_validation > args.validate_minutes * 60:
                scores = train.validate(model, tokenizer, validation, device, autocast)
                history.append({"examples": seen, **scores})
                print(json.dumps({"validation": history[-1]}), flush=True)
                train.keep_if_best(model, scores, seen, best)
                last_validation = time.time()
        epoch += 1
    scores = train.validate(model, tokenizer, validation, device, autocast)
    history.append({"examples": seen, **scores})
    print(json.dumps({"final": scores}), flush=True)
    if not train.keep_if_best(model, scores, seen, best) and "weights" in best:
        model.load_state_dict(best["weights"])
    if "weights" not in best and not args.export_always:
        print(json.dumps({"not_exported": "no validation beat the shipped weights"}), flush=True)
        return
    shipped = json.loads((train.SHIPPED / "training.json").read_text())
    record = {
        **shipped,
        "distilled": {
            "teacher": "newsqa-base",
            "examples": len(rows),
            "gold_qa": len(gold_qa),
            "teacher_agreement": taught,
            "examples_seen": seen,
            "alpha": args.alpha,
            "minutes": args.minutes,
            "baseline": baseline,
            "best": best.get("scores", scores),
            "curve": history,
        },
    }
    train.save_atomically(
        model, tokenizer, Path(args.output), half=True, extra={"training.json": record}
    )
    print(json.dumps({"exported": args.output, "scores": best.get("scores", scores)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    labelling = commands.add_parser("label", help="newsqa-base's soft targets for QA examples")
    labelling.add_argument("--minutes", type=float, default=30)
    labelling.add_argument("--batch-size", type=int, default=32)
    labelling.add_argument("--seed", type=int, default=LABEL_SEED)
    labelling.add_argument(
        "--news", action="store_true", help="label the news questions (models/runs/teacher/news)"
    )
    fitting = commands.add_parser("train", help="newsqa-mini on gold and teacher targets")
    fitting.add_argument("--minutes", type=float, default=30)
    fitting.add_argument("--batch-size", type=int, default=32)
    fitting.add_argument("--alpha", type=float, default=0.5, help="weight of the teacher's loss")
    fitting.add_argument(
        "--summary-share",
        type=float,
        default=0.1,
        help="share of summary and headline examples (gold targets only), as in models.train",
    )
    fitting.add_argument(
        "--gold-qa",
        type=int,
        default=0,
        help="QA examples on gold targets alone, beside the labelled ones",
    )
    fitting.add_argument("--lr-encoder", type=float, default=5e-5)
    fitting.add_argument("--lr-decoder", type=float, default=2e-4)
    fitting.add_argument("--warmup-steps", type=int, default=50)
    fitting.add_argument("--validate-minutes", type=float, default=10)
    fitting.add_argument("--validation-size", type=int, default=600)
    fitting.add_argument("--seed", type=int, default=0)
    fitting.add_argument("--output", default=str(train.RUNS / "newsqa-mini-distilled"))
    fitting.add_argument("--export-always", action="store_true")
    args = parser.parse_args()
    label(args) if args.command == "label" else fit(args)


if __name__ == "__main__":
    main()
