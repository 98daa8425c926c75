"""``newsqa.batch`` on Ray Data: reading and cleaning in parallel tasks, the models in a pool of
actors (each loads its models once), results streamed back to this process as they come.

Ray is optional (``pip install 'newsqa[ray]'``). Ray Data restarts a dead actor and retries its
task; this process stays the only writer, so what it writes is exactly once either way.
Sources stream in windows of ``WINDOW`` articles: one Ray Dataset each, so memory stays bounded
at any input size.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
from collections.abc import Iterator
from typing import Any

from newsqa.errors import UserError

WINDOW = 2000
"""Articles per Ray Dataset: the most this process holds in flight at once."""
READERS_PER_ACTOR = 0.25
"""Reading and cleaning is ~a tenth of an article's work: one reading task per four actors."""


def connect(address: str | None = None) -> None:
    """Join the Ray cluster at ``address`` (None: ``$RAY_ADDRESS``, a Ray already running on
    this machine, else a new local one); nothing to do when this process is already in one."""
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs Ray: pip install 'newsqa[ray]'") from None
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # Ray's logs stay in its log files
    try:
        ray.init(address=address or None, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as error:
        where = address or "$RAY_ADDRESS or this machine"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"cannot start or join Ray ({where}): {first}") from None


def actor_count(num_gpus: float = 0.0, actors: int | None = None) -> int:
    """``actors``, else one actor per CPU of the cluster, or per ``num_gpus`` of its GPUs."""
    import ray

    if actors is not None:
        if actors < 1:
            raise UserError("--actors must be at least 1")
        return actors
    resources = ray.cluster_resources()
    if num_gpus > 0:
        fitting = int(resources.get("GPU", 0) / num_gpus)
        if fitting < 1:
            raise UserError(
                f"the Ray cluster has {resources.get('GPU', 0):g} GPUs, fewer than "
                f"--num-gpus {num_gpus:g}: lower it, or give --actors for a cluster that scales"
            )
        return fitting
    return max(1, int(resources.get("CPU", 1)))


class ModelActor:
    """One actor of the pool: builds its worker (models loaded once) and runs it on each row.

    A worker that cannot be built for a user's reason (a model that cannot load, no such
    device) answers every row with ``{"fatal": message}``: the driver stops with that one line,
    where a dead actor would be restarted in a loop and print its traceback.
    """

    def __init__(self, worker: type, kwargs: dict[str, Any]):
        self.failure = None
        try:
            self.worker = worker(**kwargs)
        except UserError as error:
            self.failure = str(error)

    def __call__(self, row: dict[str, bytes]) -> dict[str, bytes]:
        if self.failure is not None:
            return {"item": pickle.dumps({"fatal": self.failure})}
        return {"item": pickle.dumps(self.worker(pickle.loads(row["item"])))}


def _read_row(row: dict[str, bytes], embedder: str) -> dict[str, bytes]:
    from newsqa.batch import read

    return {"item": pickle.dumps(read(pickle.loads(row["item"]), embedder))}


def _quiet_ray_data() -> None:
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)  # its errors come back raised


def stream(
    items: Iterator[dict],
    embedder: str,
    worker: type,
    worker_kwargs: dict[str, Any],
    num_gpus: float,
    actors: int,
    window: int = WINDOW,
) -> Iterator[dict]:
    """``worker(read(item))`` for every item, as results come: reading in parallel tasks,
    ``worker`` in ``actors`` actors of ``num_gpus`` GPUs (and one CPU) each."""
    import ray.data

    _quiet_ray_data()
    readers = max(1, round(actors * READERS_PER_ACTOR))
    while chunk := list(itertools.islice(items, window)):
        rows = [{"item": pickle.dumps(item)} for item in chunk]
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
        dataset = dataset.map(
            _read_row,
            fn_kwargs={"embedder": embedder},
            compute=ray.data.TaskPoolStrategy(size=readers),
            num_cpus=0,  # light work beside the actors, which hold the CPUs
        )
        dataset = dataset.map(
            ModelActor,
            fn_constructor_kwargs={"worker": worker, "kwargs": worker_kwargs},
            compute=ray.data.ActorPoolStrategy(size=min(actors, len(rows))),
            num_cpus=1,
            num_gpus=num_gpus,
        )
        for row in dataset.iter_rows():
            result = pickle.loads(row["item"])
            if "fatal" in result:
                raise UserError(result["fatal"])
            yield result
