"""Grounded question answering on an accelerator against the CPU: same model, same batch.

    python benchmarks/bench_device.py --device cuda [--model PATH] [--repeats 5]

Answers questions about the bundled seed article through the library's generate and answer
stages (every chunk of the article is a passage, so no embedder or index is needed): once on
the device at its precision (bf16 on CUDA) and once on the CPU in fp32. Prints the answers side
by side and the batch latency as a ratio against the CPU, and writes
``benchmarks/results/bench_device_<device>.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, print_table, write_result  # noqa: E402

from newsqa.answer import Passage, answer_questions  # noqa: E402
from newsqa.chunk import chunk_sentences, split_sentences  # noqa: E402
from newsqa.confidence import Calibrator  # noqa: E402
from newsqa.generate import Seq2SeqGenerator  # noqa: E402

QUESTIONS = [
    "how many soldiers?",
    "how many members of the Afghanistan forces crossed the border?",
    "who won the football match?",
    "where did the soldiers go?",
    "who released the statement?",
    "what happened to the soldiers?",
    "when did they cross?",
    "what is the capital of France?",
]


def passages_of(text: str, generator: Seq2SeqGenerator) -> list[Passage]:
    sentences = split_sentences(text)

    def count(piece: str) -> int:
        return len(generator.tokenizer(piece, add_special_tokens=False)["input_ids"])

    chunks = chunk_sentences(text, sentences, count)
    return [Passage("seed", None, text, chunk, sentences, 1.0) for chunk in chunks]


def run(generator: Seq2SeqGenerator, text: str, repeats: int) -> tuple[list, list[float]]:
    passages = passages_of(text, generator)
    found = [passages] * len(QUESTIONS)
    calibrator = Calibrator.load(generator.calibration_file, generator.precision)
    options = {"calibrator": calibrator, "min_confidence": calibrator.min_confidence}
    answers = answer_questions(generator, QUESTIONS, found, True, **options)  # warm-up
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        answer_questions(generator, QUESTIONS, found, True, **options)
        seconds.append(time.perf_counter() - started)
    return answers, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default=None, help="default: the bundled newsqa-mini")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.device == "cpu":
        parser.error("--device names the accelerator (cuda, cuda:N or mps) to compare with the CPU")

    text = (ROOT / "newsqa" / "data" / "article.txt").read_text(encoding="utf-8")
    results = {}
    for device, precision in ((args.device, None), ("cpu", "fp32")):
        generator = Seq2SeqGenerator(model=args.model, device=device, precision=precision)
        answers, seconds = run(generator, text, args.repeats)
        results[device] = {
            "precision": generator.precision,
            "median_seconds": round(statistics.median(seconds), 4),
            "answers": [
                {"text": a.text, "answerable": a.answerable, "confidence": round(a.confidence, 3)}
                for a in answers
            ],
        }
    accelerated, cpu = results[args.device], results["cpu"]
    print_table(
        f"Answers ({len(QUESTIONS)} questions, all chunks of the seed article, each at its "
        "precision's calibrated bar)",
        ["question", f"{args.device} ({accelerated['precision']})", "cpu (fp32)"],
        [
            [q, a["text"] if a["answerable"] else "-", c["text"] if c["answerable"] else "-"]
            for q, a, c in zip(QUESTIONS, accelerated["answers"], cpu["answers"])
        ],
    )
    speedup = cpu["median_seconds"] / accelerated["median_seconds"]
    print_table(
        "Batch latency (median of repeats)",
        ["device", "precision", "seconds", "vs cpu fp32"],
        [
            [args.device, accelerated["precision"], accelerated["median_seconds"], speedup],
            ["cpu", "fp32", cpu["median_seconds"], 1.0],
        ],
    )
    payload = {
        "model": args.model or "newsqa-mini",
        "questions": QUESTIONS,
        "results": results,
        "speedup_vs_cpu_fp32": speedup,
    }
    if args.device.startswith("cuda"):
        import torch

        payload["accelerator"] = torch.cuda.get_device_name()
    print(write_result(f"bench_device_{args.device.split(':')[0]}", payload))


if __name__ == "__main__":
    main()
