"""Training examples for newsqa-mini, built the way the runtime builds its inputs.

Question answering comes from SQuAD v1.1 train: the context is a window of sentences around the
answer (what retrieval hands the generator: a chunk of a few sentences). Unanswerable examples are
made the way retrieval fails: the same question with a window that lacks every gold answer (other
sentences of the same paragraph, or another paragraph of the same article).
SQuAD v2's unanswerable questions are harder: the passage holds a plausible answer, but the
question names something the passage does not (another person, place or year). Those are made too:
one name or number of the question that the passage contains is swapped for one from another
article, and the passage that answers the original question must now be declined. Two more of
SQuAD v2's kinds (Rajpurkar et al. 2018: antonym 20 %, negation 9 % of its unanswerables) are made
the same way: a word of the question swapped for its antonym ("first" -> "last") that the passage
does not hold, or a "not" after the question's verb ("Who was not ...").
Summarization comes from the news summary and headline pairs, plus sentence compressions: each
sentence of an abstractive summary paired with the article sentence it rewrites.
Never reads the ``*-dev-public*`` files: those are for measuring.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

from newsqa import calibration
from newsqa.calibration import VALIDATION_ARTICLES, held_out, nearest_tweets
from newsqa.chunk import Sentence, split_sentences
from newsqa.confidence import content_words
from newsqa.prompts import NO_ANSWER, headline_input, qa_input, summary_input

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SENTENCE_CACHE = Path(__file__).resolve().parent / "runs" / "sentences.json.gz"
"""Sentence offsets of every training text: splitting is 98 % of ``build``'s time (pysbd) and
does not depend on the seed, so each later build (a new epoch, a new run) takes seconds."""
MAX_CONTEXT_CHARS = 600  # about 128 MiniLM tokens: the runtime's chunk bound
SUMMARY_WINDOW_CHARS = 700


@dataclass(frozen=True)
class Example:
    source: str
    input: str
    target: str


_sentences: dict[str, list[list[int]]] = {}


def _split(text: str) -> list[Sentence]:
    """``split_sentences``, remembered by the text's hash."""
    key = hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]
    if key not in _sentences:
        _sentences[key] = [[s.start, s.end] for s in split_sentences(text)]
    return [Sentence(text[start:end], start, end) for start, end in _sentences[key]]


def _window(sentences, centre: int, rng: random.Random) -> tuple[int, int]:
    """A random window of sentences around ``centre`` that stays under the context bound."""
    first = last = centre
    for _ in range(rng.randint(0, 4)):
        grow_left = rng.random() < 0.5
        lo, hi = (first - 1, last) if grow_left else (first, last + 1)
        if lo < 0 or hi >= len(sentences):
            lo, hi = (first, last + 1) if grow_left else (first - 1, last)
        if lo < 0 or hi >= len(sentences):
            break
        if sentences[hi].end - sentences[lo].start > MAX_CONTEXT_CHARS:
            break
        first, last = lo, hi
    return first, last


def _text(context: str, sentences, first: int, last: int) -> str:
    return context[sentences[first].start : sentences[last].end]


_NAME_OR_NUMBER = re.compile(r"\b(?:[A-Z][a-z]+|\d[\d,.]*)\b")


def _names_and_numbers(articles) -> dict[str, list[str]]:
    """Capitalised words and numbers of every question, by shape: the swap pool."""
    pool: dict[str, set] = {"name": set(), "number": set()}
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                for word in _NAME_OR_NUMBER.findall(qa["question"])[1:]:
                    pool["number" if word[0].isdigit() else "name"].add(word)
    return {shape: sorted(words) for shape, words in pool.items()}


def _swapped_question(question: str, window: str, pool, rng: random.Random) -> str | None:
    """The question with one name or number it shares with ``window`` swapped for a stranger."""
    words = [m for m in _NAME_OR_NUMBER.finditer(question) if m.start() > 0 and m.group() in window]
    if not words:
        return None
    chosen = rng.choice(words)
    shape = "number" if chosen.group()[0].isdigit() else "name"
    for _ in range(5):
        stranger = rng.choice(pool[shape])
        if stranger.lower() not in window.lower() and stranger.lower() not in question.lower():
            return question[: chosen.start()] + stranger + question[chosen.end() :]
    return None


