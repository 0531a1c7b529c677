"""Content-addressed storage of uploaded samples under ``<data_dir>/samples/<sha256>/``.

A sample is stored once, whoever uploads it and under whatever name: the directory is
the SHA-256 of its content, and inside it the sample is called ``sample`` (a folder,
copied as is) or ``sample<suffix>`` (a file such as a zip, its format suffix kept so
that readers recognise it). The client's own file name is never used on disk.

Hashes:

- a file: SHA-256 of its bytes (so a zip's hash is what ``sha256sum`` prints);
- a folder: SHA-256 of a manifest that lists, sorted, every regular file's relative
  POSIX path, size and SHA-256, one per line, after the header ``folder-v1``. Paths
  matter (class folders are labels); symbolic links are not followed and not stored.

Writes are atomic: the copy is made in a temporary directory under ``samples/``
(``.incoming-<pid>-*``) and renamed into place, so a reader never sees half a sample,
and two writers of the same sample end with one copy. The zip's extraction
(``samples/<sha256>/unpacked``) is atomic the same way (see
:func:`engines.intake.unpack.unpack_upload`). What a killed writer leaves behind is
removed at start-up by :func:`clean_incoming`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engines.errors import UserError

SAMPLES_DIR = "samples"
SAMPLE_NAME = "sample"
_FOLDER_HEADER = b"folder-v1\n"
_CHUNK = 1024 * 1024
_HEX = frozenset("0123456789abcdef")
INCOMING_PREFIX = ".incoming-"  # as engines.intake.unpack names its temporary folders
REMOVING_PREFIX = ".removing-"


class SampleTooLargeError(UserError, ValueError):
    """The sample is larger than the upload limit."""


def over_limit_message(name: str, size_bytes: int, limit_bytes: int) -> str:
    """Say that an upload is over the limit, in MB that never round to the limit.

    One decimal ("1.4 MB, over the upload limit of 1 MB"), more only where one would
    show the size as no larger than the limit ("1.04 MB" is not "1.0 MB").
    """
    limit_mb = limit_bytes / 2**20
    limit_text = f"{limit_mb:.0f}" if limit_mb == int(limit_mb) else f"{limit_mb:.1f}"
    for decimals in (1, 2, 3):
        size_text = f"{size_bytes / 2**20:.{decimals}f}"
        if float(size_text) > float(limit_text):
            break
    return (
        f"{name} is {size_text} MB, over the upload limit of {limit_text} MB: upload "
        "a smaller sample (a few hundred images per class is enough for the advice)."
    )


@dataclass(frozen=True)
class StoredSample:
    """Where a sample lies and what it holds.

    Attributes:
        content_hash: SHA-256 of the content (see the module docstring).
        kind: "file" or "folder".
        stored_path: Path relative to the data directory, POSIX style.
        size_bytes: Total size of the stored files.
        file_count: Number of stored files.

    """

    content_hash: str
    kind: str
    stored_path: str
    size_bytes: int
    file_count: int


def samples_root(data_dir: Path) -> Path:
    """Return the directory holding every stored sample."""
    return Path(data_dir) / SAMPLES_DIR


def sample_dir(data_dir: Path, content_hash: str) -> Path:
    """Return the directory of the sample with hash ``content_hash``.

    Raises:
        ValueError: ``content_hash`` is not a SHA-256 hex digest.

    """
    if len(content_hash) != 64 or not set(content_hash) <= _HEX:
        raise ValueError(f"{content_hash!r} is not a SHA-256 hex digest.")
    return samples_root(data_dir) / content_hash


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _folder_files(root: Path) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            files.append((path.relative_to(root).as_posix(), path))
    files.sort(key=lambda item: item[0])
    return files


def hash_sample(source: Path) -> str:
    """Return the content hash of a sample file or folder (see the module docstring).

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: ``source`` is neither a file nor a folder.

    """
    source = Path(source)
    if source.is_file():
        return file_sha256(source)
    if source.is_dir():
        digest = hashlib.sha256(_FOLDER_HEADER)
        for rel, path in _folder_files(source):
            line = f"{rel}\t{path.stat().st_size}\t{file_sha256(path)}\n"
            digest.update(line.encode("utf-8", "surrogateescape"))
        return digest.hexdigest()
    if not source.exists():
        raise FileNotFoundError(f"No sample at {source}.")
    raise ValueError(f"{source} is neither a file nor a folder.")


def _suffix(name: str) -> str:
    """Return the format suffix of a file name (".zip", ".tar.gz"), lower case."""
    suffixes = [
        s.lower()
        for s in Path(name).suffixes
        if 1 < len(s) <= 8 and s[1:].isascii() and s[1:].isalnum()
    ]
    return "".join(suffixes[-2:]) if suffixes[-2:-1] == [".tar"] else "".join(suffixes[-1:])


def _measure(source: Path) -> tuple[int, int]:
    if source.is_file():
        return source.stat().st_size, 1
    files = _folder_files(source)
    return sum(p.stat().st_size for _, p in files), len(files)


def store_sample_files(
    source: Path, data_dir: Path, *, max_bytes: int | None = None
) -> StoredSample:
    """Copy a sample into the content-addressed store, once.

    Storing the same content again (under any name) copies nothing and returns the
    same location.

    Args:
        source: A file (zip, CSV, image...) or a folder.
        data_dir: The data directory.
        max_bytes: Refuse samples larger than this, if given.

    Returns:
        Where the sample is stored and what it holds.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        SampleTooLargeError: The sample exceeds ``max_bytes``.
        ValueError: ``source`` is neither a file nor a folder, or is empty.

    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"No sample at {source}.")
    size, count = _measure(source)
    if max_bytes is not None and size > max_bytes:
        raise SampleTooLargeError(over_limit_message("The sample", size, max_bytes))
    if count == 0:
        raise ValueError(f"The sample {source.name!r} holds no file.")
    content_hash = hash_sample(source)
    kind = "file" if source.is_file() else "folder"
    name = SAMPLE_NAME + (_suffix(source.name) if kind == "file" else "")
    target = sample_dir(data_dir, content_hash)
    if not (target / name).exists():
        _copy_atomically(source, target, name)
    return StoredSample(
        content_hash=content_hash,
        kind=kind,
        stored_path=f"{SAMPLES_DIR}/{content_hash}/{name}",
        size_bytes=size,
        file_count=count,
    )


