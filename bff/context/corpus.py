"""Which files of a corpus folder are indexed: Markdown and text, inside the folder, capped.

Links to folders are not entered (no loops, no escaping the root), links to files
count only when they resolve inside the root, hidden files and folders (``.git``)
are ignored, and a file over the size cap is skipped and reported, not truncated.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from bff.exceptions import ContextError

SUFFIXES = frozenset({".md", ".markdown", ".txt"})
MAX_FILE_BYTES = 2 * 1024 * 1024
DEMO_CORPUS = Path(__file__).resolve().parent / "demo_corpus"
"""The bundled handbook of a fictional product (``BFF_CORPUS_PATH``'s default)."""


@dataclass(frozen=True, slots=True)
class CorpusFile:
    """A file to index: ``source`` is its path relative to the root, with ``/``."""

    source: str
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file left out of the index, and why."""

    source: str
    reason: str


def corpus_root(folder: Path) -> Path:
    """``folder`` resolved, or ContextError saying why it cannot be a corpus."""
    try:
        root = folder.expanduser().resolve(strict=True)
    except (OSError, RuntimeError):
        raise ContextError(f"corpus folder {folder} does not exist") from None
    if not root.is_dir():
        raise ContextError(f"corpus {folder} is not a folder")
    return root


def scan(root: Path) -> tuple[list[CorpusFile], list[Skipped]]:
    """The files under ``root`` (a ``corpus_root``) to index, and those left out, sorted."""
    files: list[CorpusFile] = []
    skipped: list[Skipped] = []
    for folder, folders, names in os.walk(root):  # does not enter linked folders
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or Path(name).suffix.lower() not in SUFFIXES:
                continue
            entry = _entry(root, Path(folder, name))
            if isinstance(entry, Skipped):
                skipped.append(entry)
            else:
                files.append(entry)
    return files, skipped


def _entry(root: Path, path: Path) -> CorpusFile | Skipped:
    source = path.relative_to(root).as_posix()
    if path.is_symlink() and not path.resolve().is_relative_to(root):
        return Skipped(source, "a link to outside the corpus folder")
    try:
        info = path.stat()
    except OSError as exc:
        return Skipped(source, f"cannot be read ({exc.strerror})")
    if not stat.S_ISREG(info.st_mode):
        return Skipped(source, "not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        return Skipped(source, f"over the {MAX_FILE_BYTES // 2**20} MB cap")
    return CorpusFile(source, path, info.st_size, info.st_mtime_ns)
