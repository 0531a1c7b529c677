"""Unpacking an upload safely: a zip is checked whole before one byte is written.

Checks, in order: the file size (from ``stat``, before reading), that it is a zip, the
number of entries, encryption, the total uncompressed size and the overall
compression ratio (zip-bomb guards) — all from the central directory. Then each entry
is written under ``dest`` only: ``..`` entries, links and absolute paths are skipped
(the folders of ``/tmp/x.jpg`` are no class), names are repaired (Korean Windows zips
in CP949, macOS NFD) and made unique, and every write is counted against the declared
sizes.

What was skipped is recorded in a small hidden sidecar file (``.intake_unpack.json``)
that :func:`engines.intake.scan_dataset` reads back, so nothing is lost silently.

Atomicity: a zip is extracted into a private temporary folder next to ``dest``
(``.incoming-<pid>-*``), the extraction is verified against the zip (member count and
every size), marked complete, and only then renamed to ``dest``. A lock file next to
``dest`` serialises writers of the same ``dest``, so two uploads of the same zip at the
same moment end with one complete copy that both use; an extraction is reused only
when it carries the completion marker of the same zip, so a crash mid-way (kill -9)
leaves nothing that is ever reused (:func:`clean_incoming` removes the leftovers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path, PurePosixPath

from engines.intake.limits import IntakeError, IntakeLimits, human_bytes
from engines.intake.records import is_junk, nfc
from engines.profile import SkippedFile

SIDECAR_NAME = ".intake_unpack.json"
PARTIAL_MARKER = ".intake_unpack.partial"
COMPLETE_MARKER = ".intake_unpack.complete"
INCOMING_PREFIX = ".incoming-"
REMOVING_PREFIX = ".removing-"
OWN_FILES = frozenset({SIDECAR_NAME, PARTIAL_MARKER, COMPLETE_MARKER})
"""Files this module writes into an extraction (not the client's; the scan skips them)."""
_COPY_CHUNK = 1 << 20
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_MAX_NAME_BYTES = 240


def unpack_upload(source: Path, dest: Path, limits: IntakeLimits | None = None) -> Path:
    """Turn an upload (a zip file or a folder) into a dataset root folder.

    A zip is validated (size, format, entries, encryption, zip-bomb ratio and total)
    before extracting, then extracted into ``dest`` without ever writing outside it.
    Unpacking the same zip again into the same ``dest`` reuses the earlier result when
    it was marked complete; ``dest`` must otherwise be missing, empty, or hold an
    earlier extraction by this function (replaced whole). Safe to call for the same
    ``dest`` from several threads or processes at once.
    A folder is used where it is (no copy). In both cases a single wrapping folder
    (``upload/`` holding ``cats/`` and ``dogs/``) is descended into; ``__MACOSX``,
    ``.DS_Store`` and hidden files are ignored. A wrapping folder that itself holds
    the images (``photos/*.jpg``) is kept, so its name stays visible to the scan.

    Args:
        source: A ``.zip`` file or a folder.
        dest: Folder to extract a zip into (created if missing; should be empty).
        limits: Size limits; the defaults suit a browser upload.

    Returns:
        The dataset root to pass to :func:`engines.intake.scan_dataset`.

    Raises:
        IntakeError: The upload is missing, too big, not a zip, empty, encrypted, a zip
            bomb, or has no entry that can be extracted safely.

    """
    limits = limits or IntakeLimits()
    source = Path(source)
    if not source.exists():
        raise IntakeError(f"The upload '{source.name}' was not found. Upload it again.")
    if source.is_dir():
        return _descend_wrapper(source)
    size = source.stat().st_size
    if size > limits.max_upload_bytes:
        raise IntakeError(
            f"The upload is {human_bytes(size)}, over the {human_bytes(limits.max_upload_bytes)} "
            "limit. Upload a smaller sample (a few hundred images per class is enough "
            "for the advice) or raise the upload limit."
        )
    if size == 0:
        raise IntakeError(
            f"'{source.name}' is empty (0 bytes). Upload the zip again; the transfer may "
            "have failed."
        )
    if not zipfile.is_zipfile(source):
        raise IntakeError(
            f"'{source.name}' is not a zip archive. Upload a .zip of the image folders "
            "(re-pack .rar, .7z or .tar.gz as .zip), or point to a folder."
        )
    dest = Path(dest)
    try:
        with zipfile.ZipFile(source) as zf:
            infos = zf.infolist()
            _check_archive(source.name, infos, size, limits)
            fingerprint = _fingerprint(infos)
            reused = _reuse_previous(dest, fingerprint)
            if reused is not None:
                return reused
            _check_dest(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with _dest_lock(dest):
                # Another writer may have finished the same zip while we waited.
                reused = _reuse_previous(dest, fingerprint)
                if reused is not None:
                    return reused
                _check_dest(dest)
                return _extract_atomically(source.name, zf, infos, dest, limits, fingerprint)
    except zipfile.BadZipFile as exc:
        raise IntakeError(
            f"'{source.name}' is a damaged zip ({exc}). Re-create the zip and upload again."
        ) from exc
    except (NotImplementedError, zipfile.LargeZipFile) as exc:
        raise IntakeError(
            f"'{source.name}' uses a zip feature that cannot be read ({exc}). Re-create it "
            "with the standard 'deflate' compression."
        ) from exc


def _extract_atomically(
    name: str,
    zf: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    dest: Path,
    limits: IntakeLimits,
    fingerprint: str,
) -> Path:
    """Extract into a private folder, verify, mark complete, rename to ``dest``."""
    staging = Path(tempfile.mkdtemp(prefix=f"{INCOMING_PREFIX}{os.getpid()}-", dir=dest.parent))
    try:
        (staging / PARTIAL_MARKER).write_text("unpacking", encoding="utf-8")
        skipped, written = _extract_all(zf, infos, staging, limits)
        _verify_extraction(name, staging, written)
        root = _descend_wrapper(staging)
        if not any(_visible_files(root)):
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:3])
            raise IntakeError(
                f"Nothing in '{name}' could be extracted safely"
                + (f" ({reasons})" if reasons else "")
                + ". Re-create the zip from the image folders and upload again."
            )
        relative_root = root.relative_to(staging).as_posix()
        _write_sidecar(staging, relative_root, skipped, fingerprint)
        (staging / PARTIAL_MARKER).unlink()
        _write_synced(staging / COMPLETE_MARKER, fingerprint)
        _replace_dir(staging, dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return dest / relative_root


def read_unpack_skipped(root: Path) -> list[SkippedFile]:
    """Entries of the zip that unpacking skipped, for the scan of ``root``.

    Looks for the sidecar in ``root`` and its parents (the root may be a wrapping
    folder inside the extraction folder) and uses it only if it names this root.
    """
    root = Path(root).resolve()
    for folder in [root, *list(root.parents)[:4]]:
        sidecar = folder / SIDECAR_NAME
        if sidecar.is_file():
            try:
                data = json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return []
            # "root" is relative to the sidecar's folder (absolute in older sidecars).
            if (folder / str(data.get("root", ""))).resolve() != root:
                return []
            return [SkippedFile(**s) for s in data.get("skipped", [])]
    return []


def _check_archive(
    name: str, infos: list[zipfile.ZipInfo], size: int, limits: IntakeLimits
) -> None:
    files = [i for i in infos if not i.is_dir()]
    if len(infos) > limits.max_members:
        raise IntakeError(
            f"'{name}' holds {len(infos):,} entries, over the {limits.max_members:,} limit. "
            "Upload a sample of the images."
        )
    data_files = [i for i in files if not any(is_junk(p) for p in _parts(i.filename))]
    if not data_files:
        raise IntakeError(
            f"'{name}' is empty (no files{' besides system files' if files else ''}). "
            "Zip the folders that hold the images and upload again."
        )
    encrypted = [i for i in data_files if i.flag_bits & _ENCRYPTED_FLAG]
    if encrypted:
        raise IntakeError(
            f"'{name}' is password-protected ({len(encrypted)} of {len(data_files)} files are "
            "encrypted). Re-create the zip without a password and upload again."
        )
    total = sum(i.file_size for i in files)
    if total > limits.max_uncompressed_bytes:
        raise IntakeError(
            f"'{name}' would unpack to {human_bytes(total)}, over the "
            f"{human_bytes(limits.max_uncompressed_bytes)} limit. Upload a smaller sample."
        )
    packed = max(1, sum(i.compress_size for i in files))
    ratio = total / packed
    if total >= limits.ratio_check_min_bytes and ratio > limits.max_ratio:
        raise IntakeError(
            f"'{name}' unpacks to {ratio:,.0f} times its size (limit {limits.max_ratio:,.0f}x): "
            "it looks like a zip bomb and was not opened. Zip the image files themselves."
        )


def _parts(filename: str) -> list[str]:
    return [p for p in filename.replace("\\", "/").split("/") if p not in ("", ".")]


def _member_name(info: zipfile.ZipInfo) -> str:
    """Return the entry name, decoded right even when the zip did not flag UTF-8."""
    name = info.filename
    if not info.flag_bits & _UTF8_FLAG:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            return nfc(name)
        for encoding in ("utf-8", "cp949", "shift_jis", "gb18030"):
            try:
                name = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    return nfc(name)


def _safe_relative(name: str) -> tuple[PurePosixPath | None, str | None]:
    """Return (relative path, None) for an entry name, or (None, why it is skipped)."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        # Its folders ("tmp", "Windows") are no class of the client's: never guess one.
        return None, (
            "absolute path (the zip was made from a whole disk, not from the "
            "image folders); not extracted"
        )
    parts = _parts(cleaned)
    if any(p == ".." for p in parts):
        return None, "path leads outside the upload ('..'); not extracted"
    if not parts:
        return None, "entry without a name; not extracted"
    if any("\x00" in p for p in parts):
        return None, "name contains a NUL character; not extracted"
    if any(len(p.encode("utf-8")) > _MAX_NAME_BYTES for p in parts):
        return None, "name longer than the file system allows; not extracted"
    return PurePosixPath(*parts), None


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return bool(mode) and stat.S_ISLNK(mode)


def _extract_all(
    zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], dest: Path, limits: IntakeLimits
) -> tuple[list[SkippedFile], dict[str, int]]:
    """Extract every safe entry; return what was skipped and ``{relative path: size}``."""
    dest_resolved = dest.resolve()
    skipped: list[SkippedFile] = []
    written: dict[str, int] = {}
    used: set[str] = set()
    written_total = 0
    for info in infos:
        if info.is_dir():
            continue
        name = _member_name(info)
        if any(is_junk(p) for p in _parts(name)):
            continue
        rel, reason = _safe_relative(name)
        if rel is None:
            skipped.append(SkippedFile(path=name, reason=reason or "not extracted"))
            continue
        if _is_link(info):
            skipped.append(SkippedFile(path=name, reason="symbolic link; not extracted"))
            continue
        rel = _unique(rel, used)
        target = dest / Path(*rel.parts)
        resolved = target.resolve()
        if not resolved.is_relative_to(dest_resolved):
            skipped.append(SkippedFile(name, "path leads outside the upload; not extracted"))
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            n = _copy_member(zf, info, target, limits, written_total)
            written_total += n
            written[rel.as_posix()] = n
        except IntakeError:
            raise
        except zipfile.BadZipFile as exc:
            _remove_quietly(target)
            skipped.append(SkippedFile(path=name, reason=f"damaged zip entry ({exc})"))
        except (OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as exc:
            _remove_quietly(target)
            skipped.append(SkippedFile(path=name, reason=f"could not be extracted ({exc})"))
    return skipped, written


def _unique(rel: PurePosixPath, used: set[str]) -> PurePosixPath:
    """Make the name unique (case-insensitively): duplicates get " (2)", " (3)"..."""
    key = rel.as_posix().lower()
    if key not in used:
        used.add(key)
        return rel
    n = 2
    while True:
        candidate = rel.with_name(f"{rel.stem} ({n}){rel.suffix}")
        key = candidate.as_posix().lower()
        if key not in used:
            used.add(key)
            return candidate
        n += 1


def _copy_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limits: IntakeLimits, so_far: int
) -> int:
    """Stream one entry to ``target``, never past its declared size or the total limit."""
    written = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o644)
    with zf.open(info) as src, os.fdopen(fd, "wb") as out:
        while True:
            chunk = src.read(_COPY_CHUNK)
            if not chunk:
                break
            written += len(chunk)
            if written > info.file_size or so_far + written > limits.max_uncompressed_bytes:
                out.close()
                _remove_quietly(target)
                raise IntakeError(
                    f"The zip entry '{info.filename}' unpacks to more than it declares: the "
                    "zip is damaged or a zip bomb and was not opened. Re-create the zip."
                )
            out.write(chunk)
    if written != info.file_size:
        _remove_quietly(target)
        raise zipfile.BadZipFile(f"{written} of {info.file_size} bytes")
    return written


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _visible_files(folder: Path):  # noqa: ANN202 - a generator of paths
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not is_junk(d)]
        for f in filenames:
            if not is_junk(f):
                yield Path(dirpath) / f


def _visible_children(folder: Path) -> tuple[list[Path], list[Path]]:
    dirs, files = [], []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return [], []
    for entry in entries:
        if is_junk(entry.name):
            continue
        if entry.is_dir(follow_symlinks=False):
            dirs.append(Path(entry.path))
        elif entry.is_file(follow_symlinks=False):
            files.append(Path(entry.path))
    return dirs, files


def _descend_wrapper(folder: Path) -> Path:
    """Go down through single wrapping folders, stopping above a leaf image folder."""
    current = Path(folder)
    for _ in range(16):
        dirs, files = _visible_children(current)
        if files or len(dirs) != 1:
            return current
        child = dirs[0]
        grand_dirs, _grand_files = _visible_children(child)
        if not grand_dirs:
            return current  # the child holds the files: keep its name visible
        current = child
    return current


def _write_sidecar(dest: Path, root: str, skipped: list[SkippedFile], fingerprint: str) -> None:
    data = {"root": root, "fingerprint": fingerprint, "skipped": [asdict(s) for s in skipped]}
    (dest / SIDECAR_NAME).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _fingerprint(infos: list[zipfile.ZipInfo]) -> str:
    """Identify a zip's content by its entries' names, sizes and CRCs (cheap, no reading)."""
    digest = hashlib.sha256()
    for i in infos:
        digest.update(f"{i.filename}\0{i.file_size}\0{i.CRC}\n".encode("utf-8", "replace"))
    return digest.hexdigest()


def _reuse_previous(dest: Path, fingerprint: str) -> Path | None:
    """Return the root of an earlier complete extraction of the same zip into ``dest``.

    Only an extraction carrying the completion marker of this very zip counts: one
    left half-done by a crash, or made before extractions were marked, is redone.
    """
    if (dest / PARTIAL_MARKER).exists():
        return None
    try:
        if (dest / COMPLETE_MARKER).read_text(encoding="utf-8").strip() != fingerprint:
            return None
        data = json.loads((dest / SIDECAR_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("fingerprint") != fingerprint:
        return None
    relative = PurePosixPath(str(data.get("root", ".")))
    if relative.is_absolute() or ".." in relative.parts:
        return None
    root = dest / relative
    return root if root.is_dir() else None


def _check_dest(dest: Path) -> None:
    """Refuse to replace a file, or a folder holding files this module did not write."""
    if dest.exists() and not dest.is_dir():
        raise IntakeError(f"Cannot unpack into '{dest.name}': it is a file. Choose a folder.")
    ours = any((dest / own).exists() for own in OWN_FILES)
    if dest.is_dir() and not ours and any(dest.iterdir()):
        raise IntakeError(
            f"The folder to unpack into ('{dest.name}') already holds files. Choose an "
            "empty folder so that nothing of yours is mixed in or overwritten."
        )


@contextlib.contextmanager
def _dest_lock(dest: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``dest`` (a ``.<name>.lock`` file beside it).

    ``flock`` locks are per open file, so threads of one process exclude each other
    too; the lock ends with the process, so a killed writer never blocks the next.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: rename alone decides
        yield
        return
    lock_path = dest.parent / f".{dest.name}.lock"
    with lock_path.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _verify_extraction(name: str, staging: Path, written: dict[str, int]) -> None:
    """Check that the folder holds exactly the extracted entries, at their zip sizes."""
    found: dict[str, int] = {}
    for dirpath, _dirnames, filenames in os.walk(staging):
        for f in filenames:
            path = Path(dirpath) / f
            rel = path.relative_to(staging).as_posix()
            if rel in OWN_FILES:
                continue
            found[rel] = path.lstat().st_size
    if found != written:
        missing = sorted(set(written) - set(found))
        wrong = sorted(r for r in set(written) & set(found) if written[r] != found[r])
        raise IntakeError(
            f"Unpacking '{name}' did not give back what the zip holds ({len(found)} of "
            f"{len(written)} files"
            + (f", missing {missing[0]!r}" if missing else "")
            + (f", {wrong[0]!r} has the wrong size" if wrong else "")
            + "). Check the free disk space and upload again."
        )


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _replace_dir(staging: Path, dest: Path) -> None:
    """Rename ``staging`` to ``dest``, moving an earlier (incomplete) ``dest`` away first.

    Called with the lock on ``dest`` held.
    """
    if dest.exists():
        trash = dest.parent / f"{REMOVING_PREFIX}{os.getpid()}-{dest.name}"
        dest.rename(trash)
        staging.rename(dest)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.rename(dest)
    with contextlib.suppress(OSError):  # make the rename itself durable where possible
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def clean_incoming(folder: Path, *, older_than_s: float = 3600.0) -> list[Path]:
    """Remove extraction leftovers (``.incoming-*``, ``.removing-*``) of dead writers.

    A leftover named by a process id that no longer runs on this host is removed at
    once; one without a readable id only when older than ``older_than_s``. Leftovers
    of live processes (an upload being unpacked now) are kept. Called at start-up.

    Args:
        folder: The folder to clean (its direct children only).
        older_than_s: Age after which an unnamed leftover is removed.

    Returns:
        The paths removed.

    """
    import time

    removed: list[Path] = []
    try:
        children = list(Path(folder).iterdir())
    except OSError:
        return removed
    now = time.time()
    for child in children:
        name = child.name
        prefix = next((p for p in (INCOMING_PREFIX, REMOVING_PREFIX) if name.startswith(p)), None)
        if prefix is None:
            continue
        pid_text = name[len(prefix) :].split("-", 1)[0]
        if pid_text.isdigit():
            if _pid_alive(int(pid_text)):
                continue
        else:
            try:
                if now - child.lstat().st_mtime < older_than_s:
                    continue
            except OSError:
                continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            _remove_quietly(child)
        removed.append(child)
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    try:  # a zombie has stopped writing
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