def _copy_atomically(source: Path, target: Path, name: str) -> None:
    root = target.parent
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{INCOMING_PREFIX}{os.getpid()}-", dir=root))
    try:
        if source.is_file():
            shutil.copy2(source, staging / name)
        else:
            shutil.copytree(source, staging / name, symlinks=True, ignore=_ignore_symlinks)
        try:
            staging.rename(target)
        except OSError:
            # Another writer stored it first, or an older copy of the same content
            # lies there under another name (same hash, e.g. a zip renamed .ZIP).
            if not target.is_dir():
                raise
            if not (target / name).exists():
                (staging / name).rename(target / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _ignore_symlinks(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if os.path.islink(os.path.join(directory, n))}


def resolve_stored_path(data_dir: Path, stored_path: str) -> Path:
    """Return the absolute location of a stored path, refusing paths outside the store.

    Raises:
        ValueError: ``stored_path`` is absolute or escapes the data directory.

    """
    relative = Path(stored_path)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"Stored path {stored_path!r} must be relative to the data directory.")
    return Path(data_dir) / relative


def remove_sample_files(data_dir: Path, content_hash: str) -> bool:
    """Remove a stored sample's directory; return whether there was one."""
    target = sample_dir(data_dir, content_hash)
    if not target.exists():
        return False
    # Rename first so that a half-removed sample is never seen under its hash.
    trash = target.with_name(f"{REMOVING_PREFIX}{os.getpid()}-{content_hash}")
    try:
        target.rename(trash)
    except OSError:
        trash = target
    shutil.rmtree(trash, ignore_errors=True)
    return True


def list_stored_hashes(data_dir: Path) -> list[str]:
    """Return the hashes of every sample on disk."""
    root = samples_root(data_dir)
    if not root.is_dir():
        return []
    return sorted(
        p.name for p in root.iterdir() if p.is_dir() and len(p.name) == 64 and set(p.name) <= _HEX
    )


def clean_incoming(data_dir: Path) -> list[Path]:
    """Remove what killed writers left in the sample store; return the paths removed.

    Temporary copies (``samples/.incoming-*``), half-removed samples
    (``samples/.removing-*``) and interrupted extractions
    (``samples/<sha256>/.incoming-*``) of processes that no longer run are removed;
    those of live processes are kept. Called when the app opens the store.
    """
    from engines.intake.unpack import clean_incoming as _clean_folder

    root = samples_root(data_dir)
    if not root.is_dir():
        return []
    removed = _clean_folder(root)
    for content_hash in list_stored_hashes(data_dir):
        removed += _clean_folder(root / content_hash)
    return removed
