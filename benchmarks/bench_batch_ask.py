"""``batch ask`` articles per second: this code against a baseline checkout, in one run.

Each code runs in its own process (``PYTHONPATH`` set to its checkout), warms up on two
articles, then answers the same public CNN/DM articles (``summ-dev-public``, 3 questions each)
in-process, the default settings on the CPU; rounds alternate the baselines and this code so that
both see the same machine. The rate counts the run's wall time with the models already loaded.

    git worktree add /tmp/before <commit before the change>
    python benchmarks/bench_batch_ask.py --baseline /tmp/before --articles 12 --rounds 3

Several ``--baseline`` checkouts may be given; each gets its ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED_DATA, checkout_env, print_table, write_result  # noqa: E402

QUESTIONS = ["who is this about?", "how many people were involved?", "where did it happen?"]

# Run inside each checkout's process: warm up, then one timed batch ask; prints articles/s.
_RUN = """
import json, sys, time
from newsqa import batch
questions, warm, archive, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
batch.ask(questions, [warm], out + ".warm", device="cpu")
started = time.perf_counter()
report = batch.ask(questions, [archive], out, device="cpu")
print(json.dumps({"articles": report.articles, "seconds": time.perf_counter() - started}))
"""


def write_archive(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps({"text": r["article"]}) + "\n" for r in rows))


def rate(checkout: Path, env: dict, warm: Path, archive: Path, out: Path) -> float:
    """Articles per second of one timed ``batch ask`` by the code in ``checkout`` (run with
    ``env``: ``common.checkout_env``)."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(QUESTIONS), str(warm), str(archive), str(out)],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found["articles"] / found["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--baseline", type=Path, nargs="+", required=True, help="checkouts of older code"
    )
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--name", default="bench_batch_ask", help="results file name (one per CPU)")
    args = parser.parse_args()
    rows = [json.loads(line) for line in (SHARED_DATA / "summ-dev-public.jsonl").open()]
    cnndm = [r for r in rows if r["source"] == "cnndm"]
    codes = {str(path): path.resolve() for path in args.baseline} | {"this code": ROOT}
    envs = {name: checkout_env(checkout) for name, checkout in codes.items()}
    rates: dict[str, list[float]] = {name: [] for name in codes}
    with tempfile.TemporaryDirectory() as folder:
        warm, archive = Path(folder, "warm.jsonl"), Path(folder, "articles.jsonl")
        write_archive(warm, cnndm[-2:])
        write_archive(archive, cnndm[: args.articles])
        for number in range(args.rounds):
            for index, (name, checkout) in enumerate(codes.items()):
                out = Path(folder, f"{number}-{index}.jsonl")
                rates[name].append(rate(checkout, envs[name], warm, archive, out))
                print(f"round {number + 1}: {name} {rates[name][-1]:.3f} articles/s", flush=True)
    medians = {name: statistics.median(found) for name, found in rates.items()}
    ratios = {name: medians["this code"] / medians[name] for name in codes if name != "this code"}
    print_table(
        "batch ask, in-process, default settings",
        ["code", "articles/s (median)", "rounds", "this code / it"],
        [
            [
                name,
                f"{medians[name]:.3f}",
                ", ".join(f"{r:.3f}" for r in rates[name]),
                f"{ratios[name]:.2f}x" if name in ratios else "",
            ]
            for name in codes
        ],
    )
    write_result(
        args.name,
        {
            "articles": args.articles,
            "questions": QUESTIONS,
            "rounds": rates,
            "articles_per_s": medians,
            "this_code_vs": {name: round(ratio, 3) for name, ratio in ratios.items()},
        },
    )


if __name__ == "__main__":
    main()
