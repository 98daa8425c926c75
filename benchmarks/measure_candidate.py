"""Measure candidate newsqa-mini weights the way the shipped weights were measured, in one go.

The candidate (a folder that ``python -m models.train --output DIR`` exported) is swapped into
the bundled folder while it runs, and the shipped files are put back after, even when a step
fails; a run that was killed puts them back when started again. Steps, each its own process,
each leaving a results file under benchmarks/results named after ``--tag``:

- ``calibrate``, ``verified``, ``int8``: the candidate's three calibrators (``calibrate.py``),
  stored in the candidate's own ``calibration.json``;
- ``eval``: the news set, TweetQA dev and SQuAD v2 dev in full (``eval_qa.py``);
- ``summarize``: CNN/DM, XSum and Reuters headlines (``eval_summarize.py``);
- ``bench``: warm ``ask`` and decoder passes (``bench_decoding.py``, quick settings).

About 90 minutes for every step on 2 cores: run it alone. A step whose results file is there
already is skipped (``--again`` runs it anyway), so an interrupted run goes on where it stopped.

    python benchmarks/measure_candidate.py models/runs/newsqa-mini-run10 --tag run10
    python benchmarks/measure_candidate.py models/runs/newsqa-mini-run10 --tag run10 --steps eval
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, print_table  # noqa: E402

BENCHMARKS = ROOT / "benchmarks"
BUNDLED = ROOT / "models" / "newsqa-mini"
SWAPPED = ("model.safetensors", "calibration.json", "training.json")
"""The files of the bundled folder that belong to one set of weights."""
CALIBRATING = ("calibrate", "verified", "int8")


def steps(tag: str) -> dict[str, tuple[str, list[str]]]:
    """Each step's results file and command line (after the Python interpreter)."""
    calibrate = [str(BENCHMARKS / "calibrate.py"), "--tag", tag]
    return {
        "calibrate": (f"calibration_{tag}_default", [*calibrate, "--precision", "fp32"]),
        "verified": (
            f"calibration_{tag}_verified",
            [
                *calibrate,
                "--precision",
                "fp32",
                "--key",
                "verified",
                "--verifier",
                str(BUNDLED / "verifier"),
                "--reuse",
            ],
        ),
        "int8": (
            f"calibration_{tag}_int8",
            [*calibrate, "--precision", "int8", "--key", "int8"],
        ),
        "eval": (
            f"eval_qa_{tag}_full",
            [
                str(BENCHMARKS / "eval_qa.py"),
                "--precision",
                "fp32",
                "--sets",
                "news",
                "tweetqa",
                "squad-gold",
                "--tag",
                tag,
                "--name",
                f"eval_qa_{tag}_full",
            ],
        ),
        "summarize": (
            f"eval_summarize_{tag}",
            [
                str(BENCHMARKS / "eval_summarize.py"),
                "--precision",
                "fp32",
                "--name",
                f"eval_summarize_{tag}",
            ],
        ),
        "bench": (
            f"bench_decoding_{tag}",
            [
                str(BENCHMARKS / "bench_decoding.py"),
                "--skip-serve",
                "--articles",
                "4",
                "--repeats",
                "5",
                "--name",
                f"bench_decoding_{tag}",
            ],
        ),
    }


def backup_folder(tag: str) -> Path:
    return ROOT / "models" / "runs" / f"shipped-files-while-measuring-{tag}"


def restore(backup: Path) -> None:
    """Put the shipped files back into the bundled folder and drop the backup."""
    for name in SWAPPED:
        if (backup / name).exists():
            shutil.copy2(backup / name, BUNDLED / name)
    shutil.rmtree(backup)


@contextmanager
def swapped_in(candidate: Path, tag: str):
    """The candidate's files in the bundled folder for the duration; the shipped ones after."""
    backup = backup_folder(tag)
    if backup.exists():  # a run that was killed: its backup holds the shipped files
        print(f"putting back the shipped files that {backup} kept")
        restore(backup)
    backup.mkdir(parents=True)
    for name in SWAPPED:
        shutil.copy2(BUNDLED / name, backup / name)
    try:
        for name in SWAPPED:
            if (candidate / name).exists():
                shutil.copy2(candidate / name, BUNDLED / name)
        yield
    finally:
        restore(backup)


