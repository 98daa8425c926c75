"""Fit the confidence calibrator on questions held out of training; write calibration.json.

The calibration questions are none of the ``*-dev-public*`` files and none of the training data
(``models/data.py`` holds them out): SQuAD train's validation articles (answerable and
human-written unanswerable questions, on their paragraph and on the whole article, and their
answerable questions put to another paragraph of the article that lacks the answer), the
human-written unanswerables of the held-out SQuAD articles, the held-out TweetQA tweets (and
their questions put to the held-out tweet that shares the most rare words with their own), and
off-topic questions (a question put to an unrelated Reuters article or tweet). Every retrieved
passage's candidate answer is collected once, through the library as it runs, with its features
and whether it is right (SQuAD F1 >= 0.5 against the golds).

A logistic regression (scikit-learn) is fitted with each question weighed so the kinds mix as a
news reader's questions do: 60 % answerable, 20 % off-topic, 20 % on-topic but not covered
(``MIX``).
Grouped 5-fold cross-validation (by article) gives out-of-fold probabilities: the reliability
table, the expected calibration error, the feature-group ablations and the two bars are measured
on those. The default bar maximises the mix's F1; the strict bar maximises it on a SQuAD-style
half-answerable, half-adversarial mix.

    python benchmarks/calibrate.py --precision bf16 --key default
    python benchmarks/calibrate.py --precision int8 --key int8 --reuse
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import ROOT, SHARED_DATA, add_precision_option, print_table, write_result  # noqa: E402
from qa_sets import collect, score_f1  # noqa: E402

from models import data  # noqa: E402
from newsqa import NewsQA  # noqa: E402
from newsqa.confidence import FEATURES, Evidence, features  # noqa: E402
from newsqa.generate import Seq2SeqGenerator, cpu_precision  # noqa: E402

MIX = {"answerable": 0.6, "off-topic": 0.2, "unanswerable": 0.1, "other-passage": 0.1}
"""A news reader's questions: mostly answerable, some off-topic, some on-topic but not covered:
half of those written to look answerable (SQuAD 2.0), half a question of one passage put to
another passage of the same article or to the tweet nearest its own (same people and events)."""
STRICT_MIX = {"answerable": 0.5, "unanswerable": 0.5}
RIGHT_F1 = 0.5
GROUPS = {
    "margin and log-probabilities": [
        "margin",
        "span_logprob",
        "no_answer_logprob",
        "logprob_per_token",
        "answer_tokens",
    ],
    "retrieval similarity and rank": ["similarity", "best_similarity", "rank"],
    "question words in evidence": [
        "question_in_sentence",
        "question_in_chunk",
        "question_in_article",
        "answer_in_question",
    ],
    "answer type vs question word": [f for f in FEATURES if "_expected_" in f],
    "beam and passage agreement": ["beam_agreement", "passage_agreement"],
}
CACHE = ROOT / "models" / "runs"


def calibration_questions(limit: int, seed: int = 0) -> list[dict]:
    """The held-out questions, each with its article text, golds, kind and group."""
    rng = random.Random(seed)
    validation_titles = data.squad_validation_titles()
    rows: list[dict] = []

    def add(kind: str, group: str, question: str, golds: list[str], article: str) -> None:
        rows.append(
            {
                "id": f"{len(rows)}",
                "kind": kind,
                "group": group,
                "question": question,
                "golds": golds,
                "article": article,
            }
        )

    with gzip.open(SHARED_DATA / "squad1-train.json.gz", "rt", encoding="utf-8") as handle:
        squad = [a for a in json.load(handle)["data"] if a["title"] in validation_titles]
    answerable = []
    for article in squad:
        whole = "\n\n".join(p["context"] for p in article["paragraphs"])
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                golds = [a["text"] for a in qa["answers"]]
                answerable.append((article["title"], qa["question"], golds, paragraph, whole))
    picked = rng.sample(answerable, min(limit, len(answerable)))
    for title, question, golds, paragraph, _ in picked:
        add("answerable", title, question, golds, paragraph["context"])
    for title, question, golds, _, whole in picked[: limit // 3]:
        add("answerable", title, question, golds, whole)

    others = random.Random(seed + 1)  # its own stream: the draws above stay as they were
    for title, question, golds, paragraph, _ in picked[: limit // 2]:
        paragraphs = [p["context"] for a in squad if a["title"] == title for p in a["paragraphs"]]
        lacking = [
            p
            for p in paragraphs
            if p != paragraph["context"] and not any(g.lower() in p.lower() for g in golds)
        ]
        if lacking:
            add("other-passage", title, question, [], others.choice(lacking))

    with gzip.open(
        SHARED_DATA / "squad2-train-unanswerable.json.gz", "rt", encoding="utf-8"
    ) as handle:
        human = json.load(handle)["data"]
    unanswerable = []
    for article in human:
        if article["title"] not in validation_titles and not data.held_out(article["title"]):
            continue
        whole = "\n\n".join(p["context"] for p in article["paragraphs"])
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                unanswerable.append((article["title"], qa["question"], paragraph["context"], whole))
    picked_no = rng.sample(unanswerable, min(limit, len(unanswerable)))
    for title, question, paragraph, _ in picked_no:
        add("unanswerable", title, question, [], paragraph)
    for title, question, _, whole in picked_no[: limit // 3]:
        if title in validation_titles:  # a whole article only where its answerables are unseen
            add("unanswerable", title, question, [], whole)

    with gzip.open(SHARED_DATA / "tweetqa-train.json.gz", "rt", encoding="utf-8") as handle:
        tweets = [
            p for p in json.load(handle)["data"][0]["paragraphs"] if data.held_out(p["context"])
        ]
    tweet_questions = [
        (p["context"], qa["question"], [a["text"] for a in qa["answers"]])
        for p in tweets
        for qa in p["qas"]
    ]
    for context, question, golds in rng.sample(tweet_questions, min(limit, len(tweet_questions))):
        add("answerable", f"tweet:{context[:40]}", question, golds, context)

    nearest = data._nearest_tweets([p["context"] for p in tweets])
    on_topic = [
        (number, qa["question"], [a["text"].lower() for a in qa["answers"]])
        for number, p in enumerate(tweets)
        for qa in p["qas"]
        if nearest[number]
    ]
    for number, question, golds in rng.sample(on_topic, min(limit // 2, len(on_topic))):
        other = tweets[rng.choice(nearest[number])]["context"]
        if not any(g in other.lower() for g in golds if g.strip()):
            add("other-passage", f"tweet:{tweets[number]['context'][:40]}", question, [], other)

    with gzip.open(SHARED_DATA / "reuters-headlines.jsonl.gz", "rt", encoding="utf-8") as handle:
        reuters = [r["article"] for r in map(json.loads, handle) if r["split"] == "NOT-USED"]
    strangers = reuters + [p["context"] for p in tweets]
    asked = [q for _, q, _, _, _ in answerable] + [q for _, q, _ in tweet_questions]
    for number in range(limit // 2):
        add("off-topic", f"off:{number}", rng.choice(asked), [], rng.choice(strangers))
    return rows


def collect_rows(
    model: str | None, precision: str, limit: int, reuse: bool
) -> tuple[list[dict], list[dict]]:
    """The calibration questions and every candidate's features (cached by model, precision)."""
    tag = f"{model}_" if model else ""
    cache = CACHE / f"calibration_{tag}{cpu_precision(precision)}_{limit}_v3.json.gz"
    if reuse and cache.exists():
        with gzip.open(cache, "rt", encoding="utf-8") as handle:
            stored = json.load(handle)
        for row in stored["candidates"]:  # features as the library computes them today
            row["features"] = features(Evidence(**row["evidence"]))
        return stored["questions"], stored["candidates"]
    questions = calibration_questions(limit)
    qa = NewsQA(device="cpu", model=model, grounded=True, precision=precision)
    found = collect(qa, questions)
    candidates = [
        {
            "question": row["id"],
            "features": c.features,
            "evidence": asdict(c.evidence),
            "f1": score_f1(c.text, row["golds"]) if row["golds"] else 0.0,
        }
        for row in questions
        for c in found[row["id"]]
    ]
    CACHE.mkdir(parents=True, exist_ok=True)
    with gzip.open(cache, "wt", encoding="utf-8") as handle:
        json.dump({"questions": questions, "candidates": candidates}, handle)
    return questions, candidates


