"""Ingest to chunks in linear time: seconds per MB for four kinds of article at three sizes.

Each article is written to a file and goes through what ``NewsQA.prepare`` does before
embedding: ``ingest.load`` (read, decode, clean), ``split_sentences`` and ``chunk_sentences``
with the embedding model's token count. Kinds: news prose, the same words without punctuation
on one line (a transcript), one giant token, and an HTML page of prose. Target: at most 5 s per
MB for every kind, and seconds per MB at 10 MB close to that at 0.1 MB (the ratio column: 1.0
is linear; quadratic work would give ~100).

    python benchmarks/bench_ingest.py                  # 0.1, 1 and 10 MB: run it alone
    python benchmarks/bench_ingest.py --sizes 0.1      # a quick look
    python benchmarks/bench_ingest.py --ask            # also: ask on 200,000 unpunctuated words
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, write_result  # noqa: E402

from newsqa import ingest  # noqa: E402
from newsqa.chunk import chunk_sentences, split_sentences  # noqa: E402
from newsqa.core import CHUNK_TOKENS  # noqa: E402
from newsqa.embed import Embedder  # noqa: E402

MB = 1_000_000
KINDS = ("prose", "unpunctuated", "giant-token", "html")


def _seed_paragraphs() -> list[str]:
    text = resources.files("newsqa.data").joinpath("article.txt").read_text(encoding="utf-8")
    return [p.strip() for p in ingest.strip_furniture(text).split("\n\n") if p.strip()]


def make_article(kind: str, size: int) -> str:
    """An article of ``kind``, ``size`` bytes of UTF-8 (give or take one repeat)."""
    paragraphs = _seed_paragraphs()
    prose = "\n\n".join(paragraphs)
    if kind == "prose":
        body = prose
    elif kind == "unpunctuated":
        body = " ".join(re.sub(r"[^\w\s]", " ", prose).split())
    elif kind == "giant-token":
        body = "abcdefghijklmnopqrstuvwxyz0123456789"
    elif kind == "html":
        body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    else:
        raise ValueError(kind)
    separator = " " if kind == "unpunctuated" else "" if kind == "giant-token" else "\n\n"
    repeats = size // len((body + separator).encode("utf-8")) + 1
    text = separator.join([body] * repeats)
    while len(text.encode("utf-8")) > size:
        text = text[: len(text) - (len(text.encode("utf-8")) - size)]
    if kind == "html":
        return (
            "<!doctype html><html><head><title>Afghan soldiers cross the border</title>"
            "<script>var tracking = 1;</script></head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>Afghan soldiers cross the border</h1>{text}</article></body></html>"
        )
    return text


def measure(path: Path, count_tokens) -> dict:
    """Seconds for each stage, from the file to the chunks."""
    started = time.perf_counter()
    document = ingest.load(str(path))
    loaded = time.perf_counter()
    sentences = split_sentences(document.text)
    split = time.perf_counter()
    chunks = chunk_sentences(document.text, sentences, count_tokens, max_tokens=CHUNK_TOKENS)
    chunked = time.perf_counter()
    return {
        "ingest_s": loaded - started,
        "split_s": split - loaded,
        "chunk_s": chunked - split,
        "total_s": chunked - started,
        "sentences": len(sentences),
        "chunks": len(chunks),
    }


def ask_unpunctuated(words: int, folder: Path) -> dict:
    """The whole ``ask`` (add, embed, answer) on ``words`` unpunctuated words: loads the
    generator. Target: under 30 s on 2 cores."""
    import newsqa

    text = " ".join(make_article("unpunctuated", words * 8).split()[:words])
    path = folder / "unpunctuated-words.txt"
    path.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    qa = newsqa.NewsQA(device="cpu")
    article = qa.add(str(path))
    added = time.perf_counter()
    answer = qa.ask("how many members of the Afghanistan forces crossed the border?", article)
    done = time.perf_counter()
    return {
        "words": len(text.split()),
        "bytes": len(text.encode("utf-8")),
        "add_s": added - started,
        "ask_s": done - added,
        "total_s": done - started,
        "answer": answer.text,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.1, 1.0, 10.0], help="MB")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--ask", action="store_true", help="also time ask on 200,000 words")
    parser.add_argument("--name", default="bench_ingest", help="results/NAME.json")
    args = parser.parse_args()

    count_tokens = Embedder().count_tokens
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        for kind in KINDS:  # first calls import trafilatura and pysbd: keep them out of the table
            warm = Path(folder) / f"warm-{kind}.txt"
            warm.write_text(make_article(kind, 20_000), encoding="utf-8")
            measure(warm, count_tokens)
        for kind in args.kinds:
            for size_mb in sorted(args.sizes):
                suffix = "html" if kind == "html" else "txt"
                path = Path(folder) / f"{kind}-{size_mb}.{suffix}"
                path.write_text(make_article(kind, int(size_mb * MB)), encoding="utf-8")
                row = {"kind": kind, "mb": path.stat().st_size / MB, **measure(path, count_tokens)}
                row["s_per_mb"] = row["total_s"] / row["mb"]
                results.append(row)
                print(f"{kind} {size_mb} MB: {row['total_s']:.2f} s", flush=True)
        ask = ask_unpunctuated(200_000, Path(folder)) if args.ask else None

    rows = []
    for row in results:
        smallest = next(r for r in results if r["kind"] == row["kind"])
        row["ratio_to_smallest"] = row["s_per_mb"] / smallest["s_per_mb"]
        rows.append(
            [
                row["kind"],
                f"{row['mb']:.1f}",
                row["ingest_s"],
                row["split_s"],
                row["chunk_s"],
                row["total_s"],
                row["s_per_mb"],
                row["ratio_to_smallest"],
                row["chunks"],
            ]
        )
    header = ["kind", "MB", "ingest s", "split s", "chunk s", "total s", "s/MB", "ratio", "chunks"]
    print_table("Ingest to chunks, seconds per MB (target <= 5; ratio ~1 is linear)", header, rows)
    if ask:
        print(f"\nask on {ask['words']:,} unpunctuated words: {ask['total_s']:.1f} s (target < 30)")
    target = write_result(args.name, {"target_s_per_mb": 5.0, "results": results, "ask": ask})
    print(f"\nwrote {target}")


if __name__ == "__main__":
    main()
