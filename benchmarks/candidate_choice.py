"""How much the answer choice across retrieved passages costs, on candidates eval_qa.py kept.

Whole-article mode reads each retrieved passage and keeps one candidate answer per passage; the
calibrator then picks one. This replays, for the answerable questions of a set (never refusing):

- the calibrator's pick (what ships), and the same pick among the top 1, 2, 3 ... passages only;
- the oracle: the candidate with the best F1 against the references (the ceiling of any choice);
- a pairwise reranker on the calibrator's features, fitted on the set itself, five folds by
  article: an upper bound on what those features can choose, for diagnosis only (fitted on public
  dev data, so never shipped).

Run eval_qa.py on the same settings first (it keeps the candidates under models/runs):

    python benchmarks/eval_qa.py --sets news --precision fp32
    python benchmarks/candidate_choice.py --sets news --precision fp32
"""

from __future__ import annotations

import argparse
import gzip
import pickle
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import add_precision_option, print_table, write_result  # noqa: E402
from eval_qa import candidate_cache  # noqa: E402
from qa_sets import SETS, sample, score_f1  # noqa: E402

from newsqa import NewsQA  # noqa: E402
from newsqa.answer import Candidate  # noqa: E402
from newsqa.confidence import FEATURES  # noqa: E402


def pairwise_upper_bound(questions: list[tuple[dict, list, list]], calibrator) -> float:
    """Mean F1 of a pairwise logistic reranker (right-vs-wrong differences of the features and
    the calibrator's probability), each fold's questions chosen by the fit on the other four."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    def vectors(found: list[Candidate]):
        return np.array(
            [
                [c.features[f] for f in FEATURES] + [calibrator.probability(c.features)]
                for c in found
            ]
        )

    articles = sorted({row["article"] for row, _, _ in questions})
    fold = {a: random.Random(a).randrange(5) for a in articles}
    total = 0.0
    for held in range(5):
        pairs, labels = [], []
        for row, found, f1s in questions:
            if fold[row["article"]] == held or not found:
                continue
            x = vectors(found)
            for i, right in enumerate(f1s):
                for j, wrong in enumerate(f1s):
                    if right >= 0.5 > wrong:
                        pairs += [x[i] - x[j], x[j] - x[i]]
                        labels += [1, 0]
        if not pairs:
            continue
        pairs = np.array(pairs)
        scale = pairs.std(0)
        scale[scale == 0] = 1.0
        model = LogisticRegression(C=0.1, fit_intercept=False, max_iter=5000)
        weights = model.fit(pairs / scale, labels).coef_[0] / scale
        for row, found, f1s in questions:
            if fold[row["article"]] == held and found:
                total += f1s[int(np.argmax(vectors(found) @ weights))]
    return 100 * total / len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=["news"], choices=list(SETS))
    parser.add_argument("--limit", type=int, default=None, help="as eval_qa.py was run")
    add_precision_option(parser)
    parser.add_argument("--tag", default="", help="as eval_qa.py was run")
    parser.add_argument("--name", default="candidate_choice", help="results file name")
    args = parser.parse_args()

    qa = NewsQA(device="cpu", precision=args.precision)
    results, table = {}, []
    for name in args.sets:
        cache = candidate_cache(name, qa, None, False, args.tag, args.limit)
        if not cache.exists():
            parser.error(f"no kept candidates at {cache}: run eval_qa.py with the same settings")
        with gzip.open(cache, "rb") as handle:
            kept = pickle.load(handle)
        questions = []
        for row in sample(SETS[name](), args.limit):
            if row["golds"]:
                found = kept[row["id"]]
                questions.append((row, found, [score_f1(c.text, row["golds"]) for c in found]))

        def chosen(passages: int, questions=questions) -> float:
            total = 0.0
            for _, found, f1s in questions:
                within = [i for i, c in enumerate(found) if c.features["rank"] < passages]
                if within:
                    best = max(within, key=lambda i: qa.calibrator.probability(found[i].features))
                    total += f1s[best]
            return 100 * total / len(questions)

        depth = max((len(found) for _, found, _ in questions), default=0)
        result = {
            "answerable": len(questions),
            "candidates_per_question": round(
                sum(len(found) for _, found, _ in questions) / len(questions), 2
            ),
            "calibrator_pick_by_passages": {
                str(k): round(chosen(k), 2) for k in range(1, depth + 1)
            },
            "oracle": round(
                100 * sum(max(f1s, default=0.0) for _, _, f1s in questions) / len(questions), 2
            ),
            "pairwise_reranker_fitted_on_this_set": round(
                pairwise_upper_bound(questions, qa.calibrator), 2
            ),
        }
        results[name] = result
        table.append(
            [
                name,
                result["answerable"],
                " / ".join(f"{v:.1f}" for v in result["calibrator_pick_by_passages"].values()),
                result["pairwise_reranker_fitted_on_this_set"],
                result["oracle"],
            ]
        )
    print_table(
        "Answerable questions, never refusing: mean F1 of the chosen candidate",
        [
            "set",
            "questions",
            "calibrator's pick among top 1 / 2 / ... passages",
            "reranker*",
            "oracle",
        ],
        table,
    )
    print("* fitted on the set itself, five folds by article: a diagnosis, never shipped")
    path = write_result(
        args.name,
        {"precision": qa.generator.precision, "limit": args.limit, "results": results},
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
