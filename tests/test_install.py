"""newsqa installed the way users install it, not from the checkout.

The sdist and the wheel are built from a clean copy of the sources (git's tracked files, so no
untracked weights in models/newsqa-base slip into newsqa/base_delta); the wheel built from the
sdist (as `python -m build` and PyPI users get it) must hold the same files as the one built
directly (`pip wheel .`). It is installed, without its dependencies and from no index, into a
throw-away virtual environment whose only view of the dependencies is a folder of links to this
environment's packages, newsqa's own left out: so the code, the bundled model and the default
article that run are the wheel's, from a folder outside the checkout. Then the command line runs
there as a user runs it: `newsqa ask` (the bundled default article, answered with evidence),
`newsqa summarize`, `newsqa models list`, `newsqa --version`, `python -m newsqa`, the Python
API, `newsqa serve` (the `serve` extra), newsqa-base's one line (its encoder), and each extra
resolves on its own. tests/test_zip_install.py reuses the helpers to run the wheel as a zip.

About a minute on 2 cores: two builds of a 97 MB wheel, one sdist, three model loads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from readme_blocks import curl_requests

import newsqa

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parent.parent
# Outside a git checkout (no `git ls-files`): what a clean clone holds that the build needs, none
# of the local state (venv, caches, runs).
IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "checkpoints",
    "runs",
    "results",
    "*.pyc",
)

COUNT_QUESTION = "how many members of the Afghanistan forces crossed the border?"


def run(command: list[str], cwd: Path, env: dict | None = None, timeout: float = 600):
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, command))} exited {done.returncode}\n"
        f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    )
    return done


def pip(*arguments: str, cwd: Path, python: str = sys.executable):
    """This environment's pip (acting on ``python``'s environment), offline and quiet."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    if python != sys.executable:
        command += ["--python", python]
    return run([*command, *arguments], cwd=cwd)


def tracked_files() -> list[str] | None:
    """The checkout's tracked files (git's index, so files added but not committed count), or
    None outside a git checkout."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    except OSError:
        return None
    if listed.returncode != 0:
        return None
    return [name for name in listed.stdout.decode().split("\0") if name]


def clean_copy(destination: Path) -> Path:
    """What a clean clone holds, copied to ``destination``: the tracked files as the working tree
    has them, so nothing untracked leaks into a build (the venv, caches, runs, or weights left in
    models/newsqa-base, which the wheel would ship as newsqa/base_delta)."""
    tracked = tracked_files()
    if tracked is None:
        shutil.copytree(ROOT, destination, ignore=IGNORED, symlinks=True)
        return destination
    for name in tracked:
        source = ROOT / name
        if source.is_dir() or not (source.exists() or source.is_symlink()):
            continue  # a submodule, or a file deleted but not yet committed
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return destination


WHEEL_OPTIONS = ["--no-deps", "--no-build-isolation", "--no-index", "-q"]


def build_wheel(source: Path, out: Path) -> Path:
    """The wheel of ``source`` (a folder or an sdist) in ``out``, as `pip wheel` builds it."""
    pip("wheel", str(source), "-w", str(out), *WHEEL_OPTIONS, cwd=out.parent)
    (wheel,) = out.glob("newsqa-*.whl")
    return wheel


def link_dependencies(deps: Path) -> Path:
    """A folder of links to this environment's packages, newsqa's own (the editable install's
    finder and metadata) and .pth files left out, so nothing that sees it can import the
    checkout."""
    deps.mkdir(parents=True)
    packages = {Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    for folder in packages:
        for entry in folder.iterdir():
            name = entry.name.lower()
            if name.startswith(("newsqa", "__editable__", "_newsqa")) or name.endswith(".pth"):
                continue
            if not (deps / entry.name).exists():
                (deps / entry.name).symlink_to(entry)
    return deps


def outside_env(home: Path, path: Path | None = None) -> dict:
    """This process's environment less anything pointing newsqa or Python at the checkout, with
    ``home`` as the user's home (its data and cache folders) and ``path`` first on $PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "NEWSQA_SERVER"}
        and not key.startswith(("NEWSQA_", "XDG_"))
    }
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_VERBOSITY="error",
        NEWSQA_NO_SERVER="1",
    )
    if path is not None:
        env["PATH"] = f"{path}{os.pathsep}{env.get('PATH', '')}"
    return env


def wheel_files(wheel: Path) -> dict[str, int]:
    """Each file of a wheel and its size, its RECORD (which lists build-time hashes) left out."""
    with zipfile.ZipFile(wheel) as archive:
        return {
            info.filename: info.file_size
            for info in archive.infolist()
            if not info.filename.endswith(".dist-info/RECORD")
        }


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """The sdist, the wheel built from it and the wheel built directly, from a clean copy."""
    where = tmp_path_factory.mktemp("dist")
    source = clean_copy(where / "source")
    out = where / "out"
    run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
            str(out / "sdist"),
        ],
        cwd=source,
    )
    (sdist,) = (out / "sdist").glob("newsqa-*.tar.gz")
    direct = build_wheel(source, out / "direct")
    from_sdist = build_wheel(sdist, out / "from-sdist")
    return {"sdist": sdist, "wheel": direct, "wheel_from_sdist": from_sdist}


