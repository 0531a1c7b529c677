"""The engagement's uploaded sample: stored, unpacked, profiled, shown."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor import store
from advisor.pipeline import prepare_dataset
from advisor.session.context import AppContext
from advisor.store.samples import hash_sample, over_limit_message, sample_dir
from engines.intake import (
    ImageRecord,
    IntakeLimits,
    pick_samples,
    scan_dataset,
    unpack_upload,
)
from engines.progress import Progress, ProgressCallback, ignore_progress, scaled_progress

UNPACKED_DIR = "unpacked"
INDEX_FILE = "index.json"


@dataclass
class SampleView:
    """A stored, unpacked and profiled sample of an engagement.

    Attributes:
        dataset_id: The store's dataset id.
        name: The name the client's file had (display only).
        content_hash: SHA-256 of the upload.
        root: The unpacked dataset root on this machine.
        profile: ``DatasetProfile.to_dict()`` with the health report.

    """

    dataset_id: int
    name: str
    content_hash: str
    root: Path
    profile: dict[str, Any]


# --------------------------------------------------------------------------- samples
def add_sample(
    ctx: AppContext,
    engagement_id: int,
    data: bytes,
    filename: str,
    progress: ProgressCallback = ignore_progress,
) -> SampleView:
    """Store an uploaded zip for an engagement, unpack it, check every image, profile it.

    The upload is unpacked, scanned and profiled before it is recorded, so a file that
    cannot be used never becomes the engagement's sample. Stages reported through
    ``progress``: "store" (saving the upload), "unpack", "scan" (every image decoded
    and verified, with counts) and "health".

    Args:
        ctx: The app context.
        engagement_id: The engagement.
        data: The uploaded bytes.
        filename: The browser's name of the file (a label only, never a path).
        progress: Progress callback.

    Returns:
        The stored sample with its profile.

    Raises:
        engines.intake.IntakeError: The upload cannot be used, with what to do.
        advisor.store.SampleTooLargeError: Over the upload limit.
        advisor.store.NotFoundError: No such engagement.
        ValueError: Empty upload.

    """
    if not data:
        raise ValueError(f"{filename!r} is empty (0 bytes): upload the zip again.")
    if len(data) > ctx.settings.upload_limit_bytes:
        raise store.SampleTooLargeError(
            over_limit_message(repr(filename), len(data), ctx.settings.upload_limit_bytes)
        )
    with store.open_session(ctx.engine) as session:
        store.get_engagement(session, engagement_id)
    limits = IntakeLimits(
        max_upload_bytes=ctx.settings.upload_limit_bytes,
        max_decoded_bytes=ctx.settings.max_decoded_bytes,
    )
    progress(Progress("store", 0.0, "Saving the upload"))
    suffix = Path(filename).suffix.lower() or ".zip"
    with tempfile.TemporaryDirectory(prefix="fa-upload-") as tmp:
        upload = Path(tmp) / f"{Path(filename).stem[:60] or 'upload'}{suffix}"
        upload.write_bytes(data)
        folder = sample_dir(ctx.data_dir, hash_sample(upload))
        existed = folder.exists()
        try:
            root, profile = _unpack_and_profile(upload, folder, limits, progress)
        except Exception:
            if not existed:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        with store.open_session(ctx.engine) as session:
            dataset = store.store_sample(
                session,
                engagement_id,
                upload,
                ctx.data_dir,
                original_name=filename,
                max_bytes=ctx.settings.upload_limit_bytes,
            )
            dataset = store.set_dataset_profile(session, int(dataset.id or 0), profile)
    progress(Progress("health", 1.0, "Profile ready"))
    return SampleView(
        dataset_id=int(dataset.id or 0),
        name=dataset.original_name,
        content_hash=dataset.content_hash,
        root=root,
        profile=dict(dataset.profile or {}),
    )


def _unpack_and_profile(
    archive: Path, folder: Path, limits: IntakeLimits, progress: ProgressCallback
) -> tuple[Path, dict[str, Any]]:
    """Unpack an upload into its sample folder and profile it (the pipeline's own steps)."""
    progress(Progress("unpack", 0.05, "Unpacking and checking the archive"))
    prepared = prepare_dataset(
        archive, folder / UNPACKED_DIR, limits, progress=scaled_progress(progress, 0.1, 0.9)
    )
    progress(Progress("health", 0.92, "Profiling and checking the data's health"))
    index, root = prepared.index, prepared.root
    records = [{"path": index.relpath(r.path), "label": r.label} for r in index.records]
    (folder / INDEX_FILE).write_text(
        json.dumps(
            {"root": root.relative_to(folder).as_posix(), "records": records}, ensure_ascii=False
        ),
        "utf-8",
    )
    return root, prepared.profile.to_dict()


def current_sample(ctx: AppContext, engagement_id: int) -> SampleView | None:
    """Return the engagement's latest profiled sample, unpacked (again if removed).

    Raises:
        advisor.store.NotFoundError: No such engagement.

    """
    with store.open_session(ctx.engine) as session:
        store.get_engagement(session, engagement_id)
        datasets = [d for d in store.list_datasets(session, engagement_id) if d.profile]
    if not datasets:
        return None
    dataset = datasets[-1]
    location = store.dataset_location(dataset, ctx.data_dir)
    if not location.exists():
        return None
    folder = sample_dir(ctx.data_dir, dataset.content_hash)
    limits = IntakeLimits(
        max_upload_bytes=ctx.settings.upload_limit_bytes,
        max_decoded_bytes=ctx.settings.max_decoded_bytes,
    )
    if (folder / INDEX_FILE).exists():
        root = unpack_upload(location, folder / UNPACKED_DIR, limits)
    else:
        root, _ = _unpack_and_profile(location, folder, limits, ignore_progress)
    return SampleView(
        dataset_id=int(dataset.id or 0),
        name=dataset.original_name,
        content_hash=dataset.content_hash,
        root=root,
        profile=dict(dataset.profile or {}),
    )


def sample_records(ctx: AppContext, sample: SampleView) -> list[tuple[str, str | None]]:
    """``(relative path, label)`` of every image of a sample, as its scan found them."""
    index_file = sample_dir(ctx.data_dir, sample.content_hash) / INDEX_FILE
    try:
        data = json.loads(index_file.read_text("utf-8"))
        return [(r["path"], r["label"]) for r in data["records"]]
    except (OSError, ValueError, KeyError, TypeError):
        index = scan_dataset(sample.root)
        return [(index.relpath(r.path), r.label) for r in index.records]


def sample_grid(
    ctx: AppContext, sample: SampleView, per_class: int = 6, max_classes: int = 12
) -> dict[str, list[tuple[str, Path]]]:
    """A few images per class for the sample grid: ``{label: [(name, path), ...]}``."""
    records = [
        ImageRecord(path=sample.root / rel, label=label)
        for rel, label in sample_records(ctx, sample)
    ]
    picked = pick_samples(records, per_class=per_class, max_classes=max_classes)
    return {
        label: [(p.relative_to(sample.root).as_posix(), p) for p in paths]
        for label, paths in picked.items()
    }


def embedding_map(
    ctx: AppContext,
    sample: SampleView,
    method: str = "pca",
    progress: ProgressCallback = ignore_progress,
) -> dict[str, Any]:
    """The sample's embedding map (see :func:`advisor.embedding.sample_embedding_map`).

    Features go to the feature cache the validation reads, so the map also speeds up
    the validation that follows.

    Raises:
        ValueError: Fewer than three images, or an unknown method.

    """
    from advisor.embedding import sample_embedding_map

    return sample_embedding_map(
        sample.root,
        sample_records(ctx, sample),
        method=method,
        cache_dir=ctx.jobs.feature_cache,
        device=ctx.settings.device,
        progress=progress,
    )
