"""Batch work over archives: every article x question (or every article's summary) as one JSON
line, resumable and exactly once, in this process or on Ray.

Each article goes through two steps, the same code in-process and on Ray: :func:`read` (load,
clean, split and chunk: light work, parallel tasks on Ray) and :class:`Worker` (embed, then
answer or summarize, the article alone in its own in-memory library, exactly as
``newsqa ask --article FILE`` reads it; it holds the models, an actor on Ray).

Articles stream in: sources are expanded lazily and JSONL archives are read line by line, so
memory stays bounded by the work in flight (plus one key per finished line, for resuming).

Output: one line per (article, question), appended, flushed and fsynced per article, keyed by
the article's ``source`` and the ``question``. A restart with the same output file repairs a torn
last line and skips every key already there, so each key ends up in the file exactly once.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import pickle
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from newsqa import ingest
from newsqa.errors import InputError, UserError

ARTICLE_SUFFIXES = {".txt", ".text", ".html", ".htm", ".md"}
ARCHIVE_SUFFIXES = (".jsonl", ".jsonl.gz")
"""JSON Lines archives: one article a line, ``{"id", "text" (or "article"), "title"}``."""
_URL = re.compile(r"^https?://", re.IGNORECASE)

Item = dict[str, Any]
"""One unit of work as it moves through the steps: plain data, picklable."""
Key = tuple[str, str | None]
"""What an output line answers: (article source, question); the question is None for a
summary."""


@dataclass(frozen=True)
class Job:
    """What to do with each article: ask ``questions``, or summarize when there are none.

    ``options`` are ``NewsQA``'s (device, model, precision, top_k, min_confidence, strict,
    embedder); ``words`` and ``strategy`` are ``NewsQA.summarize``'s.
    """

    questions: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    words: int = 80
    strategy: str = "compress"

    @property
    def keys_per_article(self) -> tuple[str | None, ...]:
        return self.questions or (None,)

    @property
    def embedder(self) -> str:
        from newsqa.embed import DEFAULT_EMBEDDER

        return self.options.get("embedder") or os.environ.get("NEWSQA_EMBEDDER") or DEFAULT_EMBEDDER


@dataclass
class Report:
    """What a batch run did. ``busy_seconds``: time the workers spent embedding and answering
    (summed over workers), so ``articles / busy_seconds`` is one worker's throughput."""

    articles: int = 0
    lines: int = 0
    errors: int = 0
    already_done: int = 0
    seconds: float = 0.0
    busy_seconds: float = 0.0
    workers: int = 1
    out: str = ""

    @property
    def articles_per_second(self) -> float:
        return self.articles / self.seconds if self.seconds else 0.0


# -- sources ----------------------------------------------------------------------------------


def _is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def check_sources(specs: Iterable[str]) -> list[str]:
    """The specs, each a file, folder, glob or URL; a missing file is a one-line error."""
    specs = list(specs)
    if not specs:
        raise InputError("no articles given: name files, folders, globs or JSONL archives")
    for spec in specs:
        if spec == "-":
            raise InputError("batch work reads files, folders, globs and URLs, not stdin ('-')")
        if _URL.match(spec) or glob.has_magic(spec):
            continue
        if not Path(spec).expanduser().exists():
            raise InputError(f"no such file or folder: {spec}")
    return specs


def _paths(spec: str) -> Iterator[str]:
    """The article files and archives a spec names, in a stable order (URLs as they are)."""
    if _URL.match(spec):
        yield spec
        return
    path = Path(spec).expanduser()
    if path.is_dir():
        for found in sorted(path.rglob("*")):
            name = str(found)
            if found.is_file() and (found.suffix.lower() in ARTICLE_SUFFIXES or _is_archive(name)):
                yield name
    elif path.exists():
        yield str(path)
    else:
        for match in sorted(glob.glob(os.path.expanduser(spec), recursive=True)):
            if Path(match).is_dir():
                yield from _paths(match)
            else:
                yield match


def _open_text(path: str):
    if path.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _records(path: str) -> Iterator[Item]:
    """The articles of a JSONL archive, one per line, read lazily. An article's source is
    ``PATH#ID``, or ``PATH#LINE`` when the record has no id."""
    with _open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                yield {"source": f"{path}#{number}", "error": f"line {number} is not a JSON object"}
                continue
            text = record.get("text", record.get("article"))
            item: Item = {"source": f"{path}#{record.get('id', number)}", "text": text}
            if not isinstance(text, str):
                item["error"] = f"line {number} has no 'text' (or 'article') string"
            item["title"] = record.get("title")
            yield item


