"""Question answering quality on the public sets: SQuAD v2 dev, TweetQA dev, our news QA set.

Every retrieved passage's candidate answer is collected once per set, through the library as it
runs; the library's decision (``newsqa.answer.decide``) is then replayed at the default bar, the
strict bar and every bar of a sweep. Scores use SQuAD's normalisation, best over the golds; an
abstention is the empty answer. Reported per set: HasAns F1, NoAns accuracy, the share answered,
all-F1, refusals by kind, the frontier (HasAns F1 where NoAns accuracy reaches 50/60/70 %) and
the reliability of ``Answer.confidence`` (right: F1 >= 0.5; ECE, and where questions have
several references, the ECE against one of them at a time, averaged).

    python benchmarks/eval_qa.py --sets squad-gold tweetqa news --limit 1000
    NEWSQA_DECODING=reference python benchmarks/eval_qa.py --name eval_qa_reference  # generate
"""

from __future__ import annotations

import argparse
import gzip
import pickle
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import CACHE  # noqa: E402
from common import add_precision_option, print_table, write_result  # noqa: E402
from qa_sets import SETS, collect, sample, score_f1  # noqa: E402

from newsqa import NewsQA, confidence  # noqa: E402
from newsqa.answer import Candidate, decide, verify  # noqa: E402
from newsqa.calibration import reliability  # noqa: E402
from newsqa.core import CHUNK_TOKENS, TOP_K  # noqa: E402
from newsqa.metrics import best_over_golds, exact_match, f1_score  # noqa: E402

FRONTIER = (50, 60, 70)


def score(rows: list[dict], answers: dict) -> dict:
    """SQuAD v2 scores and refusals by kind for one decision per question."""
    parts: dict[str, list[tuple[float, float]]] = {"all": [], "HasAns": [], "NoAns": []}
    refused: dict[str, list[bool]] = {}
    for row in rows:
        answer = answers[row["id"]]
        text = answer.text if answer.answerable else ""
        pair = (
            best_over_golds(exact_match, text, row["golds"]),
            best_over_golds(f1_score, text, row["golds"]),
        )
        parts["all"].append(pair)
        parts["HasAns" if row["golds"] else "NoAns"].append(pair)
        refused.setdefault(row["kind"], []).append(not answer.answerable)
    result = {
        name: {
            "count": len(pairs),
            "exact": round(100 * sum(p[0] for p in pairs) / len(pairs), 2),
            "f1": round(100 * sum(p[1] for p in pairs) / len(pairs), 2),
        }
        for name, pairs in parts.items()
        if pairs
    }
    result["answered"] = round(100 * sum(a.answerable for a in answers.values()) / len(rows), 2)
    result["refused_by_kind"] = {
        kind: round(100 * sum(flags) / len(flags), 2) for kind, flags in refused.items()
    }
    if any("type" in row for row in rows):
        result["by_type"] = by_type(rows, answers)
    return result


def by_type(rows: list[dict], answers: dict) -> dict:
    """Per question type (count, place, why...): HasAns F1 and the share of the on-topic
    unanswered questions refused."""
    types: dict[str, dict] = {}
    for row in rows:
        answer = answers[row["id"]]
        entry = types.setdefault(row["type"], {"f1": [], "unanswered_refused": []})
        if row["golds"]:
            text = answer.text if answer.answerable else ""
            entry["f1"].append(best_over_golds(f1_score, text, row["golds"]))
        elif row["kind"] == "on-topic-unanswered":
            entry["unanswered_refused"].append(not answer.answerable)
    return {
        name: {
            "answerable": len(entry["f1"]),
            "HasAns_f1": round(100 * sum(entry["f1"]) / len(entry["f1"]), 2)
            if entry["f1"]
            else None,
            "on_topic_unanswered": len(entry["unanswered_refused"]),
            "refused": round(
                100 * sum(entry["unanswered_refused"]) / len(entry["unanswered_refused"]), 2
            )
            if entry["unanswered_refused"]
            else None,
        }
        for name, entry in sorted(types.items())
    }


