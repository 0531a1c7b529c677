"""Ship a job's folder of files to another machine and point its arguments at the copy.

The app's sample lives in a folder on the consultant's laptop, which a GPU server
cannot see. Before sending a job, the runner packs the folder into a zip (stored, not
compressed: images are compressed already) and replaces every path inside the folder
that appears in the job's arguments with a :class:`PayloadPath` marker, a path relative
to the folder. On the worker, the zip is unpacked into a private temporary folder and
each marker becomes an absolute path there, as a ``str`` or a ``Path`` like the
original. Markers also keep a Windows laptop's paths from reaching a Linux worker.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, BinaryIO

from engines.errors import EngineError

CHUNK_BYTES = 64 * 1024**2
"""Size of the pieces a packed payload is read in (bounds the memory of one piece)."""


@dataclasses.dataclass(frozen=True)
class PayloadPath:
    """A path inside the shipped folder, written relative to it.

    Attributes:
        relative: POSIX-style path relative to the folder ("" for the folder itself).
        as_path: Whether the original was a ``Path`` (else a ``str``).

    """

    relative: str
    as_path: bool

    def resolve(self, root: Path) -> Path | str:
        """Return the absolute path under ``root``, as the original type."""
        target = root.joinpath(*PurePosixPath(self.relative).parts) if self.relative else root
        return target if self.as_path else str(target)


def pack_payload(folder: Path, dest: BinaryIO) -> int:
    """Write every file under ``folder`` into ``dest`` as a stored zip.

    Args:
        folder: The folder to ship.
        dest: A writable binary file.

    Returns:
        The number of files packed.

    Raises:
        EngineError: If ``folder`` is not a directory.

    """
    folder = Path(folder)
    if not folder.is_dir():
        raise EngineError(f"The job's payload folder {folder} does not exist.")
    count = 0
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
                count += 1
    return count


def read_chunks(source: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Yield the contents of ``source`` from its start in pieces of ``chunk_bytes``."""
    source.seek(0)
    while chunk := source.read(chunk_bytes):
        yield chunk


def unpack_payload(archive: Path, dest: Path) -> None:
    """Unpack a zip made by :func:`pack_payload` into ``dest``, refusing escaping names.

    Args:
        archive: The zip file.
        dest: The folder to unpack into (created if missing).

    Raises:
        EngineError: If a member's name would land outside ``dest``.

    """
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            target = (root / name).resolve()
            if target != root and root not in target.parents:
                raise EngineError(f"The job's payload holds an unsafe file name: {name!r}.")
        zf.extractall(root)


def _relative_to(value: str | PurePath, root: str) -> str | None:
    """Return ``value`` relative to ``root`` as POSIX text, or None when outside it."""
    text = os.fspath(value)
    if not text or not os.path.isabs(text):
        return None
    absolute = os.path.normpath(text)
    try:
        common = os.path.commonpath([absolute, root])
    except ValueError:  # different drives on Windows
        return None
    if common != root:
        return None
    rel = os.path.relpath(absolute, root)
    return "" if rel == "." else PurePath(rel).as_posix()


def mark_payload_paths(value: Any, folder: Path) -> Any:
    """Replace the paths inside ``folder`` found in ``value`` with :class:`PayloadPath`.

    Walks dicts (values), lists, tuples and dataclass instances; other values are kept
    as they are. Only absolute paths are considered.

    Args:
        value: The job's keyword arguments (or any part of them).
        folder: The folder that is shipped.

    Returns:
        A copy of ``value`` with markers in place of those paths.

    """
    root = os.path.normpath(os.path.abspath(os.fspath(folder)))

    def mark(item: Any) -> Any:
        if isinstance(item, PurePath | str):
            rel = _relative_to(item, root)
            return item if rel is None else PayloadPath(rel, isinstance(item, PurePath))
        return _walk(item, mark)

    return mark(value)


def resolve_payload_paths(value: Any, root: Path) -> Any:
    """Turn every :class:`PayloadPath` in ``value`` into an absolute path under ``root``.

    Args:
        value: Arguments made by :func:`mark_payload_paths`.
        root: Where the payload was unpacked.

    Returns:
        A copy of ``value`` with real paths in place of the markers.

    """

    def resolve(item: Any) -> Any:
        if isinstance(item, PayloadPath):
            return item.resolve(root)
        return _walk(item, resolve)

    return resolve(value)


def _walk(item: Any, fn: Any) -> Any:
    """Apply ``fn`` to the children of a container and rebuild it; others unchanged."""
    if isinstance(item, dict):
        return type(item)((k, fn(v)) for k, v in item.items())
    if isinstance(item, list):
        return [fn(v) for v in item]
    if isinstance(item, tuple) and not hasattr(item, "_fields"):
        return tuple(fn(v) for v in item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        changes = {f.name: fn(getattr(item, f.name)) for f in dataclasses.fields(item) if f.init}
        return dataclasses.replace(item, **changes)
    return item


class PayloadFolder:
    """A private temporary folder on the worker, removed when the job ends."""

    def __init__(self, prefix: str = "feasibility-job-") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))

    def __enter__(self) -> PayloadFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
