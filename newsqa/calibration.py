"""Fit a model's confidence calibrator on public questions held out of training.

The recipe is the one newsqa-mini's calibrator was fitted with (``benchmarks/calibrate.py``
prints its ablations and reliability table): questions none of our models trained on, from SQuAD
train's validation articles and held-out articles (answerable questions, human-written
unanswerable ones, and answerable ones put to a passage that lacks the answer), held-out TweetQA
tweets (and their questions put to the tweet that shares most rare words with their own), and
off-topic questions (a question put to an unrelated Reuters article or tweet). Every retrieved
passage's candidate answer is collected through the library as it runs, with its features and
whether it is right (SQuAD F1 >= 0.5 against the golds).

A logistic regression (scikit-learn) is fitted with each question weighed so the kinds mix as a
news reader's questions do (``MIX``). Grouped 5-fold cross-validation gives out-of-fold
probabilities, on which the default bar (best F1 on that mix), the strict bar (best F1 on a
half-answerable, half-adversarial mix) and the expected calibration error are measured.

``calibrate`` does it for any model and writes ``calibration.json`` where ``NewsQA`` looks for
it (``folder_for``); collected candidates are checkpointed there, so an interrupted run resumes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from newsqa.confidence import FEATURES, Evidence, content_words, features
from newsqa.errors import InputError
from newsqa.metrics import best_over_golds, f1_score
from newsqa.news_questions import NewsQuestion, news_questions

MIX = {"answerable": 0.6, "off-topic": 0.2, "unanswerable": 0.1, "other-passage": 0.1}
"""A news reader's questions: mostly answerable, some off-topic, some on-topic but not covered:
half of those written to look answerable (SQuAD 2.0), half a question of one passage put to
another passage of the same article or to the tweet nearest its own (same people and events)."""
STRICT_MIX = {"answerable": 0.5, "unanswerable": 0.5}
RIGHT_F1 = 0.5
NEWS_FILE = "summ-train.jsonl.gz"
"""News articles (BBC News Summary, Inshorts) that ``news=True`` makes questions from."""
DATA_FILES = {
    "squad1-train.json.gz": "SQuAD 1.1 train (gzipped JSON)",
    "squad2-train-unanswerable.json.gz": "SQuAD 2.0 train's unanswerable questions (gzipped)",
    "tweetqa-train.json.gz": "TweetQA train, as one SQuAD-style article (gzipped)",
    "reuters-headlines.jsonl.gz": "Reuters articles, one JSON object a line with 'article' "
    "and 'split' (gzipped)",
}
VALIDATION_ARTICLES = 8
"""The last SQuAD train articles are held out of training to score checkpoints."""
CALIBRATION_SHARE = 5
"""One SQuAD article in this many (by title hash) and one tweet in this many (by text hash)
are held out of training, with the validation articles, to fit the confidence calibrator on."""


def held_out(key: str, share: int = CALIBRATION_SHARE) -> bool:
    """Whether the text or title ``key`` is held out of training (1 in ``share``, by hash)."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % share == 0


