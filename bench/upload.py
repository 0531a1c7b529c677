"""Upload + profile, timed and its peak memory measured, in a fresh child process.

Peak resident memory (``VmHWM``) only ever grows within a process, so each
measurement runs in a child of its own: the figure is what unpacking and profiling
the upload costs, not what the benchmark did before. Both children import torch
first (the app's process and a plain script both have it loaded), and
``rss_after_imports_mb`` is the child's resident memory once its modules are
imported; the peak is then restarted from there (``/proc/self/clear_refs``), so
``peak_rss_work_mb - rss_after_imports_mb`` is the work's own share.

Usage (the harness calls it)::

    python -m bench.upload engine SOURCE
    python -m bench.upload reference SOURCE
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("engine", "reference")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024**2


def _peak_mb() -> float:
    """Peak resident memory of this process image (VmHWM).

    Not ``ru_maxrss``: Linux carries that over from the forked parent across exec, so
    a child of a large process would report the parent's size.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> bool:
    """Restart the peak (VmHWM) from the current resident memory, where Linux allows."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _measure(kind: str, source: Path) -> dict[str, Any]:
    import torch  # noqa: F401  (both sides start from a process with torch loaded)

    if kind == "engine":
        from advisor.pipeline import prepare_dataset

        def work(tmp: Path) -> tuple[int, int]:
            prepared = prepare_dataset(source, tmp)
            return prepared.profile.n_images, prepared.profile.n_classes
    else:
        from bench.reference import reference_profile

        def work(tmp: Path) -> tuple[int, int]:
            found = reference_profile(source, tmp)
            return len(found["items"]), len(found["class_counts"])

    after_imports = _rss_mb()
    peak_imports = _peak_mb()
    reset = _reset_peak()
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        t0 = time.perf_counter()
        n_images, n_classes = work(Path(tmp))
        seconds = time.perf_counter() - t0
    return {
        "seconds": round(seconds, 4),
        "peak_rss_mb": round(max(_peak_mb(), peak_imports), 1),
        "peak_rss_work_mb": round(_peak_mb(), 1) if reset else None,
        "rss_after_imports_mb": round(after_imports, 1),
        "n_images": n_images,
        "n_classes": n_classes,
    }


def measure_upload(kind: str, source: Path, timeout: float = 3600.0) -> dict[str, Any]:
    """Unpack and profile ``source`` the ``kind`` way in a child process.

    Args:
        kind: "engine" (the advisor's intake: unpack, scan, profile) or "reference"
            (unzip, walk, open every image).
        source: A zip file or a folder.
        timeout: Seconds before the child is stopped.

    Returns:
        ``seconds``, ``peak_rss_mb`` (whole process), ``peak_rss_work_mb`` (peak while
        working; None where the peak cannot be restarted), ``rss_after_imports_mb``,
        ``n_images``, ``n_classes``.

    Raises:
        ValueError: If ``kind`` is unknown.
        RuntimeError: If the child fails (its last error line is in the message).

    """
    if kind not in KINDS:
        raise ValueError(f"Unknown upload kind {kind!r}: use one of {', '.join(KINDS)}.")
    cmd = [sys.executable, "-m", "bench.upload", kind, str(Path(source).resolve())]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"Profiling the upload ({kind}) failed: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    """Entry of the child process: measure and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("source", type=Path)
    args = parser.parse_args()
    print(json.dumps(_measure(args.kind, args.source)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
