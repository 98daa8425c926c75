"""Fast decoding vs the reference (transformers' ``generate``), both measured in the same run:

- warm ``ask`` on the seed article, p50 of each round asked of the fast path alone; then p50/p95
  with each question asked of both paths in turn (and of the fast path with a decoder pass per
  step, to show what reading forced paths ahead saves);
- where the time of one ``ask`` goes (encoder, decoding, no-answer score, retrieval, the rest);
- ``ask_many`` of 32 questions; ``batch ask`` over public CNN/DM articles (articles/s);
- ``newsqa serve`` at 8 concurrent clients (questions/s), one server per path;
- newsqa-mini, and newsqa-base when its encoder is installed; answers compared as we go.

Run it alone on an idle machine (2 shared cores make every figure wrong otherwise):

    python benchmarks/bench_decoding.py                      # everything (~10 min on 2 cores)
    python benchmarks/bench_decoding.py --skip-serve --articles 4 --repeats 5   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import QUESTIONS, SEED  # noqa: E402
from common import SHARED_DATA, print_table, write_result  # noqa: E402

from newsqa import NewsQA, batch, fast_decoding  # noqa: E402
from newsqa.fast_decoding import FastDecoding  # noqa: E402
from newsqa.generate import BASE_MODEL, BUNDLED_MODEL  # noqa: E402
from newsqa.models_install import BASE, installed_path  # noqa: E402

PATHS = ("reference", "fast")
PASS_PER_STEP = "fast, a decoder pass per step"
BATCH_QUESTIONS = ["who is this about?", "how many people were involved?", "where did it happen?"]


def engine(model: str, path: str) -> NewsQA:
    qa = NewsQA(model=model, device="cpu", precision="fp32")
    qa.generator.fast = path == "fast"
    qa.add(str(SEED))
    qa.ask_many(QUESTIONS[:4])  # warm: the model loaded, the first calls made
    return qa


def percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
    }


def _timer(seconds: dict[str, float], label: str, function):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        result = function(*args, **kwargs)
        seconds[label] += time.perf_counter() - started
        return result

    return timed


def step_timers(qa: NewsQA, seconds: dict[str, float]) -> ExitStack:
    """Wrap the functions that do the steps of ``ask`` with timers, until the stack closes."""
    generator = qa.generator
    steps = [
        (qa, "retrieve_many", "retrieval"),
        (generator, "_encode", "encoder"),
        (generator.model, "generate", "decoding"),
        (fast_decoding, "beam_search", "decoding (with the no-answer score)"),
        (generator, "_target_logprobs", "no-answer score"),
        (generator, "_fast_decoding", "decoder set-up"),
    ]
    stack = ExitStack()
    for owner, name, label in steps:
        stack.enter_context(patch.object(owner, name, _timer(seconds, label, getattr(owner, name))))
    for name, label in (("generate", "decoding"), ("target_logprobs", "no-answer score")):
        function = getattr(FastDecoding, name)
        stack.enter_context(patch.object(FastDecoding, name, _timer(seconds, label, function)))
    return stack


def warm_asks(engines: dict[str, NewsQA], repeats: int) -> tuple[dict, int]:
    """Each question asked of both paths in turn, and of the fast path with a decoder pass per
    step (no read-ahead), ``repeats`` rounds; answers compared."""
    seconds: dict[str, list[float]] = {path: [] for path in (*PATHS, PASS_PER_STEP)}
    differ = 0
    for _ in range(repeats):
        for question in QUESTIONS:
            got = {}
            for path in (*PATHS, PASS_PER_STEP):
                engine = engines["fast" if path == PASS_PER_STEP else path]
                rows = 0 if path == PASS_PER_STEP else fast_decoding.AHEAD_ROWS
                with patch.object(fast_decoding, "AHEAD_ROWS", rows):
                    started = time.perf_counter()
                    got[path] = engine.ask(question)
                    seconds[path].append(time.perf_counter() - started)
            differ += any(
                got[path].text != got["reference"].text
                or abs(got[path].confidence - got["reference"].confidence) > 1e-3
                for path in ("fast", PASS_PER_STEP)
            )
    return {path: percentiles(times) for path, times in seconds.items()}, differ


def alone(qa: NewsQA, rounds: int) -> list[float]:
    """Warm ``ask`` p50 (ms) of each round of the 32 seed questions asked of one engine alone
    (in ``warm_asks`` the paths take turns, and each evicts the other's weights from the CPU's
    caches)."""
    found = []
    for _ in range(rounds):
        seconds = []
        for question in QUESTIONS:
            started = time.perf_counter()
            qa.ask(question)
            seconds.append(time.perf_counter() - started)
        found.append(percentiles(seconds)["p50_ms"])
    return found


def ask_shares(qa: NewsQA) -> dict[str, float]:
    """Mean milliseconds per ``ask`` of each step, over the 32 questions."""
    seconds: dict[str, float] = defaultdict(float)
    total = 0.0
    with step_timers(qa, seconds):
        for question in QUESTIONS:
            started = time.perf_counter()
            qa.ask(question)
            total += time.perf_counter() - started
    steps = {label: 1000 * value / len(QUESTIONS) for label, value in seconds.items() if value}
    steps["everything else"] = 1000 * total / len(QUESTIONS) - sum(steps.values())
    steps["total"] = 1000 * total / len(QUESTIONS)
    return {label: round(value, 1) for label, value in steps.items()}


def batch_articles(count: int, folder: Path) -> Path:
    rows = [json.loads(line) for line in (SHARED_DATA / "summ-dev-public.jsonl").open()]
    chosen = [r for r in rows if r["source"] == "cnndm"][:count]
    archive = folder / "articles.jsonl"
    archive.write_text("".join(json.dumps({"text": r["article"]}) + "\n" for r in chosen))
    return archive


def batch_rate(model: str, path: str, archive: Path, folder: Path) -> float:
    """Articles per second of an in-process ``batch ask`` (3 questions each)."""
    os.environ["NEWSQA_DECODING"] = path
    try:
        out = folder / f"{model}-{path}.jsonl"
        report = batch.ask(BATCH_QUESTIONS, [str(archive)], out, model=model, device="cpu")
        return report.articles / report.seconds
    finally:
        os.environ.pop("NEWSQA_DECODING", None)


def serve_rates(clients: int, questions: int) -> dict[str, dict]:
    """`newsqa serve` (newsqa-mini) at ``clients`` concurrent clients, one server per path."""
    from bench_serve import load, start_server, stop_server

    asked = (QUESTIONS * (questions // len(QUESTIONS) + 1))[:questions]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSQA_")}
    found = {}
    for path in PATHS:
        env = base_env | {"HF_HUB_OFFLINE": "1", "NEWSQA_DECODING": path}
        with tempfile.TemporaryDirectory() as folder:
            process, client = start_server(Path(folder) / "library", env, 5.0)
            try:
                article = client.request("POST", "/articles", {"text": SEED.read_text()})["id"]
                found[path] = load(client, article, clients, asked)
            finally:
                stop_server(process)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the 32 seed questions")
    parser.add_argument("--articles", type=int, default=12, help="articles for batch ask")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--questions", type=int, default=12, help="questions per client")
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument(
        "--name", default="bench_decoding", help="results file, benchmarks/results/NAME.json"
    )
    args = parser.parse_args()
    models = [BUNDLED_MODEL] + ([BASE_MODEL] if installed_path(BASE) else [])
    results: dict = {}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        archive = batch_articles(args.articles, Path(folder))
        for model in models:
            engines = {path: engine(model, path) for path in PATHS}
            alone_p50 = alone(engines["fast"], args.repeats if model == BUNDLED_MODEL else 1)
            asks, differ = warm_asks(engines, args.repeats if model == BUNDLED_MODEL else 1)
            shares = {path: ask_shares(engines[path]) for path in PATHS}
            many = {}
            for path in PATHS:
                started = time.perf_counter()
                engines[path].ask_many(QUESTIONS)
                many[path] = time.perf_counter() - started
            del engines
            rates = {path: batch_rate(model, path, archive, Path(folder)) for path in PATHS}
            results[model] = {
                "warm_ask": asks,
                "warm_ask_p50_ms_fast_alone": alone_p50,
                "answers_that_differ": differ,
                "ask_shares_ms": shares,
                "ask_many_32_s": {p: round(many[p], 3) for p in PATHS},
                "batch_ask_articles_per_s": {p: round(rates[p], 3) for p in PATHS},
            }
            ref, fast = asks["reference"], asks["fast"]
            rows += [
                [
                    f"{model}: warm ask p50 (ms)",
                    fast["p50_ms"],
                    ref["p50_ms"],
                    f"{ref['p50_ms'] / fast['p50_ms']:.2f}x",
                ],
                [f"{model}: warm ask p95 (ms)", fast["p95_ms"], ref["p95_ms"], ""],
                [
                    f"{model}: warm ask p50 of each round, fast path alone (ms)",
                    " / ".join(f"{value:.0f}" for value in alone_p50),
                    "",
                    "",
                ],
                [
                    f"{model}: warm ask p50, fast path without read-ahead (ms)",
                    asks[PASS_PER_STEP]["p50_ms"],
                    ref["p50_ms"],
                    f"{ref['p50_ms'] / asks[PASS_PER_STEP]['p50_ms']:.2f}x",
                ],
                [
                    f"{model}: ask_many(32) (s)",
                    round(many["fast"], 2),
                    round(many["reference"], 2),
                    f"{many['reference'] / many['fast']:.2f}x",
                ],
                [
                    f"{model}: batch ask, {args.articles} articles x 3 (articles/s)",
                    round(rates["fast"], 2),
                    round(rates["reference"], 2),
                    f"{rates['fast'] / rates['reference']:.2f}x",
                ],
                [f"{model}: answers that differ", differ, "", ""],
            ]
            for label in shares["reference"]:
                rows.append(
                    [
                        f"  {model} ask step: {label} (ms)",
                        shares["fast"].get(label, ""),
                        shares["reference"][label],
                        "",
                    ]
                )
            for label in set(shares["fast"]) - set(shares["reference"]):
                rows.append([f"  {model} ask step: {label} (ms)", shares["fast"][label], "", ""])
    if not args.skip_serve:
        served = serve_rates(args.clients, args.questions)
        results["serve"] = {"clients": args.clients, **served}
        ref, fast = served["reference"], served["fast"]
        rows.append(
            [
                f"serve, {args.clients} clients (questions/s)",
                fast["questions_per_second"],
                ref["questions_per_second"],
                f"{fast['questions_per_second'] / ref['questions_per_second']:.2f}x",
            ]
        )
    print_table(
        "Fast decoding vs transformers' generate (fp32, CPU), same run",
        ["measure", "fast", "reference", "ratio"],
        rows,
    )
    print(f"\nwrote {write_result(args.name, {'results': results})}")


if __name__ == "__main__":
    main()
