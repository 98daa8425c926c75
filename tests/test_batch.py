"""newsqa batch and add --ray: real models, real articles, and a real local Ray started here.

Every batch line is checked against what the sequential in-process API answers for the same
article alone (what ``newsqa ask --json --article FILE`` prints). The whole module runs torch on
one thread, as Ray's one-CPU actors do: bf16 matmuls round differently with the thread count.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from newsqa import NewsQA, batch

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "newsqa" / "data" / "article.txt"
DEV = ROOT.parent / "shared" / "data" / "summ-dev-public.jsonl"
QUESTIONS = ["how many soldiers?", "who will be confirmed as manager?"]


def environment(**more: str) -> dict[str, str]:
    """This process's environment (with Ray's, once it has started) for a CLI run."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "NEWSQA_NO_SERVER": "1", **more}


def short(text: str, limit: int) -> str:
    """The article's first sentences, up to about ``limit`` characters."""
    cut = text.rfind(". ", 0, limit)
    return text[: cut + 1] if cut > 0 else text[:limit]


def dev_articles(number: int, limit: int) -> list[dict]:
    rows = [json.loads(line) for line in DEV.open()][:number]
    return [{"id": row["id"], "text": short(row["article"], limit)} for row in rows]


def write_jsonl(path: Path, records: list[dict], extra: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + extra)
    return path


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def keyed(lines: list[dict]) -> dict[tuple, dict]:
    keys = [(line["source"], line.get("question")) for line in lines]
    assert len(keys) == len(set(keys)), "a key written twice"
    return dict(zip(keys, lines))