def _located(source: str) -> Item:
    """A file or URL to read: ``path`` is absolute, for workers that run in other folders."""
    if _URL.match(source):
        return {"source": source}
    return {"source": source, "path": str(Path(source).expanduser().absolute())}


def expand(specs: Iterable[str]) -> Iterator[Item]:
    """Work items, streamed: ``{"source", "path"}`` for a file (``{"source"}`` for a URL),
    ``{"source", "text", "title"}`` for each record of a JSONL archive."""
    for spec in specs:
        for path in _paths(spec):
            if _is_archive(path):
                yield from _records(path)
            else:
                yield _located(path)


def count(specs: Iterable[str]) -> int:
    """How many articles the specs hold (archive lines are counted, not parsed)."""
    total = 0
    for spec in specs:
        for path in _paths(spec):
            if _is_archive(path):
                with _open_text(path) as handle:
                    total += sum(1 for line in handle if line.strip())
            else:
                total += 1
    return total


# -- the two steps ----------------------------------------------------------------------------


def _describe(error: Exception) -> str:
    if isinstance(error, UserError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def read(item: Item, embedder: str) -> Item:
    """Load, clean, split and chunk one article (no model but the embedder's tokenizer).

    Adds ``payload`` (the pickled article, sentences and chunks) or ``error``.
    """
    from newsqa.core import split_document
    from newsqa.embed import Embedder

    item = dict(item)
    try:
        if item.get("error"):
            raise InputError(item["error"])
        if "text" in item:
            document = ingest.load_text(item.pop("text"), item.pop("title", None))
        elif "path" in item:  # named as given, as NewsQA.add names it
            document = ingest.load(item["path"])
            document = replace(document, source=str(Path(item["source"].strip()).expanduser()))
        else:
            document = ingest.load(item["source"])
        item["payload"] = pickle.dumps(split_document(document, Embedder(embedder).count_tokens))
    except Exception as error:  # one bad article is an error line, never the end of the run
        item["error"] = _describe(error)
    return item


class Worker:
    """Embeds read articles and answers (or summarizes) them; loads its models once.

    Each article is alone in a fresh in-memory library (its retrieval scores never depend on
    other articles); the models are shared by all of them.
    """

    def __init__(self, job: Job):
        from newsqa.core import NewsQA

        self.job = job
        self.options = {**job.options, "embedder": job.embedder}
        engine = NewsQA(**self.options)
        engine.embedder.model  # noqa: B018 -- load now: a model that cannot load ends the run
        engine.generator.model  # noqa: B018

    def __call__(self, item: Item) -> Item:
        """The article's output lines: ``{"source", "keys", "lines", "errors", "seconds"}``."""
        from newsqa.core import NewsQA
        from newsqa.library import NewArticle

        started = time.perf_counter()
        todo = item["todo"]
        article_id = None
        try:
            if item.get("error"):
                raise InputError(item["error"])
            article, sentences, chunks = pickle.loads(item["payload"])
            article_id = article.id
            qa = NewsQA(**self.options)
            vectors = qa.embedder.encode([chunk.text for chunk in chunks])
            qa.library.add([NewArticle(article, sentences, chunks, vectors, qa.embedder.name)])
            if self.job.questions:
                answers = qa.ask_many(todo, article=article_id)
                results = [{"answer": answer.to_dict()} for answer in answers]
            else:
                summary = qa.summarize(
                    article=article_id, max_words=self.job.words, strategy=self.job.strategy
                )
                results = [{"summary": summary.to_dict()}]
        except Exception as error:  # one bad article is an error line, never the end of the run
            results = [{"error": _describe(error)}] * len(todo)
        lines = []
        for question, result in zip(todo, results):
            line = {"source": item["source"], "article_id": article_id}
            if question is not None:
                line["question"] = question
            lines.append(json.dumps({**line, **result}, ensure_ascii=False))
        return {
            "source": item["source"],
            "keys": [(item["source"], question) for question in todo],
            "lines": lines,
            "errors": sum("error" in result for result in results),
            "seconds": time.perf_counter() - started,
        }


# -- the output file --------------------------------------------------------------------------


class Output:
    """The JSONL results file: each line keyed by (source, question), appended and fsynced.

    Opening it repairs a torn last line (a run killed mid-write) and loads the keys already
    done; :meth:`write` never writes a key twice.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self.done: set[Key] = set()
        if self.path.is_dir():
            raise InputError(f"--out {self.path} is a folder; give a file name")
        if self.path.exists():
            self._load()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise InputError(f"cannot write {self.path}: {error.strerror}") from None

    def _load(self) -> None:
        good = 0
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                key = _key(raw) if raw.endswith(b"\n") else None
                if key is None:
                    if handle.read(1):  # not the last line: this is no batch output
                        raise InputError(
                            f"{self.path} line {number} is not a batch result: give another --out"
                        )
                    break  # a torn or unreadable last line: written again below
                self.done.add(key)
                good += len(raw)
        if good < self.path.stat().st_size:
            with self.path.open("r+b") as handle:
                handle.truncate(good)
                os.fsync(handle.fileno())

    def write(self, keys: list[Key], lines: list[str]) -> int:
        """Append the lines whose keys are not done yet, durably; returns how many."""
        fresh = [(key, line) for key, line in zip(keys, lines) if key not in self.done]
        if not fresh:
            return 0
        data = "".join(line + "\n" for _, line in fresh).encode("utf-8")
        while data:
            data = data[os.write(self._fd, data) :]
        os.fsync(self._fd)
        self.done.update(key for key, _ in fresh)
        return len(fresh)

    def close(self) -> None:
        os.close(self._fd)


def _key(raw: bytes) -> Key | None:
    try:
        line = json.loads(raw)
        return (line["source"], line.get("question"))
    except (ValueError, KeyError, TypeError):
        return None


# -- running ----------------------------------------------------------------------------------


def _pending(items: Iterator[Item], job: Job, output: Output) -> Iterator[Item]:
    """The items with work left, each with ``todo``: the questions (or None) not done yet."""
    for item in items:
        todo = [q for q in job.keys_per_article if (item["source"], q) not in output.done]
        if todo:
            yield {**item, "todo": todo}


def _in_process(items: Iterator[Item], job: Job) -> Iterator[Item]:
    worker = Worker(job)
    for item in items:
        yield worker(read(item, job.embedder))


def run(
    job: Job,
    articles: Iterable[str],
    out: str | Path,
    ray: bool = False,
    address: str | None = None,
    num_gpus: float = 0.0,
    actors: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Run ``job`` over the articles into ``out`` (resuming it); see :func:`ask`."""
    specs = check_sources(articles)
    total = count(specs)
    if total == 0:
        raise InputError("no articles matched: " + " ".join(specs))
    if ray:
        from newsqa import batch_ray

        batch_ray.connect(address)
        workers = batch_ray.actor_count(num_gpus, actors)
    output = Output(out)
    done_per_source = Counter(s for s, q in output.done if q in job.keys_per_article)
    need = len(job.keys_per_article)
    report = Report(already_done=sum(1 for n in done_per_source.values() if n >= need))
    report.out = str(output.path)
    started = time.perf_counter()
    items = _pending(expand(specs), job, output)
    try:
        if ray:
            report.workers = workers
            results = batch_ray.stream(items, job.embedder, Worker, {"job": job}, num_gpus, workers)
        else:
            results = _in_process(items, job)
        if on_progress:
            on_progress(report.already_done, total)
        for result in results:
            written = output.write(result["keys"], result["lines"])
            report.busy_seconds += result["seconds"]
            if not written:  # a source named twice: written once
                continue
            report.lines += written
            report.errors += result["errors"]
            report.articles += 1
            if on_progress:
                on_progress(report.already_done + report.articles, total)
    finally:
        output.close()
    report.seconds = time.perf_counter() - started
    return report


def _questions(questions: Iterable[str]) -> tuple[str, ...]:
    from newsqa.answer import check_question

    if isinstance(questions, str):
        raise InputError("give the questions as a list")
    checked = tuple(check_question(q) for q in questions)
    if not checked:
        raise InputError("no questions given")
    if len(set(checked)) < len(checked):
        raise InputError("a question is given twice")
    return checked


def ask(
    questions: Iterable[str],
    articles: Iterable[str],
    out: str | Path,
    *,
    ray: bool = False,
    address: str | None = None,
    num_gpus: float = 0.0,
    actors: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    **options,
) -> Report:
    """Ask every question of every article into the JSONL file ``out``, one line each:
    ``{"source", "article_id", "question", "answer"}`` (``answer`` as ``ask --json`` prints it)
    or ``{..., "error"}`` for an article that cannot be read.

    ``articles``: files, folders, globs, URLs and JSONL archives (``.jsonl``, ``.jsonl.gz``).
    A run started again with the same ``out`` does only what is missing. ``ray=True`` runs on
    Ray (``address``: a cluster; None: ``$RAY_ADDRESS`` or a local Ray) with ``actors`` model
    actors of ``num_gpus`` GPUs each. ``options`` go to ``NewsQA`` (device, model, precision,
    top_k, min_confidence, strict). ``on_progress(done, total)`` is called per article.
    """
    job = Job(questions=_questions(questions), options=options)
    return run(job, articles, out, ray, address, num_gpus, actors, on_progress)


def summarize(
    articles: Iterable[str],
    out: str | Path,
    *,
    words: int = 80,
    strategy: str = "compress",
    ray: bool = False,
    address: str | None = None,
    num_gpus: float = 0.0,
    actors: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    **options,
) -> Report:
    """Summarize every article into ``out``, one line each: ``{"source", "article_id",
    "summary"}`` (``summary`` as ``summarize --json`` prints it) or ``{..., "error"}``. The rest
    as :func:`ask`."""
    from newsqa.summaries import STRATEGIES

    if strategy not in STRATEGIES:
        raise InputError(f"unknown summary strategy {strategy!r}: choose {', '.join(STRATEGIES)}")
    job = Job(options=options, words=words, strategy=strategy)
    return run(job, articles, out, ray, address, num_gpus, actors, on_progress)


# -- newsqa add --ray -------------------------------------------------------------------------


class Embedding:
    """The embedding step of ``add``: a read article becomes a pickled ``NewArticle``."""

    def __init__(self, embedder: str, device: str):
        from newsqa.embed import Embedder

        self.embedder = Embedder(embedder, device=device)
        self.embedder.model  # noqa: B018 -- load once, now

    def __call__(self, item: Item) -> Item:
        from newsqa.library import NewArticle

        started = time.perf_counter()
        if not item.get("error"):
            try:
                article, sentences, chunks = pickle.loads(item.pop("payload"))
                vectors = self.embedder.encode([chunk.text for chunk in chunks])
                new = NewArticle(article, sentences, chunks, vectors, self.embedder.name)
                item["payload"] = pickle.dumps(new)
            except Exception as error:  # one bad article is reported, never the end of the run
                item["error"] = _describe(error)
        item["seconds"] = time.perf_counter() - started
        return item


def add_many(
    qa,
    sources: list[str],
    *,
    address: str | None = None,
    num_gpus: float = 0.0,
    actors: int | None = None,
    batch_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
    published: str | date | None = None,
) -> list:
    """``NewsQA.add_many`` on Ray: sources are read, cleaned, chunked and embedded in parallel;
    this process stays the library's one writer and commits in batches (crash-safe as ever).
    ``published``: the publication date of every source, as for ``NewsQA.add``.
    Returns one ``AddResult`` per source, in order."""
    from newsqa import batch_ray, dates
    from newsqa.core import AddResult

    given = dates.parse_date(published, "published") if published is not None else None

    if "-" in sources:
        raise InputError("add --ray reads files, folders and URLs: add stdin ('-') without --ray")
    batch_ray.connect(address)
    workers = batch_ray.actor_count(num_gpus, actors)
    device = "cuda" if num_gpus > 0 else "cpu"
    items = ({**_located(source), "index": number} for number, source in enumerate(sources))
    stream = batch_ray.stream(
        items,
        qa.embedder.name,
        Embedding,
        {"embedder": qa.embedder.name, "device": device},
        num_gpus,
        workers,
    )
    results: list[AddResult | None] = [None] * len(sources)
    pending: dict[str, tuple[int, Any]] = {}

    def commit() -> None:
        batch = list(pending.values())
        stored = qa.library.add([new for _, new in batch])
        for (number, new), fresh in zip(batch, stored):
            status = "added" if fresh else "duplicate"
            results[number] = AddResult(sources[number], new.article.id, status)
        pending.clear()

    for finished, item in enumerate(stream, 1):
        number = item["index"]
        if item.get("error"):
            results[number] = AddResult(sources[number], None, "error", item["error"])
        else:
            new = pickle.loads(item["payload"])
            if given is not None:
                new = replace(new, article=replace(new.article, published=given))
            if new.article.id in pending or new.article.id in qa.library:
                results[number] = AddResult(sources[number], new.article.id, "duplicate")
            else:
                pending[new.article.id] = (number, new)
                if len(pending) >= batch_size:
                    commit()
        if on_progress:
            on_progress(finished)
    commit()
    return [r for r in results if r is not None]


__all__ = ["Job", "Output", "Report", "Worker", "add_many", "ask", "expand", "read", "summarize"]
