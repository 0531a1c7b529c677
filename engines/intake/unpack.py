"""Unpacking an upload safely: a zip is checked whole before one byte is written.

Checks, in order: the file size (from ``stat``, before reading), that it is a zip, the
number of entries, encryption, the total uncompressed size and the overall
compression ratio (zip-bomb guards) — all from the central directory. Then each entry
is written under ``dest`` only: ``..`` entries and links are skipped, absolute paths
are made relative, names are repaired (Korean Windows zips in CP949, macOS NFD) and
made unique, and every write is counted against the declared sizes.

What was skipped is recorded in a small hidden sidecar file (``.intake_unpack.json``)
that :func:`engines.intake.scan_dataset` reads back, so nothing is lost silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import zipfile
from dataclasses import asdict
from pathlib import Path, PurePosixPath

from engines.intake.limits import IntakeError, IntakeLimits, human_bytes
from engines.intake.records import is_junk, nfc
from engines.profile import SkippedFile

SIDECAR_NAME = ".intake_unpack.json"
PARTIAL_MARKER = ".intake_unpack.partial"
_COPY_CHUNK = 1 << 20
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_MAX_NAME_BYTES = 240


def unpack_upload(source: Path, dest: Path, limits: IntakeLimits | None = None) -> Path:
    """Turn an upload (a zip file or a folder) into a dataset root folder.

    A zip is validated (size, format, entries, encryption, zip-bomb ratio and total)
    before extracting, then extracted into ``dest`` without ever writing outside it.
    Unpacking the same zip again into the same ``dest`` reuses the earlier result;
    ``dest`` must otherwise be empty (or hold an earlier extraction by this function).
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
            _prepare_dest(dest)
            skipped = _extract_all(zf, infos, dest, limits)
    except zipfile.BadZipFile as exc:
        raise IntakeError(
            f"'{source.name}' is a damaged zip ({exc}). Re-create the zip and upload again."
        ) from exc
    except (NotImplementedError, zipfile.LargeZipFile) as exc:
        raise IntakeError(
            f"'{source.name}' uses a zip feature that cannot be read ({exc}). Re-create it "
            "with the standard 'deflate' compression."
        ) from exc
    root = _descend_wrapper(dest)
    if not any(_visible_files(root)):
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:3])
        raise IntakeError(
            f"Nothing in '{source.name}' could be extracted safely"
            + (f" ({reasons})" if reasons else "")
            + ". Re-create the zip from the image folders and upload again."
        )
    _write_sidecar(dest, root, skipped, fingerprint)
    (dest / PARTIAL_MARKER).unlink(missing_ok=True)
    return root


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
            if Path(data.get("root", "")).resolve() != root:
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


def _safe_relative(name: str) -> tuple[PurePosixPath | None, str | None, str | None]:
    """Return (relative path, skip reason, note) for an entry name."""
    cleaned = name.replace("\\", "/")
    note = None
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        note = "absolute path made relative"
        cleaned = cleaned.lstrip("/")
        if len(cleaned) > 1 and cleaned[1] == ":":
            cleaned = cleaned[2:].lstrip("/")
    parts = _parts(cleaned)
    if any(p == ".." for p in parts):
        return None, "path leads outside the upload ('..'); not extracted", None
    if not parts:
        return None, "entry without a name; not extracted", None
    if any("\x00" in p for p in parts):
        return None, "name contains a NUL character; not extracted", None
    if any(len(p.encode("utf-8")) > _MAX_NAME_BYTES for p in parts):
        return None, "name longer than the file system allows; not extracted", None
    return PurePosixPath(*parts), None, note


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return bool(mode) and stat.S_ISLNK(mode)


def _extract_all(
    zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], dest: Path, limits: IntakeLimits
) -> list[SkippedFile]:
    dest_resolved = dest.resolve()
    skipped: list[SkippedFile] = []
    used: set[str] = set()
    written_total = 0
    for info in infos:
        if info.is_dir():
            continue
        name = _member_name(info)
        if any(is_junk(p) for p in _parts(name)):
            continue
        rel, reason, _note = _safe_relative(name)
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
            written_total += _copy_member(zf, info, target, limits, written_total)
        except IntakeError:
            raise
        except zipfile.BadZipFile as exc:
            _remove_quietly(target)
            skipped.append(SkippedFile(path=name, reason=f"damaged zip entry ({exc})"))
        except (OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as exc:
            _remove_quietly(target)
            skipped.append(SkippedFile(path=name, reason=f"could not be extracted ({exc})"))
    return skipped


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


def _write_sidecar(
    dest: Path, root: Path, skipped: list[SkippedFile], fingerprint: str
) -> None:
    data = {"root": str(root.resolve()), "fingerprint": fingerprint,
            "skipped": [asdict(s) for s in skipped]}
    (dest / SIDECAR_NAME).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _fingerprint(infos: list[zipfile.ZipInfo]) -> str:
    """Identify a zip's content by its entries' names, sizes and CRCs (cheap, no reading)."""
    digest = hashlib.sha256()
    for i in infos:
        digest.update(f"{i.filename}\0{i.file_size}\0{i.CRC}\n".encode("utf-8", "replace"))
    return digest.hexdigest()


def _reuse_previous(dest: Path, fingerprint: str) -> Path | None:
    """Return the root of an earlier complete extraction of the same zip into ``dest``."""
    sidecar = dest / SIDECAR_NAME
    if not sidecar.is_file() or (dest / PARTIAL_MARKER).exists():
        return None
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    root = Path(data.get("root", ""))
    if data.get("fingerprint") == fingerprint and root.is_dir():
        return root
    return None


def _prepare_dest(dest: Path) -> None:
    """Make ``dest`` an empty folder we own, or refuse to write into someone's files."""
    if dest.exists() and not dest.is_dir():
        raise IntakeError(f"Cannot unpack into '{dest.name}': it is a file. Choose a folder.")
    if dest.is_dir() and any(dest.iterdir()):
        ours = (dest / PARTIAL_MARKER).exists() or (dest / SIDECAR_NAME).exists()
        if not ours:
            raise IntakeError(
                f"The folder to unpack into ('{dest.name}') already holds files. Choose an "
                "empty folder so that nothing of yours is mixed in or overwritten."
            )
        for child in dest.iterdir():  # an earlier, interrupted or different extraction
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    dest.mkdir(parents=True, exist_ok=True)
    (dest / PARTIAL_MARKER).write_text("unpacking", encoding="utf-8")