def question_weights(questions: list[dict], mix: dict[str, float]) -> dict[str, float]:
    """Each question's weight so that its kind carries its share of ``mix`` (0 if not in it)."""
    counts: dict[str, int] = {}
    for row in questions:
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    return {
        row["id"]: mix.get(row["kind"], 0.0) * len(questions) / counts[row["kind"]]
        for row in questions
    }


def fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic regression on standardised features; returns weights on the raw features."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((x - mean) / scale, y, sample_weight=weights)
    raw = model.coef_[0] / scale
    return raw, float(model.intercept_[0] - (raw * mean).sum())


def decide_all(questions, by_question, probabilities) -> dict[str, tuple[float, float]]:
    """Per question: the best candidate's probability and F1 (-1 and 0 when it has none)."""
    best = {}
    for row in questions:
        indices = by_question.get(row["id"], [])
        if not indices:
            best[row["id"]] = (-1.0, 0.0)
            continue
        top = max(indices, key=lambda i: probabilities[i])
        best[row["id"]] = (float(probabilities[top]), top)
    return best


def mix_f1(questions, best, f1s, weights, bar: float) -> float:
    """The weighted SQuAD v2 F1 when answering at ``bar`` (an abstention scores 1 when right)."""
    total = mass = 0.0
    for row in questions:
        weight = weights[row["id"]]
        if not weight:
            continue
        probability, top = best[row["id"]]
        answered = probability >= bar
        if row["golds"]:
            value = f1s[top] if answered and probability >= 0 else 0.0
        else:
            value = 0.0 if answered and probability >= 0 else 1.0
        total += weight * value
        mass += weight
    return 100 * total / mass


