"""Warm ``ask`` on the seed article: this code against baseline checkouts, in one run.

Each code runs in its own process (``PYTHONPATH`` set to its checkout): it loads the default
model (fp32, CPU), adds the seed article, warms up on 4 questions, then asks the 32 seed
questions of ``bench_inference.py`` one at a time, ``--repeats`` times, and reports the p50 of
each pass and its answers. Rounds alternate the codes so that all see the same machine; the
answers (text, and confidence within 0.001) of every code are compared with this code's.

    git worktree add /tmp/before <commit before the change>
    python benchmarks/bench_warm_ask.py --baseline /tmp/before --rounds 2

Run it alone on an idle machine: 2 shared cores make every figure wrong otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import QUESTIONS, SEED  # noqa: E402
from common import ROOT, checkout_env, print_table, write_result  # noqa: E402

TOLERANCE = 1e-3

# Run inside each checkout's process: warm up, then the timed passes; prints p50s and answers.
_RUN = """
import json, statistics, sys, time
from newsqa import NewsQA
questions, seed, repeats = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
engine = NewsQA(device="cpu", precision="fp32")
engine.add(seed)
engine.ask_many(questions[:4])
p50s, answers = [], []
for number in range(repeats):
    seconds = []
    for question in questions:
        started = time.perf_counter()
        answer = engine.ask(question)
        seconds.append(time.perf_counter() - started)
        if not number:
            answers.append([answer.text, answer.confidence])
    p50s.append(1000 * statistics.median(seconds))
print(json.dumps({"p50_ms": p50s, "answers": answers}))
"""


def passes(checkout: Path, env: dict, repeats: int) -> dict:
    """The p50 (ms) of each pass over the seed questions and the first pass's answers, by the
    code in ``checkout`` (run with ``env``: ``common.checkout_env``)."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(QUESTIONS), str(SEED), str(repeats)],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def differing(expected: list, got: list) -> int:
    """How many answers differ in text or by more than ``TOLERANCE`` in confidence."""
    return sum(
        a[0] != b[0] or abs(a[1] - b[1]) > TOLERANCE for a, b in zip(expected, got, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--baseline", type=Path, nargs="+", required=True, help="checkouts of older code"
    )
    parser.add_argument("--rounds", type=int, default=2, help="processes per code, alternating")
    parser.add_argument("--repeats", type=int, default=3, help="passes of the 32 questions")
    parser.add_argument("--name", default="bench_warm_ask", help="results file name (one per CPU)")
    args = parser.parse_args()
    codes = {str(path): path.resolve() for path in args.baseline} | {"this code": ROOT}
    envs = {name: checkout_env(checkout) for name, checkout in codes.items()}
    p50s: dict[str, list[float]] = {name: [] for name in codes}
    answers: dict[str, list] = {}
    for number in range(args.rounds):
        for name, checkout in codes.items():
            found = passes(checkout, envs[name], args.repeats)
            p50s[name] += [round(p, 1) for p in found["p50_ms"]]
            answers.setdefault(name, found["answers"])
            print(f"round {number + 1}: {name} p50 {found['p50_ms']} ms", flush=True)
    medians = {name: statistics.median(found) for name, found in p50s.items()}
    ratios = {name: medians[name] / medians["this code"] for name in codes if name != "this code"}
    differ = {name: differing(answers[name], answers["this code"]) for name in ratios}
    print_table(
        "warm ask on the seed article, 32 questions, fp32, CPU",
        ["code", "p50 ms (median of passes)", "passes", "it / this code", "answers differ"],
        [
            [
                name,
                f"{medians[name]:.1f}",
                ", ".join(f"{p:.0f}" for p in p50s[name]),
                f"{ratios[name]:.2f}x" if name in ratios else "",
                str(differ.get(name, "")),
            ]
            for name in codes
        ],
    )
    write_result(
        args.name,
        {
            "questions": len(QUESTIONS),
            "p50_ms_of_each_pass": p50s,
            "p50_ms": medians,
            "baseline_over_this_code": {name: round(r, 3) for name, r in ratios.items()},
            "answers_that_differ": differ,
        },
    )


if __name__ == "__main__":
    main()