def test_the_sdist_builds_the_same_wheel_as_the_checkout(dist):
    direct, from_sdist = wheel_files(dist["wheel"]), wheel_files(dist["wheel_from_sdist"])
    assert sorted(direct) == sorted(from_sdist)
    assert direct == from_sdist
    with tarfile.open(dist["sdist"]) as sdist:
        names = sdist.getnames()
    assert any(name.endswith("models/newsqa-mini/model.safetensors") for name in names)
    assert any(name.endswith("LICENSE") for name in names)


def test_the_wheel_holds_the_model_the_article_and_the_page(dist):
    files = wheel_files(dist["wheel"])
    for name in [
        "newsqa/__main__.py",
        "newsqa/bundled_model/__init__.py",
        "newsqa/bundled_model/config.json",
        "newsqa/bundled_model/model.safetensors",
        "newsqa/bundled_model/tokenizer.json",
        "newsqa/bundled_model/calibration.json",
        "newsqa/bundled_model/MODEL_CARD.md",
        "newsqa/base_delta/__init__.py",
        "newsqa/base_delta/README.md",
        "newsqa/data/article.txt",
        "newsqa/serve/static/index.html",
    ]:
        assert name in files, name
    assert (
        files["newsqa/bundled_model/model.safetensors"]
        == (ROOT / "models" / "newsqa-mini" / "model.safetensors").stat().st_size
    )
    # newsqa-base's folder ships what git holds of it (its README and trained delta), never
    # weights left untracked in the checkout's models/newsqa-base.
    tracked = tracked_files()
    if tracked is not None:
        shipped = {
            name.removeprefix("newsqa/base_delta/")
            for name in files
            if name.startswith("newsqa/base_delta/")
        }
        held = {
            name.removeprefix("models/newsqa-base/")
            for name in tracked
            if name.startswith("models/newsqa-base/")
        }
        assert shipped == held, (shipped, held)
    # Only the shipped package: no tests, benchmarks or training code.
    assert {name.split("/")[0] for name in files} == {
        "newsqa",
        f"newsqa-{newsqa.__version__}.dist-info",
    }
    metadata = (
        zipfile.ZipFile(dist["wheel"])
        .read(f"newsqa-{newsqa.__version__}.dist-info/METADATA")
        .decode()
    )
    for field in ["Classifier: ", "Project-URL: ", "License-Expression: MIT"]:
        assert field in metadata, field
    for extra in ["serve", "base", "ray", "llm"]:
        assert f"Provides-Extra: {extra}" in metadata


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> dict:
    """A throw-away venv with the wheel installed, and a folder outside the checkout to run in."""
    where = tmp_path_factory.mktemp("venv")
    deps = link_dependencies(where / "deps")
    env_dir = where / "env"
    run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], cwd=where)
    python = str(env_dir / "bin" / "python")
    site = run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=where
    ).stdout.strip()
    (Path(site) / "newsqa_test_deps.pth").write_text(f"{deps}\n")
    pip("install", "--no-deps", "--no-index", str(dist["wheel"]), cwd=where, python=python)
    home = where / "home"  # the user data folder: a library, installed models
    (home / "work").mkdir(parents=True)
    env = outside_env(home, env_dir / "bin")
    return {
        "python": python,
        "bin": env_dir / "bin",
        "site": Path(site),
        "cwd": home / "work",
        "env": env,
        "wheel": dist["wheel"],
    }


def run_in(venv: dict, *command: str, timeout: float = 600, env: dict | None = None):
    return run(list(command), cwd=venv["cwd"], env=env or venv["env"], timeout=timeout)


def test_the_installed_package_is_the_wheels(venv):
    shown = run_in(
        venv,
        venv["python"],
        "-c",
        "import newsqa, newsqa.bundled_model as model; from newsqa.generate import "
        "bundled_model_path; from newsqa.base_model import delta_path; "
        "from newsqa.cli import default_article_path; print(newsqa.__file__); "
        "print(bundled_model_path()); print(delta_path()); print(default_article_path())",
    ).stdout.split()
    assert Path(shown[0]).is_relative_to(venv["site"]), shown
    assert Path(shown[1]) == venv["site"] / "newsqa" / "bundled_model", shown
    assert Path(shown[2]) == venv["site"] / "newsqa" / "base_delta", shown
    assert Path(shown[3]) == venv["site"] / "newsqa" / "data" / "article.txt", shown
    assert not Path(shown[0]).is_relative_to(ROOT)