def reliability(pairs: list[tuple[float, float, float]], bins: int = 10) -> tuple[list, float]:
    """(probability, right, weight) -> table of bins and the expected calibration error."""
    table, error, mass = [], 0.0, sum(w for _, _, w in pairs)
    for number in range(bins):
        low, high = number / bins, (number + 1) / bins
        inside = [(p, r, w) for p, r, w in pairs if low <= p < high or (high == 1 and p == 1)]
        weight = sum(w for _, _, w in inside)
        if not weight:
            continue
        confidence = sum(p * w for p, _, w in inside) / weight
        right = sum(r * w for _, r, w in inside) / weight
        error += weight / mass * abs(confidence - right)
        table.append([f"{low:.1f}-{high:.1f}", len(inside), round(confidence, 3), round(right, 3)])
    return table, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_precision_option(parser)
    parser.add_argument("--key", default="default", help="calibration.json entry to write")
    parser.add_argument("--limit", type=int, default=1200, help="questions of each source")
    parser.add_argument("--reuse", action="store_true", help="reuse collected candidates")
    parser.add_argument(
        "--model", help="newsqa-base, or a local seq2seq folder (default: newsqa-mini)"
    )
    parser.add_argument(
        "--model-dir", type=Path, help="where calibration.json goes (default: the model's folder)"
    )
    parser.add_argument(
        "--without", nargs="+", default=[], choices=FEATURES, help="fit without these features"
    )
    args = parser.parse_args()

    if args.model_dir is None:  # the model's own folder, where NewsQA looks for it
        args.model_dir = Seq2SeqGenerator(args.model, device="cpu").folder
    questions, candidates = collect_rows(args.model, args.precision, args.limit, args.reuse)
    x = np.array([[c["features"][f] for f in FEATURES] for c in candidates], dtype=float)
    f1s = np.array([c["f1"] for c in candidates])
    y = (f1s >= RIGHT_F1).astype(int)
    weights = question_weights(questions, MIX)
    strict_weights = question_weights(questions, STRICT_MIX)
    by_question: dict[str, list[int]] = {}
    for index, c in enumerate(candidates):
        by_question.setdefault(c["question"], []).append(index)
    sample_weight = np.array(
        [weights[c["question"]] / len(by_question[c["question"]]) for c in candidates]
    )
    group_of = {row["id"]: row["group"] for row in questions}
    groups = sorted({row["group"] for row in questions})
    fold_of_group = {g: random.Random(g).randrange(5) for g in groups}
    folds = np.array([fold_of_group[group_of[c["question"]]] for c in candidates])

    def out_of_fold(columns: list[int]) -> np.ndarray:
        result = np.zeros(len(candidates))
        for fold in range(5):
            train, test = folds != fold, folds == fold
            raw, intercept = fit(x[train][:, columns], y[train], sample_weight[train])
            result[test] = 1 / (1 + np.exp(-(x[test][:, columns] @ raw + intercept)))
        return result

    def summary(probabilities: np.ndarray) -> dict:
        from sklearn.metrics import roc_auc_score

        best = decide_all(questions, by_question, probabilities)
        grid = [b / 100 for b in range(5, 96)]
        bar = max(grid, key=lambda b: mix_f1(questions, best, f1s, weights, b))
        strict = max(grid, key=lambda b: mix_f1(questions, best, f1s, strict_weights, b))
        labels = [int(bool(row["golds"])) for row in questions]
        scores = [best[row["id"]][0] for row in questions]
        return {
            "auc_answerable": round(roc_auc_score(labels, scores), 4),
            "bar": bar,
            "mix_f1": round(mix_f1(questions, best, f1s, weights, bar), 2),
            "strict_bar": strict,
            "strict_mix_f1": round(mix_f1(questions, best, f1s, strict_weights, strict), 2),
            "best": best,
        }

    every = [i for i, f in enumerate(FEATURES) if f not in args.without]
    full = summary(out_of_fold(every))
    margin_only = summary(out_of_fold([FEATURES.index("margin")]))
    ablations = []
    for name, members in GROUPS.items():
        kept = [i for i in every if FEATURES[i] not in members]
        result = summary(out_of_fold(kept))
        ablations.append([f"without {name}", result["auc_answerable"], result["mix_f1"]])
    ablations.insert(0, ["margin alone", margin_only["auc_answerable"], margin_only["mix_f1"]])
    ablations.insert(0, ["all features", full["auc_answerable"], full["mix_f1"]])
    print_table(
        "Out-of-fold (5 folds by article): answerable-vs-not AUC of the best candidate's "
        "probability, and the reader mix's F1 at its best bar",
        ["features", "AUC", "mix F1"],
        ablations,
    )

    pairs = []
    for row in questions:
        probability, top = full["best"][row["id"]]
        if probability >= 0:
            pairs.append((probability, float(f1s[top] >= RIGHT_F1), weights[row["id"]]))
    table, ece = reliability(pairs)
    print_table(
        f"Reliability of the chosen answer (out-of-fold, reader mix): ECE {ece:.3f}",
        ["confidence", "questions", "mean confidence", "share right"],
        table,
    )

    raw, intercept = fit(x[:, every], y, sample_weight)
    fitted = {
        "weights": {FEATURES[i]: round(float(w), 6) for i, w in zip(every, raw)},
        "intercept": round(intercept, 6),
        "min_confidence": full["bar"],
        "strict_confidence": full["strict_bar"],
        "precision": cpu_precision(args.precision),
        "questions": len(questions),
        "candidates": len(candidates),
        "right_means": f"SQuAD F1 >= {RIGHT_F1} against the golds",
        "out_of_fold_ece": round(ece, 4),
    }
    path = args.model_dir / "calibration.json"
    stored = json.loads(path.read_text()) if path.exists() else {"calibrators": {}}
    stored["calibrators"][args.key] = fitted
    path.write_text(json.dumps(stored, indent=2) + "\n")
    print(f"\nbars: default {full['bar']}, strict {full['strict_bar']}; wrote {path}")
    kinds = {}
    for row in questions:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    write_result(
        f"calibration_{args.model}_{args.key}" if args.model else f"calibration_{args.key}",
        {
            "precision": fitted["precision"],
            "questions_by_kind": kinds,
            "mix": MIX,
            "strict_mix": STRICT_MIX,
            "ablations": [dict(zip(["features", "auc", "mix_f1"], r)) for r in ablations],
            "reliability": [
                dict(zip(["bin", "questions", "confidence", "right"], r)) for r in table
            ],
            "ece": round(ece, 4),
            "calibrator": fitted,
        },
    )


if __name__ == "__main__":
    main()
