"""Train the answer verifier (``newsqa/verifier.py``): LoRA on all-MiniLM-L6-v2, resumable.

    python -m models.train_verifier --minutes 40
    python -m models.train_verifier --init models/newsqa-mini/verifier --shuffle 1 --lr 2.5e-4 \
        --checkpoints models/checkpoints/verifier-pass2 --out models/runs/verifier-pass2

Each example is (question, answer, the sentence that holds it) -> does the sentence answer the
question with that answer. Made from the training data only, never from what the calibrator is
fitted on (SQuAD's validation and held-out articles, held-out tweets) or ``*-dev-public*``:

- answerable: a SQuAD or TweetQA question, its reference answer and the sentence holding it;
- another answer: the same sentence with another span of the kind the question asks for (a
  number for "how many", a name for "who"), as a reader quotes the officers for the soldiers;
- another sentence: the sentence of the paragraph sharing most words with the question that
  lacks the answer, with such a span (on topic, not answering);
- changed question: a name or number of the question swapped for one the sentence lacks, a word
  swapped for its antonym, or a "not" added (``models/data.py``'s rules);
- written unanswerable: SQuAD 2.0's human-written unanswerables with the sentence sharing most
  words with them and such a span;
- tweets: the tweet nearest another tweet's question (same people or events), and a random one.

Checkpoints every few minutes to ``models/checkpoints/verifier``; at the end writes the adapters
and head to ``models/newsqa-mini/verifier`` and prints the held-out AUC per kind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from models import data
from newsqa.calibration import _load, held_out, nearest_tweets, squad_validation_titles
from newsqa.confidence import _EXPECTS_NUMBER, _EXPECTS_TIME, content_words
from newsqa.faithful import nlp
from newsqa.generate import native_cpu_bf16
from newsqa.verifier import encode

ROOT = Path(__file__).resolve().parent
CHECKPOINTS = ROOT / "checkpoints" / "verifier"
EXPORT = ROOT / "newsqa-mini" / "verifier"
LORA = {"r": 16, "lora_alpha": 32, "target_modules": ["query", "key", "value", "dense"]}


@dataclass(frozen=True)
class Item:
    question: str
    answer: str
    sentence: str
    label: int
    kind: str


def _is_validation(key: str) -> bool:
    """One training article or tweet in 25 is kept out to score the verifier itself."""
    return int(hashlib.sha1(f"verifier:{key}".encode()).hexdigest()[:8], 16) % 25 == 0


_WHO = re.compile(r"\bwho(?:m|se)?\b", re.I)
_WHERE = re.compile(r"\bwhere\b", re.I)
_KINDS = [
    (_EXPECTS_NUMBER, {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    (_EXPECTS_TIME, {"DATE", "TIME"}),
    (_WHO, {"PERSON", "ORG", "NORP"}),
    (_WHERE, {"GPE", "LOC", "FAC"}),
]


@lru_cache(maxsize=200_000)
def _phrases(sentence: str) -> tuple[tuple[str, str], ...]:
    """The sentence's named entities (with their labels) and noun chunks ("" label)."""
    doc = nlp(sentence)
    return tuple((e.text, e.label_) for e in doc.ents) + tuple(
        (c.text, "") for c in doc.noun_chunks if not c.root.is_stop
    )


def decoy(question: str, sentence: str, avoid: str, rng: random.Random) -> str | None:
    """A phrase of ``sentence`` a reader might quote for ``question`` (a number for how many,
    a date for when, a person for who, a place for where, else a noun phrase or entity) that is
    not ``avoid`` and not the question's own words."""
    avoid_lower = avoid.lower().strip()
    question_words = content_words(question)
    phrases = [
        (text, label)
        for text, label in _phrases(sentence)
        if not (avoid_lower and (text.lower() in avoid_lower or avoid_lower in text.lower()))
        and not (content_words(text) and content_words(text) <= question_words)
    ]
    wanted = next((labels for pattern, labels in _KINDS if pattern.search(question)), None)
    typed = [text for text, label in phrases if wanted and label in wanted]
    pool = typed or [text for text, _ in phrases]
    return rng.choice(pool) if pool else None


def _sentence_of(sentences, start: int, text: str):
    for sentence in sentences:
        if sentence.start <= start < sentence.end:
            return sentence.text if text in sentence.text else None
    return None


def _best_other(sentences, question: str, golds: list[str], skip: str) -> str | None:
    words = content_words(question)
    scored = [
        (len(words & content_words(s.text)), s.text)
        for s in sentences
        if s.text != skip and not any(g.lower() in s.text.lower() for g in golds)
    ]
    scored = [pair for pair in scored if pair[0] > 0]
    return max(scored)[1] if scored else None