def test_version_and_python_m(venv):
    version = run_in(venv, "newsqa", "--version").stdout.strip()
    assert version == f"newsqa {newsqa.__version__}"
    helped = run_in(venv, venv["python"], "-m", "newsqa", "--help").stdout
    assert "ask" in helped and "summarize" in helped and "serve" in helped
    assert run_in(venv, venv["python"], "-m", "newsqa", "--version").stdout.strip() == version


def test_models_list_finds_the_bundled_model(venv):
    rows = json.loads(run_in(venv, "newsqa", "models", "list", "--json").stdout)
    mini = next(row for row in rows if row["name"] == "newsqa-mini")
    assert mini["status"] == "bundled"
    assert Path(mini["path"]).is_relative_to(venv["site"])
    base = next(row for row in rows if row["name"] == "newsqa-base")
    assert base["status"].startswith("needs its encoder"), base  # the delta ships, not the encoder
    assert Path(base["path"]) == venv["site"] / "newsqa" / "base_delta"


def test_newsqa_base_in_the_wheel_asks_for_its_encoder(venv):
    """The wheel holds newsqa-base's trained delta (newsqa.base_delta); without the encoder it
    rests on, one line says how to install it."""
    from newsqa.base_model import DECODER_WEIGHTS

    delta = venv["site"] / "newsqa" / "base_delta"
    shipped = ROOT / "models" / "newsqa-base" / DECODER_WEIGHTS
    assert (delta / DECODER_WEIGHTS).stat().st_size == shipped.stat().st_size
    article = str(venv["site"] / "newsqa" / "data" / "article.txt")
    done = subprocess.run(
        ["newsqa", "ask", "how many soldiers?", "--article", article, "--model", "newsqa-base"],
        cwd=venv["cwd"],
        env=venv["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "run newsqa models install base" in lines[0], done.stderr


def test_ask_the_bundled_default_article(venv):
    done = run_in(venv, "newsqa", "ask", COUNT_QUESTION, "--json")
    answer = json.loads(done.stdout)
    assert answer["answerable"] is True
    assert answer["text"] == "46"
    (evidence,) = answer["evidence"][:1]
    assert "46 members of the Afghanistan forces" in evidence["sentence"]
    assert "bundled default article" in done.stderr


def test_summarize_and_the_python_api(venv):
    summary = json.loads(run_in(venv, "newsqa", "summarize", "--words", "40", "--json").stdout)
    assert summary["text"] and summary["evidence"]
    script = (
        "import newsqa\n"
        "from importlib import resources\n"
        "text = resources.files('newsqa.data').joinpath('article.txt').read_text()\n"
        "answer = newsqa.ask('how many members of the Afghanistan forces crossed the border?', "
        "text)\n"
        "print(answer.text, answer.answerable, answer.evidence[0].start)\n"
    )
    printed = run_in(venv, venv["python"], "-c", script).stdout.split()
    assert printed[:2] == ["46", "True"]


def test_each_extra_resolves_on_its_own(venv):
    """`pip install 'newsqa[EXTRA]'` of the wheel, each extra alone, from no index: pip resolves
    every requirement of the package and of that extra (a dry run, so met by the packages the
    venv sees; CI has no index to download from). `serve` also runs below."""
    for extra in ["serve", "base", "ray", "llm"]:
        report = venv["cwd"] / f"report-{extra}.json"
        pip(
            "install",
            "--dry-run",
            "--no-index",
            "--report",
            str(report),
            f"newsqa[{extra}] @ {venv['wheel'].as_uri()}",
            cwd=venv["cwd"],
            python=venv["python"],
        )
        resolved = json.loads(report.read_text())
        assert resolved["install"] == [], resolved["install"]  # all met, nothing to fetch


def test_serve(venv, tmp_path):
    """`newsqa serve` (the serve extra) from the wheel: its page, and the README's curl lines."""
    env = {**venv["env"], "NEWSQA_LIBRARY": str(tmp_path / "library")}
    env.pop("NEWSQA_NO_SERVER")
    server = subprocess.Popen(
        ["newsqa", "serve", "--port", "0"],
        cwd=venv["cwd"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stderr.readline()
        found = re.search(r"on (http://\S+) ", line)
        assert found, line
        url = found.group(1)
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                    assert json.load(response)["status"] == "ok"
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.5)
        with urllib.request.urlopen(url, timeout=30) as response:
            assert "<html" in response.read().decode().lower()
        # The README's curl lines, in order ("..." is the default article's text).
        article = (venv["site"] / "newsqa" / "data" / "article.txt").read_text()
        replies = {}
        for method, path, body in curl_requests():
            if body is not None:
                body = {key: article if value == "..." else value for key, value in body.items()}
            request = urllib.request.Request(
                f"{url}{path}",
                method=method,
                data=json.dumps(body).encode() if body is not None else None,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=300) as response:
                assert response.status in (200, 201), (path, response.status)
                replies[path] = json.load(response)
        answer = replies["/ask"]
        assert answer["answerable"] is True and answer["evidence"], answer
        assert replies["/summarize"]["text"]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
