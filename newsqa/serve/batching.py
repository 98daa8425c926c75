"""One worker thread runs every model call of the server, gathering concurrent questions.

Questions that arrive within ``window`` seconds of each other, and that go to the same engine,
article, ``top_k``, confidence bar and date range (``since``/``until``), are answered by one
``ask_many`` call: one generator batch for many clients. ``ask_many`` keeps the int8 rule (a
question's passages share batches only with each other), so a question gets the same answer
asked alone or among others. Every other call (summaries, adds, removals) runs on the same
thread, one at a time, so the models and the library are never used by two threads at once.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from newsqa.results import Answer

MAX_BATCH_QUESTIONS = 64
"""The most questions one gathered ``ask_many`` takes (memory stays bounded)."""
_NOTHING = object()


@dataclass
class _Job:
    """A call for the worker: ``questions`` set for an ask, else ``call`` is run as it is."""

    future: Future
    call: Callable[[], Any] | None = None
    engine: Any = None
    questions: list[str] = field(default_factory=list)
    article: str | None = None
    top_k: int | None = None
    since: str | None = None
    until: str | None = None

    @property
    def key(self) -> Hashable:
        """Questions with the same key can share one ``ask_many``."""
        return id(self.engine), self.article, self.top_k, self.since, self.until


class Batcher:
    """Runs calls on one worker thread; with ``window`` > 0, gathers questions into batches.

    ``window=0`` answers one request at a time (the baseline the benchmark compares with).
    """

    def __init__(self, window: float = 0.005, max_questions: int = MAX_BATCH_QUESTIONS):
        self.window = window
        self.max_questions = max_questions
        self.batches: deque[int] = deque(maxlen=10_000)  # requests per recent ask_many call
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="newsqa-batcher", daemon=True)
        self._worker.start()

    async def ask(
        self,
        engine,
        questions: list[str],
        article: str | None,
        top_k: int | None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Answer]:
        """``engine.ask_many(questions, article, top_k, since=, until=)``, batched with
        concurrent requests."""
        job = _Job(
            Future(),
            engine=engine,
            questions=questions,
            article=article,
            top_k=top_k,
            since=since,
            until=until,
        )
        self._jobs.put(job)
        return await asyncio.wrap_future(job.future)

    async def run(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` on the worker thread, after the calls queued before it."""
        return await asyncio.wrap_future(self.submit(call))

    def submit(self, call: Callable[[], Any]) -> Future:
        """Queue ``call`` for the worker thread; its result comes in the returned future."""
        job = _Job(Future(), call=call)
        self._jobs.put(job)
        return job.future

    def close(self) -> None:
        """Finish the queued calls, then stop the worker."""
        self._jobs.put(None)
        self._worker.join()

    def _work(self) -> None:
        job = self._jobs.get()
        while job is not None:
            if job.call is not None:
                _settle(job.future, job.call)
                job = self._jobs.get()
                continue
            asks, job = self._gather(job)
            self._answer(asks)
            if job is _NOTHING:
                job = self._jobs.get()

    def _gather(self, first: _Job) -> tuple[list[_Job], _Job | None | object]:
        """``first`` and the asks that arrive within the window, and what ended the wait early:
        a plain call or the stop (run after the batch, in the order queued), else ``_NOTHING``."""
        asks, count = [first], len(first.questions)
        deadline = time.monotonic() + self.window
        while self.window > 0 and count < self.max_questions:
            try:
                job = self._jobs.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None or job.call is not None:
                return asks, job
            asks.append(job)
            count += len(job.questions)
        return asks, _NOTHING

    def _answer(self, jobs: list[_Job]) -> None:
        """One ``ask_many`` per key; a failed batch is retried job by job, so one request's
        error (say, an unknown article) is never another's."""
        groups: dict[Hashable, list[_Job]] = {}
        for job in jobs:
            groups.setdefault(job.key, []).append(job)
        for group in groups.values():
            self.batches.append(len(group))
            first = group[0]
            questions = [q for job in group for q in job.questions]
            try:
                answers = _ask(first, questions)
            except Exception as error:
                if len(group) == 1:
                    first.future.set_exception(error)
                    continue
                for job in group:
                    _settle(job.future, lambda j=job: _ask(j))
                continue
            start = 0
            for job in group:
                job.future.set_result(answers[start : start + len(job.questions)])
                start += len(job.questions)


def _ask(job: _Job, questions: list[str] | None = None) -> list[Answer]:
    """``job``'s ask (or ``questions`` with its engine, article, top_k and date range)."""
    return job.engine.ask_many(
        job.questions if questions is None else questions,
        article=job.article,
        top_k=job.top_k,
        since=job.since,
        until=job.until,
    )


def _settle(future: Future, call: Callable[[], Any]) -> None:
    try:
        future.set_result(call())
    except Exception as error:
        future.set_exception(error)
