"""`newsqa serve`, each figure against a baseline measured in the same run (medians):

- CLI ``newsqa ask`` through a running server vs. a cold in-process CLI ``ask`` (goal >= 10x);
- server throughput and p50/p95 latency, CLIENTS concurrent clients x QUESTIONS questions each:
  questions gathered into batches (``--batch-ms``) vs. one request at a time (``--batch-ms 0``).

Servers run as subprocesses on a free loopback port, over a temporary library holding the seed
article; nothing leaves the machine.

    python benchmarks/bench_serve.py                            # 8 clients x 25 questions
    python benchmarks/bench_serve.py --clients 2 --questions 3 --repeats 1   # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import QUESTIONS, SEED  # noqa: E402
from common import add_precision_option, print_table, write_result  # noqa: E402

from newsqa.client import SERVER_FILE, Client  # noqa: E402

CLI_QUESTION = "how many members of the Afghanistan forces crossed the border?"


def start_server(
    library: Path, env: dict, batch_ms: float, cwd: Path | None = None
) -> tuple[subprocess.Popen, Client]:
    """`newsqa serve --port 0` on ``library`` (run in ``cwd``); returns once it answers."""
    (library / SERVER_FILE).unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "newsqa.cli", "--library", str(library), "serve", "--port", "0"]
        + ["--batch-ms", str(batch_ms)],
        env=env,
        cwd=cwd,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while not (library / SERVER_FILE).exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.1)
    client = Client(json.loads((library / SERVER_FILE).read_text())["url"])
    client.health()
    return process, client


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=600)


def cli_seconds(library: Path, env: dict, repeats: int) -> list[float]:
    """Wall time of ``newsqa ask QUESTION --json``, ``repeats`` times."""
    command = [sys.executable, "-m", "newsqa.cli", "--library", str(library), "ask", CLI_QUESTION]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = subprocess.run(command + ["--json"], env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if result.returncode != 0 or json.loads(result.stdout)["text"] != "46":
            raise SystemExit(f"the CLI failed: {result.stderr.strip()}")
    return times


def load(client: Client, article: str, clients: int, questions: list[str]) -> dict:
    """``clients`` threads, each asking every question in its own order, one request at a time."""

    def run(number: int) -> list[float]:
        order = questions[number % len(questions) :] + questions[: number % len(questions)]
        latencies = []
        for question in order:
            started = time.perf_counter()
            client.ask(question, article=article)
            latencies.append(time.perf_counter() - started)
        return latencies

    run(0)  # warm-up
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [t for run_times in pool.map(run, range(clients)) for t in run_times]
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "questions_per_second": round(len(latencies) / elapsed, 3),
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p95_ms": round(cuts[18] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--questions", type=int, default=25, help="questions per client")
    parser.add_argument("--repeats", type=int, default=5, help="CLI runs of each kind")
    parser.add_argument("--batch-ms", type=float, default=5.0)
    add_precision_option(parser)
    args = parser.parse_args()
    questions = (QUESTIONS * (args.questions // len(QUESTIONS) + 1))[: args.questions]
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSQA_")}
    env |= {"HF_HUB_OFFLINE": "1", "NEWSQA_PRECISION": args.precision}

    with tempfile.TemporaryDirectory() as folder:
        library = Path(folder) / "library"
        process, client = start_server(library, env, args.batch_ms)
        try:
            article = client.request("POST", "/articles", {"text": SEED.read_text()})["id"]
            precision = client.health()["precision"]
            through = cli_seconds(library, env, args.repeats)
            cold = cli_seconds(library, env | {"NEWSQA_NO_SERVER": "1"}, args.repeats)
            batched = load(client, article, args.clients, questions)
        finally:
            stop_server(process)
        process, client = start_server(library, env, 0)
        try:
            one_at_a_time = load(client, article, args.clients, questions)
        finally:
            stop_server(process)

    cli = {
        "through_server_s": [round(t, 3) for t in through],
        "cold_s": [round(t, 3) for t in cold],
        "through_server_median_s": round(statistics.median(through), 3),
        "cold_median_s": round(statistics.median(cold), 3),
        "speedup": round(statistics.median(cold) / statistics.median(through), 2),
    }
    throughput = {
        "clients": args.clients,
        "questions_per_client": args.questions,
        "batch_ms": args.batch_ms,
        "batched": batched,
        "one_at_a_time": one_at_a_time,
        "speedup": round(
            batched["questions_per_second"] / one_at_a_time["questions_per_second"], 2
        ),
    }
    print_table(
        f"CLI ask, median of {args.repeats} ({precision})",
        ["through the server (s)", "cold CLI (s)", "speedup"],
        [[cli["through_server_median_s"], cli["cold_median_s"], cli["speedup"]]],
    )
    print_table(
        f"server, {args.clients} clients x {args.questions} questions",
        ["mode", "questions/s", "p50 ms", "p95 ms"],
        [
            [name, r["questions_per_second"], r["latency_p50_ms"], r["latency_p95_ms"]]
            for name, r in (("batched", batched), ("one at a time", one_at_a_time))
        ],
    )
    path = write_result(
        f"bench_serve_cpu_{precision}", {"precision": precision, "cli": cli, "server": throughput}
    )
    print(f"\nthroughput speedup {throughput['speedup']}x; wrote {path}")


if __name__ == "__main__":
    main()
