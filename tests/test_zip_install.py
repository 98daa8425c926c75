"""newsqa imported from a zip: package data comes out as real folders (newsqa/resources.py).

A wheel is the installed package's files zipped; put on ``sys.path`` it is imported by zipimport,
as a zip-safe install or a zipped site-packages would be. There, ``importlib.resources`` gives
paths inside the archive, which no model loader can open: the bundled model, newsqa-base's delta
folder and the seed article must come back as real files, extracted once into the user cache.

The fast tests build a small zip package; the slow one (marked ``install``) builds the wheel from
a clean copy of the checkout with tests/test_install.py's helpers and runs it in a Python that
sees only that wheel and the dependencies (no site-packages, so not the editable install).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_install import ROOT, build_wheel, clean_copy, link_dependencies, outside_env

import newsqa
from newsqa import resources as package_data

# ---------------------------------------------------------------- a small package in a zip


def zipped_package(where: Path, name: str, files: dict[str, bytes]) -> Path:
    """A zip holding the package ``name`` (``files``: path under it -> bytes), on ``sys.path``
    once the caller prepends it."""
    where.mkdir(parents=True, exist_ok=True)
    archive = where / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(f"{name}/__init__.py", b"")
        for relative, payload in files.items():
            out.writestr(f"{name}/{relative}", payload)
    return archive


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """Where extracted packages go, in tmp_path (the slow test checks the real user cache)."""
    monkeypatch.setattr(package_data, "cache_root", lambda: tmp_path / "cache")
    return tmp_path / "cache"


FILES = {
    "model.bin": os.urandom(300_000),
    "config.json": b'{"layers": 2}\n',
    "sub/deeper.txt": "déjà vu\n".encode(),
    "__pycache__/stale.cpython-311.pyc": b"not data",
}


def import_from_zip(tmp_path, monkeypatch, name: str, files: dict[str, bytes]) -> Path:
    archive = zipped_package(tmp_path, name, files)
    monkeypatch.syspath_prepend(str(archive))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return archive


def test_a_package_on_the_file_system_is_its_own_folder(cache):
    assert package_data.package_folder("newsqa.data") == ROOT / "newsqa" / "data"
    assert not cache.exists()  # nothing extracted


def test_a_zipped_package_is_extracted_once_into_the_cache(tmp_path, monkeypatch, cache):
    import_from_zip(tmp_path, monkeypatch, "zipdemo_once", FILES)
    folder = package_data.package_folder("zipdemo_once")
    assert folder.parent == cache
    assert folder.name.startswith(f"zipdemo_once-{newsqa.__version__}-")
    assert (folder / "model.bin").read_bytes() == FILES["model.bin"]
    assert (folder / "sub" / "deeper.txt").read_text(encoding="utf-8") == "déjà vu\n"
    assert not (folder / "__pycache__").exists()
    assert [p.name for p in cache.iterdir()] == [folder.name]  # no temporary folder left

    def no_copy(*args, **kwargs):
        raise AssertionError("extracted again")

    monkeypatch.setattr(shutil, "copyfileobj", no_copy)
    assert package_data.package_folder("zipdemo_once") == folder


def test_changed_contents_get_a_new_folder(tmp_path, monkeypatch, cache):
    import_from_zip(tmp_path, monkeypatch, "zipdemo_changed", FILES)
    first = package_data.package_folder("zipdemo_changed")
    changed = {**FILES, "model.bin": os.urandom(300_000)}  # same size, other bytes
    import_from_zip(tmp_path / "other", monkeypatch, "zipdemo_changed", changed)
    second = package_data.package_folder("zipdemo_changed")
    assert second != first
    assert (second / "model.bin").read_bytes() == changed["model.bin"]


def test_a_crash_while_extracting_leaves_no_half_folder(tmp_path, monkeypatch, cache):
    import_from_zip(tmp_path, monkeypatch, "zipdemo_crash", FILES)
    copy = shutil.copyfileobj
    copied = []

    def crash_on_the_second_file(source, out, length=0):
        if copied:
            raise OSError("disk full")
        copied.append(out.name)
        copy(source, out, length)

    monkeypatch.setattr(shutil, "copyfileobj", crash_on_the_second_file)
    with pytest.raises(OSError, match="disk full"):
        package_data.package_folder("zipdemo_crash")
    assert list(cache.iterdir()) == []  # neither a folder under the final name nor the temp
    monkeypatch.setattr(shutil, "copyfileobj", copy)
    folder = package_data.package_folder("zipdemo_crash")
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == [
        "__init__.py",
        "config.json",
        "deeper.txt",
        "model.bin",
    ]


def test_another_process_finishing_first_is_used(tmp_path, monkeypatch, cache):
    """Two extractions at once: the one that renames second keeps the first's folder."""
    import_from_zip(tmp_path, monkeypatch, "zipdemo_race", FILES)
    rename = os.rename

    def the_other_wins(source, target):
        shutil.copytree(source, target)  # the other process's complete copy lands first
        rename(source, target)  # raises: the target is there and not empty

    monkeypatch.setattr(os, "rename", the_other_wins)
    folder = package_data.package_folder("zipdemo_race")
    assert (folder / "model.bin").read_bytes() == FILES["model.bin"]
    assert [p.name for p in cache.iterdir()] == [folder.name]


