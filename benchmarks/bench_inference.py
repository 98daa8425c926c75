"""Inference speed, each figure against a baseline measured in the same run (medians).

- warm ``ask`` on the seed article (p50, p95);
- ``ask_many`` of 32 questions vs. 32 sequential ``ask`` calls;
- summary of a long article (>= 5 000 words): batched map-reduce vs. a naive loop calling
  ``model.generate`` one window at a time, and the default compress strategy vs. the same loop;
- ingest embedding (batched) vs. encoding one sentence at a time;
- cold CLI ``newsqa ask`` vs. ``python -c "import torch, transformers"``; peak RSS of the CLI.

    python benchmarks/bench_inference.py                    # the default precision (fp32)
    python benchmarks/bench_inference.py --precision bf16   # against fp32 in the same run
    python benchmarks/bench_inference.py --precision int8   # dynamic int8 quantization
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    SHARED_DATA,
    add_precision_option,
    print_table,
    write_result,
)

from newsqa import NewsQA  # noqa: E402
from newsqa.chunk import split_sentences  # noqa: E402
from newsqa.prompts import summary_input  # noqa: E402
from newsqa.summaries import windows  # noqa: E402

SEED = ROOT / "newsqa" / "data" / "article.txt"
QUESTIONS = [
    "how many soldiers?",
    "how many officers crossed?",
    "where did the soldiers cross?",
    "when did the soldiers cross the border?",
    "who said the soldiers crossed?",
    "what were the soldiers given?",
    "how many soldiers asked for refuge on July 1?",
    "how many district centres are there in Afghanistan?",
    "who announced the withdrawal?",
    "when will the remaining soldiers be gone?",
    "where did negotiators meet?",
    "how many Afghan nationals does Pakistan host?",
    "which town did the Taliban overrun?",
    "where were Taliban fighters treated?",
    "who carried out airstrikes?",
    "how far is Kandahar from Spin Boldak?",
    "who recalled its ambassador?",
    "when did peace talks begin?",
    "how many NATO allies were in Afghanistan?",
    "what did Pakistan dismiss?",
    "which commander requested help?",
    "where will the soldiers be returned?",
    "who has fled to Tajikistan?",
    "what are militias resurrected by?",
    "how many American soldiers were there?",
    "what is the capital of Qatar?",
    "who is the president?",
    "what did the ISPR inform Kabul of?",
    "who provides input to the article?",
    "what fears are rising?",
    "what is Afghanistan's military overhauling?",
    "what did Kabul accuse Islamabad of?",
]


def timed(action, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def record(results: dict, rows: list, key: str, label: str, ours: float, base: float) -> None:
    """One comparison: our seconds, the baseline's, and the speed-up (baseline / ours)."""
    results[key] = {
        "ours_s": round(ours, 3),
        "baseline_s": round(base, 3),
        "speedup": round(base / ours, 2),
    }
    rows.append([label, round(ours, 3), round(base, 3), f"{base / ours:.2f}x"])


def long_article(words: int = 5000) -> str:
    rows = [json.loads(line) for line in (SHARED_DATA / "summ-dev-public.jsonl").open()]
    parts, count = [], 0
    for row in rows:
        if row["source"] == "cnndm":
            parts.append(row["article"])
            count += len(row["article"].split())
            if count >= words:
                break
    return "\n\n".join(parts)