def quintiles(pairs: list[tuple[float, float]]) -> list[dict]:
    """Answered questions in five equal groups by confidence: each group's mean confidence and
    mean F1 (the F1 should rise from each group to the next)."""
    ordered = sorted(pairs)
    groups = [ordered[len(ordered) * k // 5 : len(ordered) * (k + 1) // 5] for k in range(5)]
    return [
        {
            "questions": len(group),
            "confidence": round(sum(c for c, _ in group) / len(group), 3),
            "f1": round(sum(f for _, f in group) / len(group), 3),
        }
        for group in groups
        if group
    ]


def candidates(qa: NewsQA, rows: list[dict], cache: Path, reuse: bool) -> dict:
    """Each question's candidates, collected through the library and kept in ``cache`` (a local
    pickle under models/runs); with ``reuse``, read back from there, so that a refitted
    calibrator is replayed on the same candidates without generating again. Where the
    calibrator weighs the answer verifier, each candidate is verified after."""
    if reuse and cache.exists():
        with gzip.open(cache, "rb") as handle:
            stored = pickle.load(handle)
        found = {key: [refreshed(c) for c in listed] for key, listed in stored.items()}
    else:
        found = collect(qa, rows)
        cache.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(cache, "wb") as handle:
            pickle.dump(found, handle)
    if qa.verifier is None:
        return found
    keys = list(found)
    return dict(zip(keys, verify([found[key] for key in keys], qa.verifier)))


def refreshed(candidate: Candidate) -> Candidate:
    """A kept candidate with its features as the library computes them today (where it kept
    its evidence; one kept before candidates held it is replayed as it was)."""
    if candidate.evidence is None:
        return candidate
    return replace(candidate, features=confidence.features(candidate.evidence))


def candidate_cache(
    name: str, qa: NewsQA, model: str | None, free: bool, tag: str, limit: int | None
) -> Path:
    """Where a run on set ``name`` with these settings keeps its candidates."""
    settings = f"{model or 'newsqa-mini'}_{qa.generator.precision}_{free}"
    settings += "" if qa.generator.fast else "_reference"  # $NEWSQA_DECODING=reference
    settings += f"_{tag}" if tag else ""
    if (qa.chunk_tokens, qa.top_k) != (CHUNK_TOKENS, TOP_K):
        settings += f"_chunks{qa.chunk_tokens}x{qa.top_k}"
    return CACHE / f"eval_qa_{name}_{settings}_{limit}.pkl.gz".replace("/", "-")


def evaluate(qa: NewsQA, rows: list[dict], cache: Path, reuse: bool) -> dict:
    """Scores at the default and strict bars, the frontier and the reliability table."""
    found = candidates(qa, rows, cache, reuse)

    def at(bar: float) -> dict:
        answers = {r["id"]: decide(found[r["id"]], qa.calibrator, bar) for r in rows}
        return score(rows, answers)

    sweep = {bar / 100: at(bar / 100) for bar in range(0, 100, 2)}
    result = {
        "questions": len(rows),
        "default": at(qa.calibrator.min_confidence) | {"bar": qa.calibrator.min_confidence},
        "strict": at(qa.calibrator.strict_confidence) | {"bar": qa.calibrator.strict_confidence},
        "abstention_off": sweep[0.0],
        "by_bar": {
            f"{bar:.2f}": {
                "answered": found["answered"],
                "HasAns_f1": found.get("HasAns", {}).get("f1"),
                "NoAns_acc": found.get("NoAns", {}).get("exact"),
                "all_f1": found["all"]["f1"],
                "refused_by_kind": found["refused_by_kind"],
            }
            for bar, found in sweep.items()
        },
    }
    if any(not r["golds"] for r in rows):
        frontier = {}
        for target in FRONTIER:
            reaching = [s for s in sweep.values() if s["NoAns"]["exact"] >= target]
            frontier[f"NoAns {target}"] = max((s["HasAns"]["f1"] for s in reaching), default=None)
        result["frontier_HasAns_f1"] = frontier
    pairs, graded, one_reference = [], [], []
    for row in rows:
        answer = decide(found[row["id"]], qa.calibrator, 0.0)
        if answer.answerable:
            f1 = score_f1(answer.text, row["golds"]) if row["golds"] else 0.0
            pairs.append((answer.confidence, float(f1 >= 0.5), 1.0))
            graded.append((answer.confidence, f1))
            right = [score_f1(answer.text, [gold]) >= 0.5 for gold in row["golds"]] or [False]
            one_reference.append((answer.confidence, sum(right) / len(right), 1.0))
    result["f1_by_confidence_quintile"] = quintiles(graded)
    table, ece = reliability(pairs)
    result["reliability"] = [
        dict(zip(["bin", "questions", "confidence", "right"], r)) for r in table
    ]
    result["ece"] = round(ece, 4)
    if any(len(row["golds"]) > 1 for row in rows):
        # the calibrator learns from questions with one reference each; scored best over
        # several, more answers count as right at the same confidence
        result["ece_one_reference"] = round(reliability(one_reference)[1], 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--limit", type=int, default=None, help="sample this many of each set")
    parser.add_argument("--model", default=None, help="seq2seq model (default: newsqa-mini)")
    parser.add_argument("--free", action="store_true", help="free decoding instead of grounded")
    add_precision_option(parser)
    parser.add_argument("--name", default=None, help="results file name")
    parser.add_argument(
        "--tag",
        default="",
        help="names the weights under test in the candidate cache (a candidate model swapped "
        "into the bundled folder must not replay the shipped weights' candidates)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="replay the decisions on the candidates an earlier run with the same settings kept",
    )
    parser.add_argument(
        "--chunk-tokens",
        type=int,
        default=CHUNK_TOKENS,
        help=f"passage bound in embedder tokens (default {CHUNK_TOKENS})",
    )
    parser.add_argument("--top-k", type=int, default=TOP_K, help="passages read per question")
    args = parser.parse_args()

    qa = NewsQA(
        device="cpu",
        model=args.model,
        grounded=not args.free,
        precision=args.precision,
        top_k=args.top_k,
        chunk_tokens=args.chunk_tokens,
    )
    results, table = {}, []
    for name in args.sets:
        rows = sample(SETS[name](), args.limit)
        cache = candidate_cache(name, qa, args.model, args.free, args.tag, args.limit)
        result = evaluate(qa, rows, cache, args.reuse)
        results[name] = result
        for setting in ("default", "strict", "abstention_off"):
            found = result[setting]
            table.append(
                [
                    name,
                    setting,
                    found.get("bar", 0.0),
                    found["HasAns"]["f1"] if "HasAns" in found else "",
                    found["NoAns"]["exact"] if "NoAns" in found else "",
                    found["answered"],
                    found["all"]["f1"],
                    " ".join(f"{k}:{v}" for k, v in found["refused_by_kind"].items()),
                ]
            )
    print_table(
        f"Question answering ({qa.generator.precision})",
        ["set", "bar", "min conf", "HasAns F1", "NoAns acc", "answered %", "all F1", "refused %"],
        table,
    )
    for name, result in results.items():
        if "frontier_HasAns_f1" in result:
            print(f"{name} frontier (HasAns F1 at NoAns %): {result['frontier_HasAns_f1']}")
        single = result.get("ece_one_reference")
        against_one = f" ({single} against one reference, averaged)" if single else ""
        print(f"{name} reliability: ECE {result['ece']}{against_one}")
        rising = " < ".join(f"{q['f1']:.2f}" for q in result["f1_by_confidence_quintile"])
        print(f"{name} F1 by confidence quintile (never refusing): {rising}")
        for kind, entry in result["default"].get("by_type", {}).items():
            print(f"{name} {kind}: {entry}")
    path = write_result(
        args.name or f"eval_qa_{qa.generator.precision}",
        {
            "model": args.model or "newsqa-mini",
            "limit": args.limit,
            "precision": qa.generator.precision,
            "chunk_tokens": qa.chunk_tokens,
            "top_k": qa.top_k,
            "results": results,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
