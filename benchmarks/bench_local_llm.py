"""Local chat models against newsqa-mini, measured in the same run: load time, and warm ``ask``
on the seed article (p50/p95 over the 32 seed questions, the models asked in turn, question by
question), with how often each answers.

Run it alone on an idle machine (2 shared cores make every figure wrong otherwise):

    python benchmarks/bench_local_llm.py                       # every installed chat model
    python benchmarks/bench_local_llm.py --models smollm2 --repeats 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import QUESTIONS, SEED  # noqa: E402
from common import print_table, write_result  # noqa: E402

from newsqa import NewsQA  # noqa: E402
from newsqa.models_install import LANGUAGE_MODELS, installed_path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    installed = [n for n, spec in LANGUAGE_MODELS.items() if installed_path(spec)]
    parser.add_argument("--models", nargs="+", default=installed, help="chat models to time")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of the 32 seed questions")
    args = parser.parse_args()

    names = ["newsqa-mini", *args.models]
    readers, loads = {}, {}
    text = SEED.read_text(encoding="utf-8")
    for name in names:
        started = time.perf_counter()
        qa = NewsQA(model=name, device="cpu")
        qa.add_text(text)
        qa.ask(QUESTIONS[0])  # loads the model and warms it
        loads[name] = time.perf_counter() - started
        readers[name] = qa
    times: dict[str, list[float]] = {name: [] for name in names}
    answered: dict[str, int] = dict.fromkeys(names, 0)
    for _ in range(args.repeats):
        for question in QUESTIONS:
            for name in names:
                started = time.perf_counter()
                answer = readers[name].ask(question)
                times[name].append(time.perf_counter() - started)
                answered[name] += answer.answerable
    rows, results = [], {}
    baseline = statistics.median(times["newsqa-mini"])
    for name in names:
        p50 = statistics.median(times[name])
        p95 = sorted(times[name])[int(0.95 * (len(times[name]) - 1))]
        share = 100 * answered[name] / len(times[name])
        rows.append([name, loads[name], 1000 * p50, 1000 * p95, p50 / baseline, share])
        results[name] = {
            "load_and_first_ask_s": round(loads[name], 2),
            "warm_ask_p50_ms": round(1000 * p50, 1),
            "warm_ask_p95_ms": round(1000 * p95, 1),
            "p50_vs_newsqa_mini": round(p50 / baseline, 2),
            "answered_percent": round(share, 1),
            "calibrated": readers[name].calibrator.calibrated,
        }
    print_table(
        f"Warm ask on the seed article ({len(QUESTIONS)} questions x {args.repeats})",
        ["model", "load + first ask s", "p50 ms", "p95 ms", "p50 / newsqa-mini", "answered %"],
        rows,
    )
    print(f"\nwrote {write_result('bench_local_llm', {'repeats': args.repeats, **results})}")


if __name__ == "__main__":
    main()
