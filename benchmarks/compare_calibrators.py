"""The shipped calibrator's form (logistic regression) against nonlinear ones on the same features.

Reads the candidates ``calibrate.py`` cached for a model (``models/runs``) and scores each form
out of fold exactly as ``calibrate.py`` does (5 folds by article, the reader mix's weights): the
answerable-vs-not AUC of the best candidate, the reader mix's F1 at its best bar, the ECE of the
chosen answers and the share of each kind of question refused at that bar.

    python benchmarks/calibrate.py                 # collects the candidates once
    python benchmarks/compare_calibrators.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import CACHE  # noqa: E402
from common import SHARED_DATA, print_table, write_result  # noqa: E402

from newsqa.calibration import Calibration, calibration_questions, collect  # noqa: E402
from newsqa.confidence import FEATURES  # noqa: E402

TREES = {  # (learning rate, trees, smallest leaf)
    "gradient-boosted trees, 100 x 0.1": (0.1, 100, 40),
    "gradient-boosted trees, 200 x 0.05": (0.05, 200, 40),
    "gradient-boosted trees, 400 x 0.05": (0.05, 400, 80),
}


def trees_out_of_fold(calibration: Calibration, columns: list[int], settings) -> np.ndarray:
    """Each candidate's probability from gradient-boosted trees fitted on the other folds."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rate, trees, leaf = settings
    x, found = calibration.x[:, columns], np.zeros(len(calibration.candidates))
    for fold in range(5):
        train, test = calibration.folds != fold, calibration.folds == fold
        model = HistGradientBoostingClassifier(
            learning_rate=rate,
            max_iter=trees,
            min_samples_leaf=leaf,
            max_leaf_nodes=15,
            l2_regularization=1.0,
            random_state=0,
        )
        model.fit(x[train], calibration.y[train], sample_weight=calibration.sample_weight[train])
        found[test] = model.predict_proba(x[test])[:, 1]
    return found


def scores(calibration: Calibration, probabilities) -> dict:
    """AUC, the bar and mix F1 at it, the ECE of the chosen answers, refusals by kind."""
    found = calibration.summary(probabilities)
    refused = {}
    for row in calibration.questions:
        probability, _ = found["best"][row["id"]]
        refused.setdefault(row["kind"], []).append(probability < found["bar"])
    return {
        "auc": found["auc_answerable"],
        "bar": found["bar"],
        "mix_f1": found["mix_f1"],
        "ece": round(calibration.chosen_reliability(found["best"])[1], 4),
        "refused": {k: round(100 * sum(v) / len(v), 1) for k, v in refused.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cache",
        type=Path,
        default=CACHE / "calibration_fp32_1200_v4.json.gz",
        help="candidates cached by calibrate.py",
    )
    parser.add_argument("--limit", type=int, default=1200, help="as calibrate.py's --limit")
    args = parser.parse_args()
    if not args.cache.exists():
        parser.error(f"{args.cache} does not exist: run benchmarks/calibrate.py first")

    questions = calibration_questions(SHARED_DATA, args.limit)
    calibration = Calibration(questions, collect(None, questions, args.cache))
    columns = [i for i, name in enumerate(FEATURES) if name != "verifier"]
    results = {
        "logistic regression (shipped)": scores(calibration, calibration.out_of_fold(columns))
    }
    for name, settings in TREES.items():
        results[name] = scores(calibration, trees_out_of_fold(calibration, columns, settings))
    kinds = sorted(next(iter(results.values()))["refused"])
    print_table(
        f"Out of fold on {len(questions)} held-out questions ({args.cache.name})",
        ["calibrator", "AUC", "bar", "mix F1", "ECE", *[f"{k} refused %" for k in kinds]],
        [
            [name, r["auc"], r["bar"], r["mix_f1"], r["ece"], *[r["refused"][k] for k in kinds]]
            for name, r in results.items()
        ],
    )
    write_result(
        "compare_calibrators", {"cache": args.cache.name, "questions": len(questions), **results}
    )


if __name__ == "__main__":
    main()