def _load(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def squad_validation_titles(data_dir: Path) -> set[str]:
    """The titles of SQuAD train's last articles, which training holds out."""
    articles = _load(data_dir / "squad1-train.json.gz")["data"]
    return {a["title"] for a in articles[len(articles) - VALIDATION_ARTICLES :]}


def topic_words(tweet: str) -> set[str]:
    """Content words of a tweet's text (not its "— Name (@handle) date" signature), no numbers."""
    body = tweet.rsplit("\u2014", 1)[0]
    return {w for w in content_words(body) if len(w) > 2 and not any(c.isdigit() for c in w)}


def nearest_tweets(contexts: list[str], limit: int = 3, max_postings: int = 60) -> list[list[int]]:
    """For each tweet, the ``limit`` other tweets that share the most rare words with it (by
    summed inverse document frequency, at least two words): the same people, places and
    events, usually another outlet's or another day's tweet."""
    words = [topic_words(c) for c in contexts]
    index: dict[str, list[int]] = {}
    for number, these in enumerate(words):
        for word in these:
            index.setdefault(word, []).append(number)
    nearest = []
    for number, these in enumerate(words):
        score: dict[int, float] = {}
        count: dict[int, int] = {}
        for word in these:
            postings = index[word]
            if len(postings) > max_postings:  # too common to say two tweets share a topic
                continue
            weight = math.log(len(contexts) / len(postings))
            for other in postings:
                if other != number:
                    score[other] = score.get(other, 0.0) + weight
                    count[other] = count.get(other, 0) + 1
        ranked = sorted((n for n in score if count[n] >= 2), key=lambda n: -score[n])
        nearest.append(ranked[:limit])
    return nearest


def data_dir_for(given: Path | str | None) -> Path:
    """The folder of public data to calibrate on: ``given``, else ``$NEWSQA_CALIBRATION_DATA``;
    one-line InputError naming what is missing."""
    chosen = given or os.environ.get("NEWSQA_CALIBRATION_DATA")
    if not chosen:
        raise InputError(
            "calibration needs public QA data: give --data DIR (or $NEWSQA_CALIBRATION_DATA) "
            f"holding {', '.join(DATA_FILES)}"
        )
    folder = Path(chosen).expanduser()
    missing = [
        f"{name} ({what})" for name, what in DATA_FILES.items() if not (folder / name).is_file()
    ]
    if missing:
        raise InputError(f"{folder} lacks {'; '.join(missing)}")
    return folder


def calibration_questions(
    data_dir: Path, limit: int, seed: int = 0, news: bool = False
) -> list[dict]:
    """The held-out questions, each with its article text, golds, kind and group (its article,
    so that cross-validation keeps an article's questions together). With ``news``, also
    questions made from news articles (``news_article_questions``; tried, not in the shipped
    recipe: see the model card)."""
    rng = random.Random(seed)
    validation_titles = squad_validation_titles(data_dir)
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

    squad = [
        a
        for a in _load(data_dir / "squad1-train.json.gz")["data"]
        if a["title"] in validation_titles
    ]
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

    unanswerable = []
    for article in _load(data_dir / "squad2-train-unanswerable.json.gz")["data"]:
        if article["title"] not in validation_titles and not held_out(article["title"]):
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

    tweets = [
        p
        for p in _load(data_dir / "tweetqa-train.json.gz")["data"][0]["paragraphs"]
        if held_out(p["context"])
    ]
    tweet_questions = [
        (p["context"], qa["question"], [a["text"] for a in qa["answers"]])
        for p in tweets
        for qa in p["qas"]
    ]
    for context, question, golds in rng.sample(tweet_questions, min(limit, len(tweet_questions))):
        add("answerable", f"tweet:{context[:40]}", question, golds, context)

    nearest = nearest_tweets([p["context"] for p in tweets])
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

    with gzip.open(data_dir / "reuters-headlines.jsonl.gz", "rt", encoding="utf-8") as handle:
        reuters = [r["article"] for r in map(json.loads, handle) if r["split"] == "NOT-USED"]
    strangers = reuters + [p["context"] for p in tweets]
    asked = [q for _, q, _, _, _ in answerable] + [q for _, q, _ in tweet_questions]
    for number in range(limit // 2):
        add("off-topic", f"off:{number}", rng.choice(asked), [], rng.choice(strangers))

    if news:
        made = news_article_questions(data_dir / NEWS_FILE, limit // 2)
        chosen = random.Random(seed + 2).sample(made, min(limit // 2, len(made)))
        for title, article, question in chosen:
            add("answerable", f"news:{title}", question.question, [question.answer], article)
        negatives = [(t, q) for t, _, q in made if q.without is not None]
        for title, question in random.Random(seed + 3).sample(
            negatives, min(limit // 2, len(negatives))
        ):
            add("other-passage", f"news:{title}", question.question, [], question.without)
    return rows


def news_article_questions(path: Path, wanted: float) -> list[tuple[str, str, NewsQuestion]]:
    """(article id, article, question) made from the news articles of the summary data (BBC
    News Summary, Inshorts; ``news_questions``: a name or counted subject asked about, and the
    article without that sentence as an on-topic negative), in the file's order, until there
    are ``wanted`` questions and ``wanted`` negatives (``math.inf``: every article). Our models
    trained on these articles' summaries, never on questions about them."""
    from newsqa.faithful import nlp

    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [
            r for r in map(json.loads, handle) if r["source"] in ("bbc-news-summary", "inshorts")
        ]
    made: list[tuple[str, str, NewsQuestion]] = []
    negatives = 0
    for row in rows:
        questions = news_questions(nlp(row["article"]))
        made += [(row["id"], row["article"], q) for q in questions]
        negatives += sum(q.without is not None for q in questions)
        if len(made) >= wanted and negatives >= wanted:
            break
    return made


def collect_candidates(qa, rows: list[dict]) -> dict[str, list]:
    """Each question's candidates through the library as it runs: each distinct article is
    added once and its questions retrieved and generated in one batch."""
    from newsqa.answer import check_question, find_candidates

    by_article: dict[str, list[dict]] = {}
    for row in rows:
        by_article.setdefault(row["article"], []).append(row)
    found: dict[str, list] = {}
    for text, group in by_article.items():
        article = qa.add_text(text)
        questions = [check_question(r["question"]) for r in group]
        passages = qa.retrieve_many(questions, article.id, qa.top_k)
        candidates = find_candidates(qa.generator, questions, passages, qa.grounded)
        found.update((row["id"], listed) for row, listed in zip(group, candidates))
        qa.remove(article.id)
    return found


def right_f1(text: str, golds: list[str]) -> float:
    """SQuAD F1 of a candidate against its golds (0 for a question without any)."""
    return best_over_golds(f1_score, text, golds) if golds else 0.0


def question_weights(questions: list[dict], mix: dict[str, float]) -> dict[str, float]:
    """Each question's weight so that its kind carries its share of ``mix`` (0 if not in it)."""
    counts: dict[str, int] = {}
    for row in questions:
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    return {
        row["id"]: mix.get(row["kind"], 0.0) * len(questions) / counts[row["kind"]]
        for row in questions
    }


def fit(x, y, weights) -> tuple:
    """Logistic regression on standardised features; returns weights on the raw features."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((x - mean) / scale, y, sample_weight=weights)
    raw = model.coef_[0] / scale
    return raw, float(model.intercept_[0] - (raw * mean).sum())


def best_per_question(questions, by_question, probabilities) -> dict[str, tuple[float, int]]:
    """Per question: its best candidate's probability and index (-1 and -1 when it has none)."""
    best = {}
    for row in questions:
        indices = by_question.get(row["id"], [])
        if not indices:
            best[row["id"]] = (-1.0, -1)
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
        answered = probability >= bar and top >= 0
        right = (f1s[top] if answered else 0.0) if row["golds"] else float(not answered)
        total += weight * right
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


@dataclass
class Fitted:
    """A calibration's outcome: the out-of-fold measurements and the calibrator's numbers."""

    questions: list[dict]
    candidates: list[dict]
    auc_answerable: float
    bar: float
    mix_f1: float
    strict_bar: float
    strict_mix_f1: float
    ece: float
    reliability: list
    calibrator: dict


class Calibration:
    """The collected candidates of one model and the fits on them (out of fold, and final)."""

    def __init__(self, questions: list[dict], candidates: list[dict]):
        import numpy as np

        self.questions, self.candidates = questions, candidates
        self.x = np.array([[c["features"][f] for f in FEATURES] for c in candidates], dtype=float)
        self.f1s = np.array([c["f1"] for c in candidates])
        self.y = (self.f1s >= RIGHT_F1).astype(int)
        self.weights = question_weights(questions, MIX)
        self.strict_weights = question_weights(questions, STRICT_MIX)
        self.by_question: dict[str, list[int]] = {}
        for index, c in enumerate(candidates):
            self.by_question.setdefault(c["question"], []).append(index)
        self.sample_weight = np.array(
            [self.weights[c["question"]] / len(self.by_question[c["question"]]) for c in candidates]
        )
        group_of = {row["id"]: row["group"] for row in questions}
        fold_of = {g: random.Random(g).randrange(5) for g in sorted(set(group_of.values()))}
        self.folds = np.array([fold_of[group_of[c["question"]]] for c in candidates])

    def out_of_fold(self, columns: list[int]):
        """Each candidate's probability from the fit on the other four folds."""
        import numpy as np

        result = np.zeros(len(self.candidates))
        for fold in range(5):
            train, test = self.folds != fold, self.folds == fold
            if not test.any():
                continue
            raw, intercept = fit(
                self.x[train][:, columns], self.y[train], self.sample_weight[train]
            )
            result[test] = 1 / (1 + np.exp(-(self.x[test][:, columns] @ raw + intercept)))
        return result

    def summary(self, probabilities) -> dict:
        """AUC (answerable vs not), the bars and the mixes' F1 at them, for these probabilities."""
        from sklearn.metrics import roc_auc_score

        best = best_per_question(self.questions, self.by_question, probabilities)
        grid = [b / 100 for b in range(5, 96)]

        def at(weights, bar):
            return mix_f1(self.questions, best, self.f1s, weights, bar)

        bar = max(grid, key=lambda b: at(self.weights, b))
        strict = max(grid, key=lambda b: at(self.strict_weights, b))
        labels = [int(bool(row["golds"])) for row in self.questions]
        scores = [best[row["id"]][0] for row in self.questions]
        return {
            "auc_answerable": round(float(roc_auc_score(labels, scores)), 4),
            "bar": bar,
            "mix_f1": round(at(self.weights, bar), 2),
            "strict_bar": strict,
            "strict_mix_f1": round(at(self.strict_weights, strict), 2),
            "best": best,
        }

    def chosen_reliability(self, best: dict[str, tuple[float, int]]) -> tuple[list, float]:
        """The reliability table and ECE of each question's chosen answer (``summary``'s
        ``best``), weighted by the reader mix."""
        pairs = []
        for row in self.questions:
            probability, top = best[row["id"]]
            if top >= 0:
                right = float(self.f1s[top] >= RIGHT_F1)
                pairs.append((probability, right, self.weights[row["id"]]))
        return reliability(pairs)

    def fitted(self, precision: str, columns: list[int] | None = None) -> Fitted:
        """Bars and reliability out of fold, then the calibrator fitted on every question."""
        columns = list(range(len(FEATURES))) if columns is None else columns
        found = self.summary(self.out_of_fold(columns))
        table, ece = self.chosen_reliability(found["best"])
        raw, intercept = fit(self.x[:, columns], self.y, self.sample_weight)
        calibrator = {
            "weights": {FEATURES[i]: round(float(w), 6) for i, w in zip(columns, raw)},
            "intercept": round(intercept, 6),
            "min_confidence": found["bar"],
            "strict_confidence": found["strict_bar"],
            "precision": precision,
            "questions": len(self.questions),
            "candidates": len(self.candidates),
            "right_means": f"SQuAD F1 >= {RIGHT_F1} against the golds",
            "out_of_fold_ece": round(ece, 4),
        }
        return Fitted(
            self.questions,
            self.candidates,
            found["auc_answerable"],
            found["bar"],
            found["mix_f1"],
            found["strict_bar"],
            found["strict_mix_f1"],
            round(ece, 4),
            table,
            calibrator,
        )


def folder_for(location: str) -> Path:
    """Where a model's calibration lives when newsqa writes it: under the user data folder
    (``newsqa.models_install.models_dir``), named after the model's file, folder or hub name."""
    from newsqa.models_install import models_dir

    path = Path(location).expanduser()
    if path.exists():
        resolved = str(path.resolve())
        tag = f"{path.name}-{hashlib.sha1(resolved.encode('utf-8')).hexdigest()[:8]}"
    else:
        tag = location.replace("/", "--")
    return models_dir() / "calibrations" / re.sub(r"[^\w.-]+", "_", tag)


def shipped_file(location: str) -> Path | None:
    """The calibration newsqa ships for an installable local chat model
    (``newsqa/data/calibration-NAME.json``), when ``location`` is that model's installed file."""
    from newsqa.models_install import LANGUAGE_MODELS, installed_path
    from newsqa.resources import package_folder

    path = Path(location).expanduser()
    for name, spec in LANGUAGE_MODELS.items():
        folder = installed_path(spec)
        if (
            folder is not None
            and path.exists()
            and path.resolve() == (folder / spec.weights).resolve()
        ):
            return package_folder("newsqa.data") / f"calibration-{name}.json"
    return None


def collect(
    qa,
    questions: list[dict],
    checkpoint: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    every_seconds: float = 60.0,
    verifier=None,
) -> list[dict]:
    """Every candidate of every question, as rows of features, evidence and F1; with a
    ``checkpoint`` file, what an earlier (interrupted) run collected is kept and extended; with
    a ``verifier`` (``newsqa.verifier``), its logit of each candidate among the features."""
    done: dict[str, list[dict]] = {}
    if checkpoint is not None and checkpoint.exists():
        with gzip.open(checkpoint, "rt", encoding="utf-8") as handle:
            done = json.load(handle)
    by_article: dict[str, list[dict]] = {}
    for row in questions:
        if row["id"] not in done:
            by_article.setdefault(row["article"], []).append(row)
    pending = list(by_article.values())
    written = time.monotonic()
    for number, group in enumerate(pending, 1):
        found = collect_candidates(qa, group)
        for row in group:
            done[row["id"]] = [
                {
                    "question": row["id"],
                    "evidence": asdict(c.evidence),
                    "f1": right_f1(c.text, row["golds"]),
                }
                for c in found[row["id"]]
            ]
        # by time, not by count: the file grows with every article, so writing it every few
        # articles would take longer than collecting them
        if checkpoint is not None and (
            time.monotonic() - written >= every_seconds or number == len(pending)
        ):
            _write_atomically(checkpoint, done)
            written = time.monotonic()
        if progress is not None:
            progress(len(done), len(questions))
    rows = [c for row in questions for c in done.get(row["id"], [])]
    if verifier is not None:
        evidence = [row["evidence"] for row in rows]
        triples = [(e["question"], e["answer"], e["sentence"]) for e in evidence]
        for item, logit in zip(evidence, verifier.logits(triples)):
            item["verifier"] = logit
    for row in rows:  # features as the library computes them today
        row["features"] = features(Evidence(**row["evidence"]))
    return rows


def _write_atomically(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with gzip.open(partial, "wt", encoding="utf-8", compresslevel=1) as handle:
        json.dump(value, handle)
    os.replace(partial, path)


def store(folder: Path, key: str, calibrator: dict, model: str) -> Path:
    """Write (or update) ``folder/calibration.json``'s entry ``key``; its path."""
    path = folder / "calibration.json"
    stored = json.loads(path.read_text()) if path.exists() else {"calibrators": {}}
    stored.setdefault("model", model)
    stored["calibrators"][key] = calibrator
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name("calibration.json.partial")
    partial.write_text(json.dumps(stored, indent=2) + "\n")
    os.replace(partial, path)
    return path


def calibrate(
    model: str | None,
    data_dir: Path | str | None = None,
    limit: int = 150,
    precision: str | None = None,
    device: str = "cpu",
    folder: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Fitted, Path]:
    """Fit ``model``'s calibrator on the public data in ``data_dir`` (``limit`` questions of
    each source, about 4.7 x ``limit`` in all) and store it where ``NewsQA`` finds it (or in
    ``folder``); (the outcome, the calibration file). Candidates are checkpointed beside it."""
    from newsqa.core import NewsQA

    try:
        import sklearn  # noqa: F401
    except ImportError as error:
        raise InputError(
            "newsqa calibrate needs scikit-learn: pip install 'newsqa[llm]'"
        ) from error
    data = data_dir_for(data_dir)
    qa = NewsQA(device=device, model=model, grounded=True, precision=precision)
    generator = qa.generator
    folder = folder or folder_for(generator.location)
    key = "default" if generator.precision == "fp32" else generator.precision
    questions = calibration_questions(data, limit)
    checkpoint = folder / f"candidates-{generator.precision}-{limit}.json.gz"
    candidates = collect(qa, questions, checkpoint, progress)
    fitted = Calibration(questions, candidates).fitted(generator.precision)
    return fitted, store(folder, key, fitted.calibrator, generator.name)
