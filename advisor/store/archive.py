"""Export one engagement as a single zip, and import it elsewhere (handing it over).

The archive holds ``manifest.json`` and the engagement's files::

    manifest.json                 format, versions, every row (the engagement's with
                                  the consultant's answers), file checksums
    samples/<sha256>/...          the stored samples, as in the data directory
    runs/<run id>/...             what each run wrote (result.json, plots...)
    reports/<report id>/<name>    the report files

Import adds the engagement to the target store under new ids (the target may hold
other engagements), remaps every reference, verifies every file against the manifest's
SHA-256 and every sample against its content hash, and puts the files in place. Rows
are inserted in one transaction; if anything fails, the store is left as it was.
Runs that had not ended when the engagement was exported are imported as failed
(their process belongs to the exporting machine).

An archive is a file from elsewhere, so import trusts nothing in it: member paths must
stay inside the data directory, a report row must name a file inside its engagement's
report folder, the engagement's language and deployment target must be ones this app
knows, and the archive may expand to at most ``max_bytes`` (16 GiB by default) at a
ratio a zip bomb would exceed (checked from the central directory before writing, and
again while writing).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlmodel import Session, SQLModel

from advisor.store.migrate import head_revision
from advisor.store.models import (
    DEPLOYMENT_TARGETS,
    LANGUAGES,
    Dataset,
    Engagement,
    RecommendationRecord,
    Report,
    Run,
    RunStatus,
    utc_now,
)
from advisor.store.repository import (
    delete_engagement,
    get_engagement,
    list_datasets,
    list_recommendations,
    list_reports,
    list_runs,
    report_location,
    reports_dir,
    run_dir,
)
from advisor.store.samples import (
    SAMPLES_DIR,
    hash_sample,
    resolve_stored_path,
    sample_dir,
)
from advisor.store.transactions import end_read_transaction, retrying_write
from engines.errors import UserError

ARCHIVE_FORMAT = "feasibility-advisor/engagement"
ARCHIVE_VERSION = 1
MANIFEST = "manifest.json"
IMPORTED_ACTIVE_RUN_ERROR = "the run had not ended when the engagement was exported"
DEFAULT_MAX_IMPORT_BYTES = 16 * 1024**3
_MAX_RATIO = 200.0
_RATIO_CHECK_MIN_BYTES = 32 * 1024**2
_STORED_SUFFIXES = (".zip", ".jpg", ".jpeg", ".png", ".gz", ".pth", ".pt", ".pdf", ".webp")


class ArchiveError(UserError, ValueError):
    """The file is not an engagement archive this app can import."""


def _row(obj: SQLModel) -> dict[str, Any]:
    return obj.model_dump(mode="json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _files_under(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def export_engagement(session: Session, engagement_id: int, dest_zip: Path, data_dir: Path) -> Path:
    """Write one engagement, its rows and files, to a zip archive.

    Args:
        session: Open session.
        engagement_id: The engagement to export.
        dest_zip: The archive to write (replaced if it exists).
        data_dir: The data directory the files are in.

    Returns:
        The path of the archive.

    Raises:
        advisor.store.repository.NotFoundError: No such engagement.
        FileNotFoundError: A stored sample is missing from the data directory.

    """
    data_dir = Path(data_dir)
    dest_zip = Path(dest_zip)
    engagement = get_engagement(session, engagement_id)
    datasets = list_datasets(session, engagement_id)
    recommendations = [r for d in datasets for r in list_recommendations(session, int(d.id or 0))]
    runs = sorted(list_runs(session, engagement_id=engagement_id), key=lambda r: r.id or 0)
    reports = list_reports(session, engagement_id)
    end_read_transaction(session)  # no transaction open during the long file copy

    members: dict[str, Path] = {}
    for dataset in datasets:
        location = resolve_stored_path(data_dir, dataset.stored_path)
        if not location.exists():
            raise FileNotFoundError(
                f"The stored sample of dataset {dataset.id} is missing: {location}."
            )
        for path in _files_under(location):
            members[path.relative_to(data_dir).as_posix()] = path
    for run in runs:
        folder = run_dir(data_dir, int(run.id or 0))
        for path in _files_under(folder):
            members[f"runs/{run.id}/{path.relative_to(folder).as_posix()}"] = path
    report_files: dict[int, str] = {}
    for report in reports:
        path = report_location(report, data_dir)
        if path.is_file():
            member = f"reports/{report.id}/{path.name}"
            members[member] = path
            report_files[int(report.id or 0)] = member

    manifest = {
        "format": ARCHIVE_FORMAT,
        "format_version": ARCHIVE_VERSION,
        "schema_revision": head_revision(),
        "exported_at": utc_now().isoformat(),
        "engagement": _row(engagement),
        "datasets": [_row(d) for d in datasets],
        "recommendations": [_row(r) for r in recommendations],
        "runs": [_row(r) for r in runs],
        "reports": [
            _row(r) | {"archive_member": report_files.get(int(r.id or 0))} for r in reports
        ],
        "files": {member: _sha256(path) for member, path in sorted(members.items())},
    }

    dest_zip.parent.mkdir(parents=True, exist_ok=True)
    partial = dest_zip.with_name(dest_zip.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
            archive.writestr(
                MANIFEST,
                json.dumps(manifest, indent=2, ensure_ascii=False),
                compress_type=zipfile.ZIP_DEFLATED,
            )
            for member, path in sorted(members.items()):
                compression = (
                    zipfile.ZIP_STORED
                    if path.suffix.lower() in _STORED_SUFFIXES
                    else zipfile.ZIP_DEFLATED
                )
                archive.write(path, member, compress_type=compression)
        partial.replace(dest_zip)
    finally:
        partial.unlink(missing_ok=True)
    return dest_zip


def read_manifest(src_zip: Path) -> dict[str, Any]:
    """Return the manifest of an engagement archive, checked for format and version.

    Raises:
        ArchiveError: Not an engagement archive, or one of a newer format.

    """
    try:
        with zipfile.ZipFile(src_zip) as archive:
            manifest = json.loads(archive.read(MANIFEST))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{src_zip} is not an engagement archive: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise ArchiveError(f"{src_zip} is not an engagement archive of this app.")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > ARCHIVE_VERSION:
        raise ArchiveError(
            f"{src_zip} has archive format {version!r}; this app reads up to "
            f"{ARCHIVE_VERSION}. Update the app to import it."
        )
    return manifest


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in name:
        raise ArchiveError(f"Unsafe path in the archive: {name!r}.")
    return path


def _fields(model: type[SQLModel], row: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
    """Keep the known fields of a row (archives of older or newer apps), parse times."""
    known = set(model.model_fields) - set(drop)
    values = {k: v for k, v in row.items() if k in known}
    for key, value in values.items():
        if key.endswith("_at") and isinstance(value, str):
            values[key] = datetime.fromisoformat(value)
    return values


def import_engagement(
    session: Session,
    src_zip: Path,
    data_dir: Path,
    *,
    max_bytes: int = DEFAULT_MAX_IMPORT_BYTES,
) -> Engagement:
    """Import an engagement archive made by :func:`export_engagement`.

    Args:
        session: Open session of the target store.
        src_zip: The archive.
        data_dir: The target data directory.
        max_bytes: Most bytes the archive may expand to.

    Returns:
        The new engagement (new ids; everything else as exported).

    Raises:
        ArchiveError: Not an engagement archive, a file fails its checksum, or a
            sample its content hash; a path outside its folder, an unknown language
            or deployment target, or an archive that expands beyond ``max_bytes`` or
            like a zip bomb.

    """
    data_dir = Path(data_dir)
    manifest = read_manifest(Path(src_zip))
    _check_rows(manifest)
    files: dict[str, str] = manifest.get("files", {})
    if not isinstance(files, dict):
        raise ArchiveError("The archive's list of files is damaged.")
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=data_dir))
    placed: list[Path] = []
    try:
        _extract(Path(src_zip), files, staging, max_bytes)
        placed += _place_samples(manifest, staging, data_dir)
        engagement, moves = _insert_rows(session, manifest, staging, data_dir)
        try:
            for source, target in moves:
                if target.is_dir():
                    shutil.rmtree(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(source), str(target))
        except BaseException:
            # The rows are committed: take them out again, with the files moved so far.
            delete_engagement(session, int(engagement.id or 0), data_dir)
            raise
        return engagement
    except BaseException:
        for path in placed:
            shutil.rmtree(path, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_rows(manifest: dict[str, Any]) -> None:
    """Refuse rows no export of this app writes: unknown choices, reports elsewhere."""
    engagement = manifest.get("engagement")
    if not isinstance(engagement, dict):
        raise ArchiveError("The archive has no engagement.")
    for key, known in (("language", LANGUAGES), ("deployment_target", DEPLOYMENT_TARGETS)):
        value = engagement.get(key)
        if value is not None and value not in known:
            raise ArchiveError(
                f"The archive's engagement has the {key.replace('_', ' ')} {value!r}, which "
                f"this app does not know ({', '.join(known)}); it was not imported."
            )
    for row in manifest.get("reports", []) or []:
        if not isinstance(row, dict):
            raise ArchiveError("A report row of the archive is damaged.")
        if row.get("archive_member"):
            continue  # the file travels with the archive and gets a path of this store
        path = str(row.get("path", ""))
        if (
            PurePosixPath(path).is_absolute()
            or ".." in PurePosixPath(path).parts
            or "\\" in path
            or (len(path) > 1 and path[1] == ":")
            or PurePosixPath(path).parts[:1] != ("reports",)
        ):
            raise ArchiveError(
                f"Report {row.get('id')} of the archive points outside its folder "
                f"({path!r}); the archive was not imported."
            )


def _extract(src_zip: Path, files: dict[str, str], staging: Path, max_bytes: int) -> None:
    with zipfile.ZipFile(src_zip) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        checked = {member: _safe_member(member) for member in files}  # all, before writing
        for member in files:
            if member not in infos:
                raise ArchiveError(f"The archive lacks {member}, listed in its manifest.")
        listed = [infos[m] for m in files]
        total = sum(i.file_size for i in listed)
        packed = max(1, sum(i.compress_size for i in listed))
        if total > max_bytes:
            raise ArchiveError(
                f"The archive would expand to {total / 2**30:.1f} GB, over the import limit "
                f"of {max_bytes / 2**30:.1f} GB; it was not imported."
            )
        if total >= _RATIO_CHECK_MIN_BYTES and total / packed > _MAX_RATIO:
            raise ArchiveError(
                f"The archive expands to {total / packed:,.0f} times its size: it looks like "
                "a zip bomb and was not imported."
            )
        written = 0
        for member, expected in files.items():
            target = staging.joinpath(*checked[member].parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            declared = infos[member].file_size
            n = 0
            with archive.open(member) as src, target.open("wb") as dst:
                while chunk := src.read(1024 * 1024):
                    n += len(chunk)
                    written += len(chunk)
                    if n > declared or written > max_bytes:
                        raise ArchiveError(
                            f"{member} expands beyond what the archive declares: it is "
                            "damaged or a zip bomb and was not imported."
                        )
                    digest.update(chunk)
                    dst.write(chunk)
            if digest.hexdigest() != expected:
                raise ArchiveError(f"{member} in the archive is damaged (checksum mismatch).")


def _place_samples(manifest: dict[str, Any], staging: Path, data_dir: Path) -> list[Path]:
    """Move samples into the content-addressed store; return those newly placed."""
    placed: list[Path] = []
    for row in manifest.get("datasets", []):
        content_hash = str(row["content_hash"])
        stored = _safe_member(str(row["stored_path"]))
        if stored.parts[:2] != (SAMPLES_DIR, content_hash):
            raise ArchiveError(f"Dataset {row.get('id')} has an unexpected path {stored}.")
        source = staging.joinpath(*stored.parts)
        target = resolve_stored_path(data_dir, str(stored))
        if target.exists():
            continue
        if not source.exists():
            raise ArchiveError(f"The archive lacks the sample {stored}.")
        if hash_sample(source) != content_hash:
            raise ArchiveError(f"The sample {stored} does not match its content hash.")
        folder = sample_dir(data_dir, content_hash)
        new_folder = not folder.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target))
        if new_folder:
            placed.append(folder)
    return placed


@retrying_write
def _insert_rows(
    session: Session, manifest: dict[str, Any], staging: Path, data_dir: Path
) -> tuple[Engagement, list[tuple[Path, Path]]]:
    moves: list[tuple[Path, Path]] = []
    engagement = Engagement(**_fields(Engagement, manifest["engagement"], ("id",)))
    session.add(engagement)
    session.flush()
    new_engagement_id = int(engagement.id or 0)

    dataset_ids: dict[int, int] = {}
    for row in manifest.get("datasets", []):
        values = _fields(Dataset, row, ("id", "engagement_id"))
        dataset = Dataset(engagement_id=new_engagement_id, **values)
        session.add(dataset)
        session.flush()
        dataset_ids[int(row["id"])] = int(dataset.id or 0)

    recommendation_ids: dict[int, int] = {}
    for row in manifest.get("recommendations", []):
        values = _fields(RecommendationRecord, row, ("id", "dataset_id"))
        record = RecommendationRecord(dataset_id=_remap(dataset_ids, row["dataset_id"]), **values)
        session.add(record)
        session.flush()
        recommendation_ids[int(row["id"])] = int(record.id or 0)

    run_ids: dict[int, int] = {}
    for row in manifest.get("runs", []):
        values = _fields(Run, row, ("id", "dataset_id", "recommendation_id", "engagement_id"))
        old_rec = row.get("recommendation_id")
        run = Run(
            dataset_id=_remap(dataset_ids, row["dataset_id"]),
            engagement_id=new_engagement_id,
            recommendation_id=None if old_rec is None else recommendation_ids.get(int(old_rec)),
            **values,
        )
        if not RunStatus(run.status).is_terminal:
            run.status = RunStatus.FAILED.value
            run.error = IMPORTED_ACTIVE_RUN_ERROR
            run.finished_at = run.finished_at or utc_now()
        session.add(run)
        session.flush()
        run_ids[int(row["id"])] = int(run.id or 0)
        exported_dir = staging / "runs" / str(int(row["id"]))
        if exported_dir.is_dir():
            moves.append((exported_dir, run_dir(data_dir, int(run.id or 0))))

    target_reports = reports_dir(data_dir, new_engagement_id)
    for row in manifest.get("reports", []):
        values = _fields(Report, row, ("id", "engagement_id", "run_id", "path"))
        old_run = row.get("run_id")
        member = row.get("archive_member")
        path = str(row["path"])
        report = Report(
            engagement_id=new_engagement_id,
            run_id=None if old_run is None else run_ids.get(int(old_run)),
            path=path,
            **values,
        )
        session.add(report)
        if member:
            session.flush()
            relative = _safe_member(str(member))
            target = target_reports / f"{report.id}-{relative.name}"
            moves.append((staging.joinpath(*relative.parts), target))
            report.path = target.relative_to(data_dir).as_posix()
            session.add(report)
    session.commit()
    session.refresh(engagement)
    return engagement, moves


def _remap(ids: dict[int, int], old: Any) -> int:
    try:
        return ids[int(old)]
    except (KeyError, TypeError, ValueError):
        raise ArchiveError(f"The archive refers to a missing row {old!r}.") from None
