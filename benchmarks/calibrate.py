"""Fit the confidence calibrator on questions held out of training; write calibration.json.

The recipe (questions, mix, fit, bars) is ``newsqa.calibration``'s, the one ``newsqa calibrate``
runs for any model; this script also prints the feature-group ablations (answerable-vs-not AUC
and the reader mix's F1, out of fold) and the reliability table, and writes them to
``benchmarks/results``. Collected candidates are cached in ``models/runs`` (``--reuse``).

    python benchmarks/calibrate.py --precision bf16 --key default
    python benchmarks/calibrate.py --precision int8 --key int8 --reuse
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import ROOT, SHARED_DATA, add_precision_option, print_table, write_result  # noqa: E402

from newsqa import NewsQA, verifier  # noqa: E402
from newsqa.calibration import (  # noqa: E402
    MIX,
    STRICT_MIX,
    Calibration,
    calibration_questions,
    collect,
    folder_for,
    store,
)
from newsqa.confidence import FEATURES  # noqa: E402
from newsqa.generate import Seq2SeqGenerator, cpu_precision  # noqa: E402

GROUPS = {
    "margin and log-probabilities": [
        "margin",
        "span_logprob",
        "no_answer_logprob",
        "logprob_per_token",
        "answer_tokens",
    ],
    "retrieval similarity and rank": ["similarity", "best_similarity", "rank"],
    "question words in evidence": [
        "question_in_sentence",
        "question_in_chunk",
        "question_in_article",
        "answer_in_question",
    ],
    "answer type vs question word": [f for f in FEATURES if "_expected_" in f],
    "beam and passage agreement": ["beam_agreement", "passage_agreement"],
    "answer verifier": ["verifier"],
}
CACHE = ROOT / "models" / "runs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_precision_option(parser)
    parser.add_argument("--key", default="default", help="calibration.json entry to write")
    parser.add_argument("--limit", type=int, default=1200, help="questions of each source")
    parser.add_argument("--reuse", action="store_true", help="reuse collected candidates")
    parser.add_argument(
        "--model", help="newsqa-base, a local chat model, or any seq2seq (default: newsqa-mini)"
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        help="where calibration.json goes (default: where NewsQA reads it)",
    )
    parser.add_argument(
        "--verifier",
        type=Path,
        help="an answer verifier folder: its logit becomes a feature (models/newsqa-mini/verifier)",
    )
    parser.add_argument(
        "--without", nargs="+", default=[], choices=FEATURES, help="fit without these features"
    )
    parser.add_argument(
        "--tag",
        default="",
        help="names the weights under test in the candidate cache and the results file (a "
        "candidate swapped into the bundled folder must not reuse the shipped weights' files)",
    )
    parser.add_argument(
        "--news",
        action="store_true",
        help="add questions made from news articles (newsqa.news_questions; not in the recipe)",
    )
    args = parser.parse_args()

    generator = Seq2SeqGenerator(args.model, device="cpu", precision=args.precision)
    if args.model_dir is None:  # where NewsQA reads it: our models' folders, else user data
        args.model_dir = (
            generator.folder if generator.is_bundled else folder_for(generator.location)
        )
    questions = calibration_questions(SHARED_DATA, args.limit, news=args.news)
    tag = f"{args.model}_".replace("/", "-") if args.model else ""
    tag += f"{args.tag}_" if args.tag else ""
    cache = CACHE / f"calibration_{tag}{cpu_precision(args.precision)}_{args.limit}_v4.json.gz"
    if cache.exists() and not args.reuse:
        cache.unlink()
    qa = NewsQA(device="cpu", model=args.model, grounded=True, precision=args.precision)
    judge = verifier.load(args.verifier) if args.verifier else None
    if args.verifier and judge is None:
        parser.error(f"{args.verifier} holds no verifier")
    calibration = Calibration(questions, collect(qa, questions, cache, verifier=judge))

    without = args.without + ([] if judge else ["verifier"])
    every = [i for i, f in enumerate(FEATURES) if f not in without]
    fitted = calibration.fitted(cpu_precision(args.precision), every)
    ablations = [
        ["all features", fitted.auc_answerable, fitted.mix_f1],
    ]
    margin_only = calibration.summary(calibration.out_of_fold([FEATURES.index("margin")]))
    ablations.append(["margin alone", margin_only["auc_answerable"], margin_only["mix_f1"]])
    for name, members in GROUPS.items():
        kept = [i for i in every if FEATURES[i] not in members]
        result = calibration.summary(calibration.out_of_fold(kept))
        ablations.append([f"without {name}", result["auc_answerable"], result["mix_f1"]])
    print_table(
        "Out-of-fold (5 folds by article): answerable-vs-not AUC of the best candidate's "
        "probability, and the reader mix's F1 at its best bar",
        ["features", "AUC", "mix F1"],
        ablations,
    )
    print_table(
        f"Reliability of the chosen answer (out-of-fold, reader mix): ECE {fitted.ece:.3f}",
        ["confidence", "questions", "mean confidence", "share right"],
        fitted.reliability,
    )
    path = store(args.model_dir, args.key, fitted.calibrator, generator.name)
    print(f"\nbars: default {fitted.bar}, strict {fitted.strict_bar}; wrote {path}")
    kinds: dict[str, int] = {}
    for row in questions:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    write_result(
        f"calibration_{tag}{args.key}".replace("/", "-"),
        {
            "model": generator.name,
            "precision": fitted.calibrator["precision"],
            "questions_by_kind": kinds,
            "mix": MIX,
            "strict_mix": STRICT_MIX,
            "ablations": [dict(zip(["features", "auc", "mix_f1"], r)) for r in ablations],
            "reliability": [
                dict(zip(["bin", "questions", "confidence", "right"], r))
                for r in fitted.reliability
            ],
            "ece": fitted.ece,
            "calibrator": fitted.calibrator,
        },
    )


if __name__ == "__main__":
    main()