def sequential(sources: dict[str, str | Path]) -> dict[tuple, dict]:
    """The reference: each article alone in a fresh NewsQA, one ``ask`` per question."""
    expected = {}
    for source, article in sources.items():
        qa = NewsQA(device="cpu")
        added = qa.add(str(article)) if isinstance(article, Path) else qa.add_text(article)
        for question in QUESTIONS:
            answer = qa.ask(question, article=added.id).to_dict()
            line = {"source": source, "article_id": added.id, "question": question}
            expected[(source, question)] = {**line, "answer": answer}
    return expected


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ray_address():
    import ray

    ray.init(num_cpus=2, include_dashboard=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[list[str], dict, set]:
    """The bundled article, two short news articles in a JSONL archive (and a line that is not
    JSON), an empty file: the specs, the reference answers, and the keys that must be errors."""
    folder = tmp_path_factory.mktemp("articles")
    news = dev_articles(3, 700)[::2]
    archive = write_jsonl(folder / "news.jsonl", news, extra="not json\n")
    empty = folder / "empty.txt"
    empty.write_text("")
    sources = {str(BUNDLED): BUNDLED, **{f"{archive}#{r['id']}": r["text"] for r in news}}
    errors = {(s, q) for s in (f"{archive}#{len(news) + 1}", str(empty)) for q in QUESTIONS}
    return [str(BUNDLED), str(archive), str(empty)], sequential(sources), errors


def check(out: Path, expected: dict, errors: set) -> None:
    """Every expected line exactly once, equal to the reference; the errors as error lines."""
    found = keyed(read_lines(out))
    assert set(found) == set(expected) | errors
    for key in errors:
        assert found[key]["error"] and "answer" not in found[key]
    for key, line in expected.items():
        assert found[key] == line


def test_in_process_batch_equals_sequential_and_resumes_as_done(inputs, tmp_path):
    specs, expected, errors = inputs
    out = tmp_path / "answers.jsonl"
    report = batch.ask(QUESTIONS, specs, out, device="cpu")
    check(out, expected, errors)
    assert (report.articles, report.lines, report.errors) == (5, 10, 4)
    assert sum(line["answer"]["answerable"] for line in expected.values()) >= 2  # with evidence
    again = batch.ask(QUESTIONS, specs, out, device="cpu")
    assert (again.articles, again.lines, again.already_done) == (0, 0, 5)
    check(out, expected, errors)


def test_in_process_batch_summaries_equal_summarize(tmp_path):
    news = dev_articles(2, 900)
    archive = write_jsonl(tmp_path / "news.jsonl", news)
    out = tmp_path / "summaries.jsonl"
    batch.summarize([str(archive)], out, words=30, device="cpu")
    found = keyed(read_lines(out))
    assert set(found) == {(f"{archive}#{r['id']}", None) for r in news}
    qa = NewsQA(device="cpu")
    for record in news:
        article = qa.add_text(record["text"])
        summary = qa.summarize(article=article.id, max_words=30).to_dict()
        line = found[(f"{archive}#{record['id']}", None)]
        assert line == {"source": line["source"], "article_id": article.id, "summary": summary}


def test_ray_batch_equals_sequential(inputs, ray_address, tmp_path):
    specs, expected, errors = inputs
    out = tmp_path / "answers.jsonl"
    report = batch.ask(QUESTIONS, specs, out, ray=True, device="cpu")
    assert report.workers == 2  # one actor per CPU of the cluster
    check(out, expected, errors)


@pytest.fixture(scope="module")
def eight(tmp_path_factory) -> tuple[Path, dict]:
    """Eight short news articles in an archive, and their reference answers."""
    news = dev_articles(8, 500)
    archive = write_jsonl(tmp_path_factory.mktemp("eight") / "eight.jsonl", news)
    return archive, sequential({f"{archive}#{r['id']}": r["text"] for r in news})


def wait_for_lines(out: Path, at_least: int, process=None, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = out.read_bytes().count(b"\n") if out.exists() else 0
        if lines >= at_least:
            return lines
        assert process is None or process.poll() is None, "the run ended before it was killed"
        time.sleep(0.02)
    raise AssertionError(f"fewer than {at_least} lines in {out} after {timeout} s")


def test_a_batch_killed_with_sigkill_and_restarted_ends_exactly_once(eight, ray_address, tmp_path):
    archive, expected = eight
    out = tmp_path / "answers.jsonl"
    command = [sys.executable, "-m", "newsqa.cli", "batch", "ask", *QUESTIONS]
    command += ["--articles", str(archive), "--out", str(out), "--device", "cpu"]
    with (tmp_path / "stderr").open("w") as stderr:
        first = subprocess.Popen(command, env=environment(OMP_NUM_THREADS="1"), stderr=stderr)
        written = wait_for_lines(out, 2, first)
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert 2 <= written < len(expected) - 2  # killed mid-run
    with out.open("ab") as handle:  # and as if killed in the middle of writing a line
        handle.write(b'{"source": "' + str(archive).encode() + b"#dm-test-")
    # the restart runs on Ray: same output file, same keys
    second = subprocess.run(
        [*command, "--ray-address", ray_address], env=environment(), capture_output=True, text=True
    )
    assert second.returncode == 0, second.stderr
    assert "articles done before" in second.stderr
    found = keyed(read_lines(out))
    assert found == expected


def model_actors() -> set[int]:
    """The process ids of this machine's newsqa model actors."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"ray::MapWorker(Map(ModelActor))"):
                pids.add(int(entry.name))
    return pids


def test_a_killed_ray_actor_is_restarted_and_nothing_is_lost(eight, ray_address, tmp_path):
    archive, expected = eight
    out = tmp_path / "answers.jsonl"
    outcome = {}

    def run() -> None:
        try:
            outcome["report"] = batch.ask(
                QUESTIONS, [str(archive)], out, ray=True, actors=1, device="cpu"
            )
        except BaseException as error:  # handed to the test's thread
            outcome["error"] = error

    before = model_actors()
    thread = threading.Thread(target=run)
    thread.start()
    written = wait_for_lines(out, 2)
    (victim,) = model_actors() - before
    os.kill(victim, signal.SIGKILL)
    assert written < len(expected) - 4  # it had articles left to do
    thread.join(timeout=600)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["report"].errors == 0
    assert keyed(read_lines(out)) == expected


def test_add_on_ray_200_articles_then_doctor_is_clean_and_each_is_found(ray_address, tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    rows = [json.loads(line) for line in DEV.open()]
    assert len(rows) == 200
    for number, row in enumerate(rows):
        (folder / f"{number:03}.txt").write_text(short(row["article"], 400))
    library = tmp_path / "library"
    env = environment(NEWSQA_LIBRARY=str(library))
    command = [sys.executable, "-m", "newsqa.cli"]
    added = subprocess.run(
        [
            *command,
            "add",
            str(folder),
            "--json",
            "--ray-address",
            ray_address,
            "--date",
            "2021-07-26",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr
    results = json.loads(added.stdout)
    assert Counter(r["status"] for r in results) == {"added": 200}
    doctor = subprocess.run([*command, "doctor"], env=env, capture_output=True, text=True)
    assert doctor.returncode == 0, doctor.stderr
    assert doctor.stdout.strip().startswith("ok: 200 articles")
    qa = NewsQA(path=str(library), device="cpu")
    ids = {r["id"] for r in results}
    assert {a.id for a in qa.articles()} == ids
    assert {a.published for a in qa.articles()} == {"2021-07-26"}  # --date reached every one
    # each article is indexed under its own id: its text finds it first among all 200
    articles = qa.articles()
    found = qa.retrieve_many([a.text for a in articles], None, 1)
    assert [hits[0].article_id for hits in found] == [a.id for a in articles]
    answer = qa.ask(QUESTIONS[1])
    assert answer.answerable and answer.evidence[0].article_id in ids


def newsqa_cli(*args: str, before: str, env: dict) -> subprocess.CompletedProcess:
    """The CLI as ``newsqa`` runs it, with ``before`` run first."""
    script = f"import sys; {before}; from newsqa.cli import main; sys.argv[0] = 'newsqa'; main()"
    return subprocess.run(
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["batch", "ask", "who?", "--articles", "no/such.txt", "--out", "o.jsonl"], "no such file"),
        (["batch", "ask", "who?", "--articles", "no/*.txt", "--out", "o.jsonl"], "no articles"),
        (["batch", "summarize", "--articles", str(BUNDLED), "--out", "/"], "is a folder"),
        (["batch", "ask", "who?", str(BUNDLED), "--articles", str(BUNDLED), "--out", "o"], "quote"),
    ],
)
def test_batch_user_errors_are_one_line(args, message, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "newsqa.cli", *args],
        env=environment(),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_ray_not_installed_says_how_to_get_it(tmp_path):
    out = tmp_path / "o.jsonl"
    block = "sys.modules['ray'] = None"  # as on a machine without the extra
    env = environment(NEWSQA_LIBRARY=str(tmp_path / "library"))
    for args in (
        ["batch", "ask", "who?", "--articles", str(BUNDLED), "--out", str(out), "--ray"],
        ["add", str(BUNDLED), "--ray"],
    ):
        result = newsqa_cli(*args, before=block, env=env)
        assert result.returncode == 2, result.stderr
        assert "pip install 'newsqa[ray]'" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