_ANTONYMS = dict(
    pair
    for a, b in (
        ("first", "last"),
        ("largest", "smallest"),
        ("most", "least"),
        ("before", "after"),
        ("highest", "lowest"),
        ("earliest", "latest"),
        ("longest", "shortest"),
        ("north", "south"),
        ("east", "west"),
        ("increase", "decrease"),
        ("maximum", "minimum"),
        ("oldest", "youngest"),
        ("older", "younger"),
        ("biggest", "smallest"),
        ("more", "less"),
        ("better", "worse"),
        ("best", "worst"),
        ("early", "late"),
        ("major", "minor"),
        ("positive", "negative"),
        ("top", "bottom"),
        ("began", "ended"),
        ("start", "end"),
        ("won", "lost"),
        ("win", "lose"),
        ("open", "closed"),
        ("public", "private"),
        ("northern", "southern"),
        ("eastern", "western"),
        ("upper", "lower"),
        ("inside", "outside"),
        ("larger", "smaller"),
        ("higher", "lower"),
        ("longer", "shorter"),
        ("greater", "fewer"),
        ("increased", "decreased"),
        ("rise", "fall"),
        ("gained", "lost"),
        ("accepted", "rejected"),
        ("allowed", "banned"),
        ("supported", "opposed"),
        ("male", "female"),
        ("modern", "ancient"),
    )
    for pair in ((a, b), (b, a))
)
_ANTONYM_WORD = re.compile(r"\b(?:" + "|".join(sorted(_ANTONYMS, key=len, reverse=True)) + r")\b")
_LEADING_AUXILIARY = re.compile(
    r"^(?:who|what|which)\s+(?:is|was|are|were|has|had|can|could)\b", re.I
)


def _antonym_question(question: str, window: str) -> str | None:
    """The question with one word swapped for its antonym, which the window never uses."""
    found = _ANTONYM_WORD.search(question)
    if not found:
        return None
    opposite = _ANTONYMS[found.group()]
    if re.search(rf"\b{opposite}\b", window.lower()):
        return None
    return question[: found.start()] + opposite + question[found.end() :]


def _negated_question(question: str) -> str | None:
    """'Who was the first ...' -> 'Who was not the first ...': the passage answers the other one."""
    found = _LEADING_AUXILIARY.match(question)
    if not found or re.search(r"\b(?:not|never|n't)\b", question):
        return None
    return question[: found.end()] + " not" + question[found.end() :]