def cold_cli(env: dict) -> tuple[float, float, float]:
    """Seconds for a cold ``newsqa ask`` and for the bare import; the CLI's peak RSS in MB."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], capture_output=True, check=True); "
        "print(time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
    )
    cli = [sys.executable, "-m", "newsqa.cli", "ask", "how many soldiers?", "--article", str(SEED)]
    bare = [sys.executable, "-c", "import torch, transformers"]
    cli_runs, bare_runs, rss = [], [], 0.0
    for _ in range(3):
        for command, sink in ((cli, cli_runs), (bare, bare_runs)):
            output = subprocess.run(
                [sys.executable, "-c", probe, *command],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            sink.append(float(output[0]))
            if command is cli:
                rss = max(rss, float(output[1]))
    return statistics.median(cli_runs), statistics.median(bare_runs), rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    add_precision_option(parser)
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()
    qa = NewsQA(device=args.device, precision=args.precision)
    precision = qa.generator.precision  # what auto chose on this machine
    seed = qa.add(str(SEED))
    qa.ask(QUESTIONS[0])  # warm: models loaded once per process
    rows, results = [], {}

    times = sorted(timed(lambda: qa.ask(QUESTIONS[0], article=seed.id), args.repeats))
    results["ask_warm_ms"] = {
        "p50": round(1000 * statistics.median(times), 1),
        "p95": round(1000 * times[int(0.95 * (len(times) - 1))], 1),
    }
    rows.append(
        [
            "warm ask p50 / p95 (ms)",
            results["ask_warm_ms"]["p50"],
            results["ask_warm_ms"]["p95"],
            "",
        ]
    )
    if precision != "fp32" and args.device == "cpu":  # the same ask with fp32 weights
        plain = NewsQA(device="cpu", precision="fp32")
        plain_seed = plain.add(str(SEED))
        plain.ask(QUESTIONS[0], article=plain_seed.id)
        base = timed(lambda: plain.ask(QUESTIONS[0], article=plain_seed.id), args.repeats)
        ours = statistics.median(times)
        label = f"warm ask p50, {precision} vs fp32 (s)"
        record(results, rows, "ask_warm_vs_fp32", label, ours, statistics.median(base))
        del plain

    repeats = max(3, args.repeats // 5)
    batched = statistics.median(timed(lambda: qa.ask_many(QUESTIONS), repeats))
    sequential = statistics.median(timed(lambda: [qa.ask(q) for q in QUESTIONS], repeats))
    record(results, rows, "ask_many_32", "ask_many(32) vs 32 x ask (s)", batched, sequential)

    text = long_article()
    long = qa.add(text)
    ours = statistics.median(
        timed(lambda: qa.summarize(article=long.id, max_words=80, strategy="map-reduce"), 2)
    )
    compress = statistics.median(timed(lambda: qa.summarize(article=long.id, max_words=80), 2))
    parts = windows(text, split_sentences(text))
    tokenizer, model = qa.generator.tokenizer, qa.generator.model

    def naive() -> None:
        import torch

        for part in parts:
            inputs = tokenizer(
                summary_input(part), return_tensors="pt", truncation=True, max_length=256
            ).to(qa.device)
            with torch.inference_mode():
                model.generate(**inputs, max_new_tokens=136, num_beams=2, no_repeat_ngram_size=3)

    base = statistics.median(timed(naive, 2))
    label = f"map-reduce summary, {len(text.split())} words, {len(parts)} windows (s)"
    record(results, rows, "summarize_long", label, ours, base)
    label = "compress summary (default) vs the same naive loop (s)"
    record(results, rows, "summarize_long_compress", label, compress, base)

    sentences = [s.text for s in split_sentences(text)][:256]
    batched_embed = statistics.median(timed(lambda: qa.embedder.encode(sentences), 3))
    single_embed = statistics.median(timed(lambda: [qa.embedder.encode([s]) for s in sentences], 1))
    label = "embed 256 sentences vs one at a time (s)"
    record(results, rows, "embedding_256_sentences", label, batched_embed, single_embed)

    if not args.skip_cli:
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "NEWSQA_DEVICE": args.device,
            "NEWSQA_PRECISION": args.precision,
        }
        cli, bare, rss = cold_cli(env)
        results["cold_cli"] = {
            "cli_ask_s": round(cli, 2),
            "import_torch_transformers_s": round(bare, 2),
            "ratio": round(cli / bare, 2),
            "cli_peak_rss_mb": round(rss),
        }
        rows.append(
            ["cold CLI ask vs bare import (s)", round(cli, 2), round(bare, 2), f"{cli / bare:.2f}x"]
        )
        rows.append(["CLI ask peak RSS (MB)", round(rss), "", ""])

    print_table(
        f"Inference on {args.device}, generator in {precision}",
        ["measure", "ours", "baseline", "ratio"],
        rows,
    )
    path = write_result(
        f"bench_inference_{args.device}_{precision}",
        {"device": args.device, "precision": precision, "results": results},
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