# ---------------------------------------------------------------- newsqa itself from a zip

PROBE = """
import json, sys
sys.path[:0] = [{wheel!r}, {deps!r}]
import newsqa
from newsqa.base_model import delta_path, has_weights
from newsqa.cli import default_article_path
from newsqa.generate import bundled_model_path
print(json.dumps({{
    "newsqa": newsqa.__file__,
    "loader": type(newsqa.__loader__).__name__,
    "model": str(bundled_model_path()),
    "article": default_article_path().read_text(encoding="utf-8"),
    "delta": str(delta_path()),
    "delta_trained": has_weights(delta_path()),
}}))
"""

ASK = """
import sys
sys.path[:0] = [{wheel!r}, {deps!r}]
question = "how many members of the Afghanistan forces crossed the border?"
sys.argv = ["newsqa", "ask", question, "--json"]
from newsqa.cli import main
main()
"""


@pytest.mark.install
def test_newsqa_runs_from_a_zip(tmp_path):
    """The wheel on sys.path (zipimport), nothing else of newsqa: the model and the seed article
    come out of the archive into the user cache once, and `newsqa ask` answers from them."""
    source = clean_copy(tmp_path / "source")
    wheel = build_wheel(source, tmp_path / "wheel")
    deps = link_dependencies(tmp_path / "deps")
    home = tmp_path / "home"
    (home / "work").mkdir(parents=True)
    env = outside_env(home)

    def python(script: str) -> subprocess.CompletedProcess:
        # -I: no PYTHONPATH, user site or current folder; -S: no site-packages (the checkout's
        # editable install lives there): only the wheel, the dependencies and the stdlib.
        code = script.format(wheel=str(wheel), deps=str(deps))
        return subprocess.run(
            [sys.executable, "-I", "-S", "-c", code],
            cwd=home / "work",
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    done = python(PROBE)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    assert found["newsqa"].startswith(str(wheel)), found
    assert found["loader"] == "zipimporter", found
    cache = home / ".cache" / "newsqa" / "packages"
    model = Path(found["model"])
    assert model.parent == cache and model.is_dir(), found
    assert model.name.startswith(f"newsqa.bundled_model-{newsqa.__version__}-")
    shipped = ROOT / "models" / "newsqa-mini"
    for name in ["model.safetensors", "config.json", "tokenizer.json", "calibration.json"]:
        assert (model / name).stat().st_size == (shipped / name).stat().st_size, name
    seed = (ROOT / "newsqa" / "data" / "article.txt").read_text(encoding="utf-8")
    assert found["article"] == seed
    delta = Path(found["delta"])
    assert delta.parent == cache and (delta / "README.md").is_file(), found
    assert found["delta_trained"] is True  # the committed delta comes out of the archive
    extracted = sorted(p.name for p in cache.iterdir())

    again = python(PROBE)  # a second run reuses the copies: no new folder, no temporary left
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["model"] == found["model"]
    assert sorted(p.name for p in cache.iterdir()) == extracted
    assert not [name for name in extracted if name.startswith(".")]

    asked = python(ASK)
    assert asked.returncode == 0, asked.stderr[-3000:]
    answer = json.loads(asked.stdout)
    assert answer["answerable"] is True and answer["text"] == "46", answer
    assert "46 members of the Afghanistan forces" in answer["evidence"][0]["sentence"]
    assert "bundled default article" in asked.stderr