def qa_examples(
    path: Path,
    rng: random.Random,
    negative_rate: float = 0.33,
    swap_rate: float = 0.2,
    antonym_rate: float = 0.5,
    negation_rate: float = 0.15,
) -> tuple[list[Example], list[Example]]:
    """Answerable and unanswerable examples from SQuAD-format JSON: (train, validation)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        articles = json.load(handle)["data"]
    pool = _names_and_numbers(articles)
    swap_rng = random.Random(rng.random())  # its own stream: the other examples stay as before
    reword_rng = random.Random(swap_rng.random() + 1)  # likewise for antonyms and negations
    train: list[Example] = []
    validation: list[Example] = []
    for number, article in enumerate(articles):
        examples = validation if number >= len(articles) - VALIDATION_ARTICLES else train
        paragraphs = [(p, _split(p["context"])) for p in article["paragraphs"]]
        for index, (paragraph, sentences) in enumerate(paragraphs):
            context = paragraph["context"]
            if not sentences:
                continue
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]
                start = answer["answer_start"]
                centre = next((i for i, s in enumerate(sentences) if s.end > start), None)
                if centre is None:
                    continue
                first, last = _window(sentences, centre, rng)
                window = _text(context, sentences, first, last)
                if answer["text"] not in window:
                    continue  # the answer crosses a sentence boundary the window cut
                examples.append(Example("squad", qa_input(qa["question"], window), answer["text"]))
                if rng.random() < negative_rate:
                    negative = _negative_window(paragraphs, index, centre, qa, rng)
                    if negative:
                        examples.append(
                            Example("squad-noans", qa_input(qa["question"], negative), NO_ANSWER)
                        )
                if swap_rng.random() < swap_rate:
                    swapped = _swapped_question(qa["question"], window, pool, swap_rng)
                    if swapped:
                        examples.append(Example("squad-swap", qa_input(swapped, window), NO_ANSWER))
                reworded = []
                if reword_rng.random() < antonym_rate:
                    reworded.append(_antonym_question(qa["question"], window))
                if reword_rng.random() < negation_rate:
                    reworded.append(_negated_question(qa["question"]))
                examples += [
                    Example("squad-reword", qa_input(q, window), NO_ANSWER) for q in reworded if q
                ]
    return train, validation


def _negative_window(paragraphs, index: int, centre: int, qa: dict, rng: random.Random):
    """A window that retrieval could hand over for this question but that lacks its answer."""
    golds = {a["text"].lower() for a in qa["answers"]}
    candidates = []
    paragraph, sentences = paragraphs[index]
    others = [i for i in range(len(sentences)) if abs(i - centre) > 1]
    if others and rng.random() < 0.5:
        pick = rng.choice(others)
        candidates.append((paragraph["context"], sentences, pick))
    else:
        other = rng.randrange(len(paragraphs))
        o_paragraph, o_sentences = paragraphs[other]
        if other != index and o_sentences:
            candidates.append(
                (o_paragraph["context"], o_sentences, rng.randrange(len(o_sentences)))
            )
    for context, sentences, pick in candidates:
        first, last = _window(sentences, pick, rng)
        if first <= centre <= last and context == paragraph["context"]:
            continue
        window = _text(context, sentences, first, last)
        if not any(gold in window.lower() for gold in golds):
            return window
    return None


def summary_examples(path: Path, rng: random.Random, compression_copies: int = 3) -> list[Example]:
    """Summary, headline and sentence-compression examples from the news pairs."""
    examples: list[Example] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            source, article, summary = row["source"], row["article"], row["summary"]
            if source.endswith("headline"):
                examples.append(Example(source, headline_input(article), summary))
            elif source == "bbc-news-summary":
                examples.extend(_extractive_windows(article, summary, source))
            else:
                examples.append(Example(source, summary_input(article[:1500]), summary))
                examples += compression_copies * _compressions(article, summary, source)
    return examples


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _compressions(article: str, summary: str, source: str) -> list[Example]:
    """Each summary sentence that rewrites one article sentence shorter: (sentence -> rewrite).

    This is what the runtime asks of the model after it has picked a summary's sentences.
    """
    sentences = _split(article)
    examples = []
    for written in _split(summary):
        words = _words(written.text)
        if len(words) < 5 or not sentences:
            continue
        best = max(sentences, key=lambda s: len(words & _words(s.text)))
        coverage = len(words & _words(best.text)) / len(words)
        if coverage >= 0.6 and len(written.text.split()) < 0.95 * len(best.text.split()):
            examples.append(Example(f"{source}-compress", summary_input(best.text), written.text))
    return examples


def _extractive_windows(article: str, summary: str, source: str) -> list[Example]:
    """Cut a long article into chunk-sized windows; each target is the summary's sentences in it.

    This is the map step of the runtime's map-reduce: summarize one chunk of a long article.
    """
    sentences = _split(article)
    picked = [s.text in summary for s in sentences]
    examples = []
    first = 0
    while first < len(sentences):
        last = first
        while (
            last + 1 < len(sentences)
            and sentences[last + 1].end - sentences[first].start <= SUMMARY_WINDOW_CHARS
        ):
            last += 1
        chosen = [sentences[i].text for i in range(first, last + 1) if picked[i]]
        if chosen:
            window = article[sentences[first].start : sentences[last].end]
            examples.append(Example(source, summary_input(window), " ".join(chosen)))
        first = last + 1
    return examples


def squad_validation_titles(data_dir: Path = SHARED_DATA) -> set[str]:
    return calibration.squad_validation_titles(data_dir)


def human_unanswerable_examples(
    path: Path, rng: random.Random, validation_titles: set[str], copies: int = 2
) -> tuple[list[Example], list[Example]]:
    """SQuAD 2.0's human-written unanswerable questions, each with a window of its paragraph
    around the sentence that shares most words with it (what retrieval would hand over):
    (train, validation). Held-out articles (``held_out``) are in neither."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        articles = json.load(handle)["data"]
    train: list[Example] = []
    validation: list[Example] = []
    for article in articles:
        is_validation = article["title"] in validation_titles
        if not is_validation and held_out(article["title"]):
            continue
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            sentences = _split(context)
            if not sentences:
                continue
            for qa in paragraph["qas"]:
                words = content_words(qa["question"])
                centre = max(
                    range(len(sentences)),
                    key=lambda i: len(words & content_words(sentences[i].text)),
                )
                for _ in range(1 if is_validation else copies):
                    first, last = _window(sentences, centre, rng)
                    example = Example(
                        "squad-human",
                        qa_input(qa["question"], _text(context, sentences, first, last)),
                        NO_ANSWER,
                    )
                    (validation if is_validation else train).append(example)
    return train, validation


