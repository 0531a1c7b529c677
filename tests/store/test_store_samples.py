"""Content-addressed sample storage on disk."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from store_helpers import make_class_folder

from advisor.store.samples import (
    SampleTooLargeError,
    hash_sample,
    list_stored_hashes,
    remove_sample_files,
    resolve_stored_path,
    sample_dir,
    store_sample_files,
)


def test_file_hash_is_sha256_of_bytes(tmp_path: Path) -> None:
    f = tmp_path / "x.zip"
    f.write_bytes(b"abc" * 1000)
    assert hash_sample(f) == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_folder_hash_depends_on_content_and_layout_not_on_the_folder_name(
    tmp_path: Path,
) -> None:
    a = make_class_folder(tmp_path / "client name A", {"ok": 2, "ng": 2})
    b = make_class_folder(tmp_path / "B", {"ok": 2, "ng": 2})
    assert hash_sample(a) == hash_sample(b)
    (b / "ng" / "img_000.png").rename(b / "ok" / "img_009.png")  # a label changes
    assert hash_sample(a) != hash_sample(b)
    os.utime(a / "ok" / "img_000.png", (0, 0))  # timestamps do not count
    assert hash_sample(a) == hash_sample(make_class_folder(tmp_path / "C", {"ok": 2, "ng": 2}))


def test_store_folder_and_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = make_class_folder(tmp_path / "upload", {"a": 1, "b": 2})
    (folder / "link").symlink_to(folder / "a")
    stored = store_sample_files(folder, data)
    assert stored.kind == "folder" and stored.file_count == 3
    root = resolve_stored_path(data, stored.stored_path)
    assert root == sample_dir(data, stored.content_hash) / "sample"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "a/img_000.png",
        "b/img_000.png",
        "b/img_001.png",
    ]
    assert not (root / "link").exists()  # links are neither followed nor stored
    assert hash_sample(root) == stored.content_hash

    archive = tmp_path / "Data.Set.TAR.GZ"
    archive.write_bytes(b"tar")
    assert store_sample_files(archive, data).stored_path.endswith("/sample.tar.gz")
    odd = tmp_path / "표본.데이터"
    odd.write_bytes(b"odd")
    assert store_sample_files(odd, data).stored_path.endswith("/sample")
    assert len(list_stored_hashes(data)) == 3
    assert not [p for p in (data / "samples").iterdir() if p.name.startswith(".")]


def test_refusals(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no file"):
        store_sample_files(empty, tmp_path / "data")
    big = tmp_path / "big.zip"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(SampleTooLargeError):
        store_sample_files(big, tmp_path / "data", max_bytes=1024)
    with pytest.raises(ValueError, match="relative"):
        resolve_stored_path(tmp_path, "../../etc/passwd")
    with pytest.raises(ValueError, match="SHA-256"):
        sample_dir(tmp_path, "../x")


def test_concurrent_stores_of_the_same_sample_end_with_one_copy(tmp_path: Path) -> None:
    folder = make_class_folder(tmp_path / "upload", {"a": 20, "b": 20})
    data = tmp_path / "data"
    results, errors = [], []

    def store() -> None:
        try:
            results.append(store_sample_files(folder, data))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=store) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.stored_path for r in results}) == 1
    assert list_stored_hashes(data) == [results[0].content_hash]
    assert [p.name for p in (data / "samples").iterdir()] == [results[0].content_hash]
    assert remove_sample_files(data, results[0].content_hash)
    assert not remove_sample_files(data, results[0].content_hash)
    assert list_stored_hashes(data) == []