def figures(tag: str) -> list[list]:
    """The figures the README and the model card compare, from the candidate's results."""

    def read(name: str) -> dict:
        path = RESULTS / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def joined(values) -> str:
        return " / ".join(str(v) for v in values)

    rows = []
    calibration = read(f"calibration_{tag}_default")
    if calibration:
        fit = calibration["calibrator"]
        rows.append(
            [
                "calibrator: bar / strict bar, ECE out of fold",
                joined([fit["min_confidence"], fit["strict_confidence"]]),
                f"{calibration['ece']:.3f}",
            ]
        )
    results = read(f"eval_qa_{tag}_full").get("results", {})
    if "news" in results:
        news = results["news"]
        default, refused = news["default"], news["default"]["refused_by_kind"]
        rows += [
            ["news: HasAns F1, answered %", default["HasAns"]["f1"], default["answered"]],
            [
                "news: on-topic / off-topic refused %",
                joined([refused.get("on-topic-unanswered"), refused.get("off-topic")]),
                "",
            ],
            [
                "news: frontier at NoAns 50 / 60 / 70 %, ECE",
                joined(news["frontier_HasAns_f1"].values()),
                f"{news['ece']:.3f}",
            ],
        ]
    if "tweetqa" in results:
        tweets = results["tweetqa"]
        rows.append(
            [
                "TweetQA: F1, answered %",
                tweets["default"]["HasAns"]["f1"],
                tweets["default"]["answered"],
            ]
        )
        rows.append(["TweetQA: ECE", f"{tweets['ece']:.3f}", ""])
    if "squad-gold" in results:
        squad = results["squad-gold"]
        rows.append(
            [
                "SQuAD v2: frontier at NoAns 50 / 60 / 70 %, ECE",
                joined(squad["frontier_HasAns_f1"].values()),
                f"{squad['ece']:.3f}",
            ]
        )
    summarized = read(f"eval_summarize_{tag}")
    summaries = summarized.get("results", {})
    for source in ("cnndm", "xsum"):
        if source in summaries:
            found, faithful = summaries[source], summaries[source]["faithfulness_newsqa"]
            rouge = found["newsqa compress"]
            rows.append(
                [
                    f"{source}: ROUGE-1 / 2 / L; names, numbers, dates not in the article",
                    joined([rouge["rouge1"], rouge["rouge2"], rouge["rougeL"]]),
                    f"{faithful['unsupported']} of {faithful['entities']}",
                ]
            )
    headlines = (summarized.get("headlines") or {}).get("newsqa headline")
    if headlines:
        rows.append(
            [
                "Reuters headlines: ROUGE-1 / 2 / L",
                joined([headlines["rouge1"], headlines["rouge2"], headlines["rougeL"]]),
                "",
            ]
        )
    bench = read(f"bench_decoding_{tag}").get("results", {}).get("newsqa-mini", {})
    if bench:
        rows.append(
            ["warm ask p50 of each round (ms)", joined(bench["warm_ask_p50_ms_fast_alone"]), ""]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("candidate", type=Path, help="the exported weights' folder")
    parser.add_argument("--tag", required=True, help="names the results files, e.g. run10")
    names = list(steps(""))
    parser.add_argument("--steps", nargs="+", choices=names, default=names)
    parser.add_argument("--again", action="store_true", help="run steps whose results exist")
    args = parser.parse_args()
    if not (args.candidate / "model.safetensors").exists():
        parser.error(f"{args.candidate} holds no model.safetensors")
    chosen = {name: step for name, step in steps(args.tag).items() if name in args.steps}
    if "calibrate" not in chosen and not (args.candidate / "calibration.json").exists():
        parser.error(f"{args.candidate} has no calibrators yet: run the calibrate step first")
    logs = ROOT / "models" / "runs" / f"measure-{args.tag}"
    logs.mkdir(parents=True, exist_ok=True)
    with swapped_in(args.candidate.resolve(), args.tag):
        for name, (result, command) in chosen.items():
            if (RESULTS / f"{result}.json").exists() and not args.again:
                print(f"{name}: {result}.json is there, skipped")
                continue
            print(f"{name}: running, log in {logs / name}.log", flush=True)
            with open(logs / f"{name}.log", "w", encoding="utf-8") as log:
                done = subprocess.run([sys.executable, *command], stdout=log, stderr=log)
            if done.returncode:
                sys.exit(f"{name} failed (exit {done.returncode}): see {logs / name}.log")
            if name in CALIBRATING:  # kept in the candidate's folder at once: a kill loses none
                shutil.copy2(BUNDLED / "calibration.json", args.candidate / "calibration.json")
    print_table(f"Candidate {args.tag} ({args.candidate})", ["measure", "", ""], figures(args.tag))


if __name__ == "__main__":
    main()