def _trainable(articles: list[dict], avoid: set[str]):
    """(article, whether it scores the verifier) for each SQuAD-format article the calibrator
    does not hold out (``avoid``: SQuAD's validation titles; ``held_out``)."""
    for article in articles:
        title = article["title"]
        if title not in avoid and not held_out(title):
            yield article, _is_validation(title)


def squad_items(path: Path, rng: random.Random, rate: float, avoid: set[str]):
    articles = _load(path)["data"]
    pool = data._names_and_numbers(articles)
    train: list[Item] = []
    validation: list[Item] = []
    for article, scores in _trainable(articles, avoid):
        out = validation if scores else train
        for paragraph in article["paragraphs"]:
            sentences = data._split(paragraph["context"])
            for qa in paragraph["qas"]:
                if rng.random() > rate:
                    continue
                question, gold = qa["question"], qa["answers"][0]
                golds = [a["text"] for a in qa["answers"]]
                sentence = _sentence_of(sentences, gold["answer_start"], gold["text"])
                if sentence is None:
                    continue
                out.append(Item(question, gold["text"], sentence, 1, "answerable"))
                if rng.random() < 0.4:
                    other = decoy(question, sentence, gold["text"], rng)
                    if other:
                        out.append(Item(question, other, sentence, 0, "another answer"))
                if rng.random() < 0.4:
                    near = _best_other(sentences, question, golds, sentence)
                    other = near and decoy(question, near, gold["text"], rng)
                    if other:
                        out.append(Item(question, other, near, 0, "another sentence"))
                changed = []
                if rng.random() < 0.25:
                    changed.append(data._swapped_question(question, sentence, pool, rng))
                if rng.random() < 0.2:
                    changed.append(data._antonym_question(question, sentence))
                if rng.random() < 0.08:
                    changed.append(data._negated_question(question))
                out += [
                    Item(q, gold["text"], sentence, 0, "changed question") for q in changed if q
                ]
    return train, validation


def unanswerable_items(path: Path, rng: random.Random, rate: float, avoid: set[str]):
    train: list[Item] = []
    validation: list[Item] = []
    for article, scores in _trainable(_load(path)["data"], avoid):
        out = validation if scores else train
        for paragraph in article["paragraphs"]:
            sentences = data._split(paragraph["context"])
            for qa in paragraph["qas"]:
                if rng.random() > rate or not sentences:
                    continue
                paired = qa.get("pair_answer_text") or ""
                near = next((s.text for s in sentences if paired and paired in s.text), None)
                if near is None:  # the answer the question was written from, else a phrase
                    near = _best_other(sentences, qa["question"], [], "")
                    paired = near and decoy(qa["question"], near, "", rng)
                if paired:
                    out.append(Item(qa["question"], paired, near, 0, "written unanswerable"))
    return train, validation


def tweet_items(path: Path, rng: random.Random):
    paragraphs = _load(path)["data"][0]["paragraphs"]
    kept = [p for p in paragraphs if not held_out(p["context"])]
    nearest = nearest_tweets([p["context"] for p in kept])
    train: list[Item] = []
    validation: list[Item] = []
    for number, paragraph in enumerate(kept):
        context = paragraph["context"]
        out = validation if _is_validation(context) else train
        for qa in paragraph["qas"]:
            answers = [a["text"] for a in qa["answers"] if a["text"].strip()]
            if answers and answers[0] in context:
                out.append(Item(qa["question"], answers[0], context, 1, "tweet answerable"))
            if nearest[number] and rng.random() < 0.4:
                other = kept[rng.choice(nearest[number])]["context"]
                if not any(a.lower() in other.lower() for a in answers):
                    span = decoy(qa["question"], other, "", rng)
                    if span:
                        out.append(Item(qa["question"], span, other, 0, "tweet on topic"))
            if rng.random() < 0.1:
                other = rng.choice(kept)["context"]
                span = other != context and decoy(qa["question"], other, "", rng)
                if span:
                    out.append(Item(qa["question"], span, other, 0, "tweet off topic"))
    return train, validation


def build(seed: int = 0, squad_rate: float = 0.3, unanswerable_rate: float = 0.8):
    """(train, validation) items, shuffled by ``seed``."""
    rng = random.Random(seed)
    shared = data.SHARED_DATA
    avoid = squad_validation_titles(shared)
    parts = [
        squad_items(shared / "squad1-train.json.gz", rng, squad_rate, avoid),
        unanswerable_items(
            shared / "squad2-train-unanswerable.json.gz", rng, unanswerable_rate, avoid
        ),
        tweet_items(shared / "tweetqa-train.json.gz", rng),
    ]
    train = [item for part in parts for item in part[0]]
    validation = [item for part in parts for item in part[1]]
    rng.shuffle(train)
    return train, validation


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModel

        from newsqa.embed import bundled_embedder_path

        base = AutoModel.from_pretrained(bundled_embedder_path(), add_pooling_layer=False)
        self.encoder = get_peft_model(base, LoraConfig(lora_dropout=0.05, **LORA))
        self.head = torch.nn.Linear(base.config.hidden_size, 1)

    def forward(self, batch) -> torch.Tensor:
        return self.head(self.encoder(**batch).last_hidden_state[:, 0])[:, 0]


