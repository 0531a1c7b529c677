"""Two uploads of the same zip at the same moment, and a writer killed mid-extraction.

Before the fix both uploads unpacked into the same ``samples/<sha>/unpacked`` folder
and deleted each other's files; the broken copy was then reused for good.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from messy_uploads import make_class_tree, zip_dir
from store_helpers import subprocess_env

from advisor import session as app
from advisor.settings import load_settings
from advisor.store.samples import clean_incoming, sample_dir
from engines.intake import scan_dataset, unpack_upload
from engines.intake.unpack import COMPLETE_MARKER

N_PER_CLASS = 40


@pytest.fixture
def sample_zip(tmp_path: Path) -> Path:
    make_class_tree(tmp_path / "src", {"ok": N_PER_CLASS, "defect": N_PER_CLASS}, size=32)
    return zip_dir(tmp_path / "src", tmp_path / "tiles.zip")


def _count_images(root: Path) -> int:
    return sum(1 for p in root.rglob("*.png") if p.is_file())


def test_threads_unpacking_the_same_zip_each_get_the_whole_sample(
    sample_zip: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "store" / "unpacked"
    start = threading.Barrier(6)

    def unpack(_: int) -> int:
        start.wait()
        root = unpack_upload(sample_zip, dest)
        return _count_images(root)

    with ThreadPoolExecutor(6) as pool:
        counts = list(pool.map(unpack, range(6)))
    assert counts == [2 * N_PER_CLASS] * 6
    assert (dest / COMPLETE_MARKER).is_file()
    assert not [p for p in dest.parent.iterdir() if p.name.startswith((".incoming-", ".removing-"))]


def test_concurrent_app_uploads_of_the_same_zip(data_dir: Path, sample_zip: Path) -> None:
    ctx = app.create_context(load_settings())
    ids = [app.create_engagement(ctx, client=f"C{i}", project="Tiles") for i in range(4)]
    data = sample_zip.read_bytes()
    start = threading.Barrier(len(ids))

    def upload(engagement_id: int) -> int:
        start.wait()
        view = app.add_sample(ctx, engagement_id, data, "tiles.zip")
        return int(view.profile["n_images"])

    with ThreadPoolExecutor(len(ids)) as pool:
        counts = list(pool.map(upload, ids))
    assert counts == [2 * N_PER_CLASS] * len(ids)
    # Alone, later: the stored extraction is whole.
    again = app.add_sample(ctx, ids[0], data, "tiles.zip")
    assert again.profile["n_images"] == 2 * N_PER_CLASS
    assert len(scan_dataset(again.root).records) == 2 * N_PER_CLASS


_SLOW_UNPACK = """
import sys, time
from pathlib import Path
import engines.intake.unpack as unpack
copy = unpack._copy_member
def slow(*args, **kwargs):
    n = copy(*args, **kwargs)
    print("wrote", flush=True)
    time.sleep(0.05)
    return n
unpack._copy_member = slow
unpack.unpack_upload(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def _start_slow_unpack(zip_path: Path, dest: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _SLOW_UNPACK, str(zip_path), str(dest)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )


def test_kill_9_mid_extraction_leaves_nothing_reused(sample_zip: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    dest = sample_dir(data_dir, "a" * 64) / "unpacked"
    dest.parent.mkdir(parents=True)
    proc = _start_slow_unpack(sample_zip, dest)
    try:
        for _ in range(5):  # a few members written, then kill -9
            assert proc.stdout is not None and proc.stdout.readline() == "wrote\n", (
                proc.stderr.read() if proc.stderr else ""
            )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    leftovers = [p for p in dest.parent.iterdir() if p.name.startswith(".incoming-")]
    assert leftovers, "the killed writer worked in a private folder"
    assert not dest.exists(), "nothing half-done lies where readers look"
    # The next upload extracts it whole, and start-up removes the dead writer's folder.
    root = unpack_upload(sample_zip, dest)
    assert _count_images(root) == 2 * N_PER_CLASS
    removed = clean_incoming(data_dir)
    assert set(removed) == set(leftovers)
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".incoming-")]


def test_an_extraction_without_the_completion_marker_is_redone(
    sample_zip: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "unpacked"
    unpack_upload(sample_zip, dest)
    # As an older version left it, or a copy damaged by the race: marker gone, files lost.
    (dest / COMPLETE_MARKER).unlink()
    for p in sorted(dest.rglob("*.png"))[:30]:
        p.unlink()
    root = unpack_upload(sample_zip, dest)
    assert _count_images(root) == 2 * N_PER_CLASS


def test_leftovers_of_live_writers_are_kept(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    root = data_dir / "samples"
    live = root / f".incoming-{os.getpid()}-abc"
    dead_pid = _dead_pid()
    dead = root / f".incoming-{dead_pid}-abc"
    unnamed_new = root / ".incoming-xyz"
    unnamed_old = root / ".incoming-old"
    for p in (live, dead, unnamed_new, unnamed_old):
        p.mkdir(parents=True)
    old = time.time() - 7200
    os.utime(unnamed_old, (old, old))
    removed = clean_incoming(data_dir)
    assert sorted(removed) == sorted([dead, unnamed_old])
    assert live.exists() and unnamed_new.exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_store_start_up_cleans_leftovers(data_dir: Path) -> None:
    leftover = data_dir / "samples" / f".incoming-{_dead_pid()}-x"
    leftover.mkdir(parents=True)
    (leftover / "sample.zip").write_bytes(b"half")
    app.create_context(load_settings())
    assert not leftover.exists()
