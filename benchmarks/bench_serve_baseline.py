"""`newsqa serve` questions per second: this code against baseline checkouts, in one run.

Each code's server runs as a subprocess (``PYTHONPATH`` and working folder set to its checkout,
its own model files: ``common.checkout_env``) on a free loopback port, over its own temporary
library holding the seed article, with the default settings on the CPU. CLIENTS concurrent
clients ask QUESTIONS questions each (``bench_serve.load``); rounds alternate the codes so that
all see the same machine.

    git worktree add /tmp/before <commit before the change>
    python benchmarks/bench_serve_baseline.py --baseline /tmp/before --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import QUESTIONS, SEED  # noqa: E402
from bench_serve import load, start_server, stop_server  # noqa: E402
from common import ROOT, checkout_env, print_table, write_result  # noqa: E402


def throughput(
    checkout: Path, env: dict, library: Path, clients: int, questions: list[str]
) -> dict:
    """One timed load on a fresh server of ``checkout``'s code, run with ``env``
    (``common.checkout_env``), after a warm-up pass."""
    process, client = start_server(library, env, 5.0, cwd=checkout)
    try:
        article = client.request("POST", "/articles", {"text": SEED.read_text()})["id"]
        return load(client, article, clients, questions)
    finally:
        stop_server(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline", type=Path, nargs="+", required=True, help="checkouts of older code"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--questions", type=int, default=25, help="questions per client")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--name", default="bench_serve_baseline", help="results file name (one per CPU)"
    )
    args = parser.parse_args()
    questions = (QUESTIONS * (args.questions // len(QUESTIONS) + 1))[: args.questions]
    codes = {str(path): path.resolve() for path in args.baseline} | {"this code": ROOT}
    envs = {name: checkout_env(checkout) for name, checkout in codes.items()}
    runs: dict[str, list[dict]] = {name: [] for name in codes}
    with tempfile.TemporaryDirectory() as folder:
        for number in range(args.rounds):
            for index, (name, checkout) in enumerate(codes.items()):
                library = Path(folder, f"library-{number}-{index}")
                runs[name].append(
                    throughput(checkout, envs[name], library, args.clients, questions)
                )
                rate = runs[name][-1]["questions_per_second"]
                print(f"round {number + 1}: {name} {rate:.3f} questions/s", flush=True)
    medians = {
        name: statistics.median(r["questions_per_second"] for r in found)
        for name, found in runs.items()
    }
    ratios = {name: medians["this code"] / medians[name] for name in codes if name != "this code"}
    print_table(
        f"server, {args.clients} clients x {args.questions} questions, default settings",
        ["code", "questions/s (median)", "rounds", "p50 ms (median)", "this code / it"],
        [
            [
                name,
                f"{medians[name]:.3f}",
                ", ".join(f"{r['questions_per_second']:.3f}" for r in runs[name]),
                statistics.median(r["latency_p50_ms"] for r in runs[name]),
                f"{ratios[name]:.2f}x" if name in ratios else "",
            ]
            for name in codes
        ],
    )
    path = write_result(
        args.name,
        {
            "clients": args.clients,
            "questions_per_client": args.questions,
            "rounds": runs,
            "questions_per_s": medians,
            "this_code_vs": {name: round(ratio, 3) for name, ratio in ratios.items()},
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