def _batch(tokenizer, items: list[Item]):
    return encode(tokenizer, [(i.question, i.answer, i.sentence) for i in items])


def predict(model: Model, tokenizer, items: list[Item], size: int = 64) -> list[float]:
    model.eval()
    logits: list[float] = []
    with torch.inference_mode():
        for start in range(0, len(items), size):
            logits += model(_batch(tokenizer, items[start : start + size])).tolist()
    model.train()
    return logits


def auc_by_kind(items: list[Item], logits: list[float]) -> dict[str, float]:
    """AUC of each negative kind against all positives, and of everything."""
    from sklearn.metrics import roc_auc_score

    positives = [(x, 1) for item, x in zip(items, logits) if item.label]
    result = {"all": roc_auc_score([i.label for i in items], logits)}
    for kind in sorted({i.kind for i in items if not i.label}):
        negatives = [(x, 0) for item, x in zip(items, logits) if item.kind == kind]
        scores, labels = zip(*(positives + negatives))
        result[kind] = roc_auc_score(labels, scores)
    return {k: round(v, 4) for k, v in result.items()}


def export(model: Model, folder: Path) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(folder)
    save_file(
        {k: v.contiguous() for k, v in model.head.state_dict().items()}, folder / "head.safetensors"
    )
    (folder / "README.md").unlink(missing_ok=True)  # peft's blank model card


def start_from(model: Model, folder: Path) -> None:
    """Load an exported verifier's adapters and head into ``model`` (for another pass)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model.encoder, load_file(folder / "adapter_model.safetensors"))
    model.head.load_state_dict(load_file(folder / "head.safetensors"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=40)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--items", type=int, default=None, help="train on the first N items")
    parser.add_argument("--validation", type=int, default=3000, help="items scored at the end")
    parser.add_argument("--init", type=Path, help="start from this exported verifier (a new pass)")
    parser.add_argument("--shuffle", type=int, default=None, help="reorder the training items")
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINTS)
    parser.add_argument("--out", type=Path, default=EXPORT, help="where the verifier is written")
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from newsqa.embed import bundled_embedder_path

    torch.manual_seed(0)
    train, validation = build()
    train = train[: args.items]
    if args.shuffle is not None:
        random.Random(args.shuffle).shuffle(train)
    validation = random.Random(1).sample(validation, min(args.validation, len(validation)))
    kinds: dict[str, int] = {}
    for item in train:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    print(f"{len(train)} training items: {kinds}", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(bundled_embedder_path())
    model = Model()
    if args.init:
        start_from(model, args.init)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.01)
    steps = len(train) // args.batch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 100) * max(0.0, 1 - s / steps)
    )
    state_file = args.checkpoints / "state.pt"
    step = 0
    if state_file.exists():
        state = torch.load(state_file, weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step = state["step"]
        print(f"resumed at step {step}", flush=True)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=native_cpu_bf16())
    started = last_save = time.monotonic()
    model.train()
    running = 0.0
    while step < steps and time.monotonic() - started < args.minutes * 60:
        items = train[step * args.batch : (step + 1) * args.batch]
        labels = torch.tensor([float(i.label) for i in items])
        with autocast:
            loss = loss_fn(model(_batch(tokenizer, items)).float(), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        step += 1
        running = 0.98 * running + 0.02 * loss.item()
        if step % 50 == 0:
            rate = step / max(time.monotonic() - started, 1e-9)
            print(f"step {step}/{steps} loss {running:.3f} ({rate:.2f} steps/s)", flush=True)
        if time.monotonic() - last_save > 300 or step == steps:
            trainable = {k: v for k, v in model.state_dict().items() if "lora" in k or "head" in k}
            args.checkpoints.mkdir(parents=True, exist_ok=True)
            partial = state_file.with_suffix(".partial")
            torch.save(
                {
                    "model": trainable,
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "step": step,
                },
                partial,
            )
            partial.replace(state_file)
            last_save = time.monotonic()
    scores = auc_by_kind(validation, predict(model, tokenizer, validation))
    print(f"held-out AUC at step {step}: {json.dumps(scores)}", flush=True)
    export(model, args.out)
    result = {"step": step, "steps": steps, "training": kinds, "auc": scores}
    if args.init:
        result |= {"init": str(args.init), "shuffle": args.shuffle, "lr": args.lr}
    (args.checkpoints / "result.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