def tweet_examples(
    path: Path,
    rng: random.Random,
    copies: int = 2,
    off_topic_rate: float = 0.25,
    on_topic_rate: float = 0.35,
) -> list[Example]:
    """TweetQA questions whose answer is a span of the tweet (the tweet is the context), and
    two kinds of negatives: off-topic (a question with a random other tweet) and on-topic (a
    question with the tweet nearest its own by shared content words, which names the same people
    or events, when no reference answer occurs in it). Held-out tweets are left out."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        paragraphs = json.load(handle)["data"][0]["paragraphs"]
    kept = [p for p in paragraphs if not held_out(p["context"])]
    nearest = nearest_tweets([p["context"] for p in kept])
    examples: list[Example] = []
    for number, paragraph in enumerate(kept):
        context = paragraph["context"]
        for qa in paragraph["qas"]:
            answer = qa["answers"][0]
            start = answer["answer_start"]
            if start >= 0 and context[start : start + len(answer["text"])] == answer["text"]:
                examples += copies * [
                    Example("tweetqa", qa_input(qa["question"], context), answer["text"])
                ]
            if rng.random() < off_topic_rate:
                other = rng.choice(kept)["context"]
                if other != context:
                    examples.append(
                        Example("tweetqa-offtopic", qa_input(qa["question"], other), NO_ANSWER)
                    )
            if nearest[number] and rng.random() < on_topic_rate:
                other = kept[rng.choice(nearest[number])]["context"]
                answers = [a["text"].lower() for a in qa["answers"] if a["text"].strip()]
                if other != context and not any(a in other.lower() for a in answers):
                    examples.append(
                        Example("tweetqa-ontopic", qa_input(qa["question"], other), NO_ANSWER)
                    )
    return examples


NEWS_QUESTION_CACHE = Path(__file__).resolve().parent / "runs" / "news_questions.json.gz"
"""The questions ``news_questions`` makes of the summary data's news articles: parsing them is
most of the work and does not depend on the seed."""


def _news_questions(path: Path, cache: Path | None) -> list[dict]:
    """Each question ``calibration.news_article_questions`` makes of the summary data's news
    articles: the article, question, answer, its sentence and whether dropping it leaves a fair
    negative."""
    if cache and cache.exists():
        with gzip.open(cache, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    made = [
        {
            "article": article,
            "question": q.question,
            "answer": q.answer,
            "sentence": q.sentence,
            "negative": q.without is not None,
        }
        for _, article, q in calibration.news_article_questions(path, wanted=math.inf)
    ]
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temp = cache.with_suffix(".tmp")
        with gzip.open(temp, "wt", encoding="utf-8") as handle:
            json.dump(made, handle)
        temp.replace(cache)
    return made


def news_examples(
    path: Path, rng: random.Random, copies: int = 8, cache: Path | None = NEWS_QUESTION_CACHE
) -> tuple[list[Example], list[Example]]:
    """News-domain questions with known answers and on-topic negatives: (train, validation).

    Each question of ``news_questions`` (a name or counted subject asked about) is asked of a
    window around its sentence (``news``), of the same window with that sentence dropped where
    no other sentence restates it (``news-dropped``: the same people and events, not this fact),
    and of the window of the nearest other article (by shared rare words) with the most of the
    question's words, when it lacks the answer (``news-neighbour``); ``copies`` windows of each
    kind (about 1,000 questions: the few are seen often). One article in five (by hash) is held
    out: its examples, one window each, are the validation ones.
    """
    made = _news_questions(path, cache)
    articles = sorted({m["article"] for m in made})
    nearest = dict(zip(articles, nearest_tweets(articles)))
    train: list[Example] = []
    validation: list[Example] = []
    for item in made:
        article, answer = item["article"], item["answer"]
        is_validation = held_out(article)
        examples, repeats = (validation, 1) if is_validation else (train, copies)
        sentences = _split(article)
        start = article.find(item["sentence"])
        centre = next((i for i, s in enumerate(sentences) if s.end > start), None)
        if start < 0 or centre is None:
            continue
        for _ in range(repeats):
            first, last = _window(sentences, centre, rng)
            window = _text(article, sentences, first, last)
            if item["sentence"] in window:
                examples.append(Example("news", qa_input(item["question"], window), answer))
            if item["negative"]:
                kept = sentences[:centre] + sentences[centre + 1 :]
                if kept:
                    lo, hi = _window(kept, min(centre, len(kept) - 1), rng)
                    dropped = " ".join(s.text for s in kept[lo : hi + 1])
                    examples.append(
                        Example("news-dropped", qa_input(item["question"], dropped), NO_ANSWER)
                    )
        neighbours = [
            articles[n]
            for n in nearest[article]
            if held_out(articles[n]) == is_validation and answer.lower() not in articles[n].lower()
        ]
        words = content_words(item["question"])
        for _ in range(repeats if neighbours else 0):
            other = rng.choice(neighbours)
            other_sentences = _split(other)
            overlaps = [len(words & content_words(s.text)) for s in other_sentences]
            best = [i for i, o in enumerate(overlaps) if o == max(overlaps)]
            first, last = _window(other_sentences, rng.choice(best), rng)
            window = _text(other, other_sentences, first, last)
            examples.append(
                Example("news-neighbour", qa_input(item["question"], window), NO_ANSWER)
            )
    return train, validation


def build(
    seed: int = 0,
    data_dir: Path = SHARED_DATA,
    sentence_cache: Path | None = SENTENCE_CACHE,
    news: bool = False,
) -> tuple[list[Example], list[Example]]:
    """Training and validation examples, shuffled deterministically by ``seed``.

    Each seed draws other windows and negatives from the same questions (a new epoch's data).
    ``news`` adds ``news_examples`` (run 8's recipe, not the shipped weights').
    """
    if sentence_cache and sentence_cache.exists() and not _sentences:
        with gzip.open(sentence_cache, "rt", encoding="utf-8") as handle:
            _sentences.update(json.load(handle))
    known = len(_sentences)
    rng = random.Random(seed)
    train, validation = qa_examples(data_dir / "squad1-train.json.gz", rng)
    human, human_validation = human_unanswerable_examples(
        data_dir / "squad2-train-unanswerable.json.gz", rng, squad_validation_titles(data_dir)
    )
    train += human + tweet_examples(data_dir / "tweetqa-train.json.gz", rng)
    validation += human_validation
    train += summary_examples(data_dir / "summ-train.jsonl.gz", rng)
    if news:
        made, held = news_examples(data_dir / "summ-train.jsonl.gz", rng)
        train += made
        validation += held
    rng.shuffle(train)
    if sentence_cache and len(_sentences) > known:
        sentence_cache.parent.mkdir(parents=True, exist_ok=True)
        temp = sentence_cache.with_suffix(".tmp")
        with gzip.open(temp, "wt", encoding="utf-8") as handle:
            json.dump(_sentences, handle)
        temp.replace(sentence_cache)
    return train, validation
