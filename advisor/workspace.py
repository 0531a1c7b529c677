"""Where the app keeps uploads, results and caches for one user's sessions.

Uploads are stored once, keyed by the content hash of the uploaded bytes, never by
the client's file name.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from advisor.pipeline import PreparedDataset, prepare_dataset
from engines.intake import IntakeLimits


def default_data_dir() -> Path:
    """Return the per-user data directory (``FEASIBILITY_DATA_DIR`` overrides it)."""
    env = os.environ.get("FEASIBILITY_DATA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "feasibility-advisor"


@dataclass(frozen=True)
class Workspace:
    """Folders of the data directory: uploads, runs and the feature cache."""

    root: Path

    @property
    def uploads(self) -> Path:
        """Unpacked uploads, one folder per content hash."""
        return self.root / "uploads"

    @property
    def runs(self) -> Path:
        """Run outputs (result.json, report.html), one folder per run."""
        return self.root / "runs"

    @property
    def feature_cache(self) -> Path:
        """Cached features, per backbone, preprocessing and image content."""
        return self.root / "cache" / "features"

    def store_upload(
        self, data: bytes, filename: str, limits: IntakeLimits | None = None
    ) -> tuple[str, PreparedDataset]:
        """Save uploaded zip bytes once (by content hash), unpack and profile them.

        Args:
            data: The bytes of the uploaded zip.
            filename: The name the browser gave (shown, never used as a path).
            limits: Intake limits.

        Returns:
            The content hash and the prepared dataset.

        """
        limits = limits or IntakeLimits()
        if len(data) > limits.max_upload_bytes:
            raise ValueError(
                f"{filename} is {len(data) / 1e6:.0f} MB, over the upload limit of "
                f"{limits.max_upload_bytes / 1e6:.0f} MB: upload a smaller sample."
            )
        digest = hashlib.sha256(data).hexdigest()
        folder = self.uploads / digest
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / "upload.zip"
        if not archive.exists():
            tmp = folder / "upload.zip.tmp"
            tmp.write_bytes(data)
            tmp.replace(archive)
        return digest, prepare_dataset(archive, folder / "unpacked", limits)

    def run_dir(self, run_id: str) -> Path:
        """Output folder of one run."""
        return self.runs / run_id
