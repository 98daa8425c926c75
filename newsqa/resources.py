"""Package data as real folders, however newsqa is installed.

``importlib.resources.files(package)`` is the package's own folder in a wheel install, an sdist
build and an editable install. Imported from a zip (zipimport: a wheel or a zipped site-packages on
``sys.path``, a zip-safe install) it is a ``zipfile.Path`` inside the archive instead, which
transformers, safetensors and ``open()`` cannot read as a folder. ``package_folder`` returns the
folder itself in the first case; in the second it extracts the package's files once into the user
cache folder (``platformdirs.user_cache_dir("newsqa")``) and returns that copy.

The copy is named after the package, newsqa's version and a fingerprint of the files (names,
sizes and the archive's CRC-32 of each, or a SHA-256 of the bytes where the reader gives no
archive entry), so a changed model never reuses a stale copy. It is written into a temporary
folder beside it and renamed into place once complete: a crash leaves no half-written model under
the final name, and two processes extracting at once both end up with one complete copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import zipfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from importlib.abc import Traversable

SKIPPED = {"__pycache__"}
"""Folders never extracted (bytecode is no package data)."""
STALE_SECONDS = 3600
"""A temporary folder left this long by an extraction is a crashed one, removed by the next."""


def package_folder(package: str) -> Path:
    """The real folder holding ``package``'s files (the package folder, or its extracted copy).

    Raises ModuleNotFoundError when ``package`` cannot be imported (callers fall back to the
    checkout's layout).
    """
    found = resources.files(package)
    if isinstance(found, Path):
        return found
    return extract(found, package)


def cache_root() -> Path:
    """Where packages imported from a zip are extracted (the user cache folder)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("newsqa")) / "packages"


def extract(found: Traversable, package: str) -> Path:
    """``found``'s files (``__pycache__`` left out) in a folder of the user cache, written once."""
    from newsqa import __version__

    files = sorted(_files(found), key=lambda pair: pair[0])
    target = cache_root() / f"{package}-{__version__}-{_fingerprint(files)}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for relative, item in files:
            destination = temp.joinpath(*relative.split("/"))
            destination.parent.mkdir(parents=True, exist_ok=True)
            with item.open("rb") as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
        try:
            os.rename(temp, target)
        except OSError:
            if not target.is_dir():  # not another process finishing first: a real failure
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return target


def _files(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    """(relative posix path, file) for every file under ``folder``."""
    for item in folder.iterdir():
        if item.is_dir():
            if item.name not in SKIPPED:
                yield from _files(item, f"{prefix}{item.name}/")
        elif item.is_file():
            yield f"{prefix}{item.name}", item


def _fingerprint(files: list[tuple[str, Traversable]]) -> str:
    digest = hashlib.sha256()
    for relative, item in files:
        digest.update(f"{relative}\0{_stamp(item)}\n".encode())
    return digest.hexdigest()[:16]


def _stamp(item: Traversable) -> str:
    """A file's size and CRC-32 from its archive entry, else the SHA-256 of its bytes."""
    root, at = getattr(item, "root", None), getattr(item, "at", None)
    if isinstance(root, zipfile.ZipFile) and isinstance(at, str):
        try:
            info = root.getinfo(at)
        except KeyError:
            pass
        else:
            return f"{info.file_size}:{info.CRC:08x}"
    digest = hashlib.sha256()
    with item.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _remove_stale(target: Path) -> None:
    """Temporary folders that crashed extractions of ``target`` left behind."""
    for leftover in target.parent.glob(f".{target.name}.*"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass
