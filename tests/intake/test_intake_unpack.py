"""Bad uploads: each gets a clear message, nothing is written outside its folder."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from messy_uploads import class_image, jpeg_bytes, make_class_tree, png_bytes, zip_dir, zip_members

from engines.intake import IntakeError, IntakeLimits, scan_dataset, unpack_upload


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_zip_of_class_folders_with_wrapper_and_macos_junk(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_class_tree(src / "My Dataset", {"ok": 3, "defect": 3})
    (src / "__MACOSX" / "My Dataset").mkdir(parents=True)
    (src / "__MACOSX" / "My Dataset" / "._ok_0.png").write_bytes(b"\x00\x05\x16\x07junk")
    (src / "My Dataset" / ".DS_Store").write_bytes(b"Bud1junk")
    (src / "My Dataset" / "ok" / ".hidden.png").write_bytes(b"x")
    z = zip_dir(src, tmp_path / "upload.zip")
    root = unpack_upload(z, tmp_path / "out")
    assert root.name == "My Dataset"
    index = scan_dataset(root)
    assert index.layout == "class_folders"
    assert index.classes == ["defect", "ok"]
    assert len(index.records) == 6 and index.skipped == []
    assert not (tmp_path / "out" / "__MACOSX").exists()


def test_folder_upload_is_used_in_place(two_class_tree: Path, tmp_path: Path) -> None:
    root = unpack_upload(two_class_tree, tmp_path / "unused")
    assert root == two_class_tree
    assert not (tmp_path / "unused").exists()


def test_not_a_zip(tmp_path: Path) -> None:
    p = tmp_path / "data.zip"
    p.write_bytes(b"Rar!\x1a\x07\x00" + b"\x00" * 100)
    with pytest.raises(IntakeError, match="is not a zip archive.*Upload a .zip"):
        unpack_upload(p, tmp_path / "out")


def test_zero_byte_upload(tmp_path: Path) -> None:
    p = tmp_path / "data.zip"
    p.write_bytes(b"")
    with pytest.raises(IntakeError, match="empty \\(0 bytes\\)"):
        unpack_upload(p, tmp_path / "out")


def test_empty_zip_and_junk_only_zip(tmp_path: Path) -> None:
    empty = zip_members(tmp_path / "e.zip", [])
    with pytest.raises(IntakeError, match="is empty"):
        unpack_upload(empty, tmp_path / "o1")
    junk = zip_members(tmp_path / "j.zip", [("__MACOSX/._a.png", b"x"), (".DS_Store", b"x")])
    with pytest.raises(IntakeError, match="is empty .*system files"):
        unpack_upload(junk, tmp_path / "o2")


def test_encrypted_zip_refused(tmp_path: Path) -> None:
    z = zip_members(tmp_path / "enc.zip", [("a/x.png", png_bytes(class_image(0, 0, 16)))])
    # Set the "encrypted" flag bit in both headers (the stdlib cannot write encrypted zips).
    data = bytearray(z.read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        data[i + off] |= 0x1
    z.write_bytes(bytes(data))
    with pytest.raises(IntakeError, match="password-protected.*without a password"):
        unpack_upload(z, tmp_path / "out")


def test_path_traversal_and_absolute_paths_stay_inside(tmp_path: Path) -> None:
    good = png_bytes(class_image(0, 0, 16))
    z = zip_members(
        tmp_path / "evil.zip",
        [
            ("../../escaped.png", good),
            ("a/../../escaped2.png", good),
            ("/etc/abs_evil.png", good),
            ("C:\\windows\\win_evil.png", good),
            ("cls/ok.png", good),
            ("cls/ok2.png", good),
        ],
    )
    dest = tmp_path / "sandbox" / "out"
    root = unpack_upload(z, dest)
    outside = {p.name for p in tmp_path.rglob("*") if not p.is_relative_to(dest)}
    assert "escaped.png" not in outside and "escaped2.png" not in outside
    assert not any(p.is_relative_to(Path("/etc")) for p in dest.rglob("abs_evil.png"))
    files = _files(dest)
    assert "cls/ok.png" in files
    # Absolute paths are not extracted: their folders ("etc", "windows") are no class.
    assert not any("abs_evil" in f or "win_evil" in f for f in files)
    index = scan_dataset(root)
    assert index.classes == ["cls"] or index.layout != "class_folders"
    reasons = {s.path: s.reason for s in index.skipped}
    assert "absolute path" in reasons["/etc/abs_evil.png"]
    assert "absolute path" in reasons["C:\\windows\\win_evil.png"]
    assert "outside the upload" in reasons["../../escaped.png"]
    assert "outside the upload" in reasons["a/../../escaped2.png"]


def test_zip_bomb_ratio_and_total(tmp_path: Path) -> None:
    bomb = zip_members(tmp_path / "bomb.zip", [("a/zeros.bmp", b"\x00" * (4 * 1024**2))])
    limits = IntakeLimits(ratio_check_min_bytes=1024**2)
    with pytest.raises(IntakeError, match="zip bomb"):
        unpack_upload(bomb, tmp_path / "o1", limits)
    assert not (tmp_path / "o1").exists()  # refused before extracting anything
    with pytest.raises(IntakeError, match="would unpack to .* over the"):
        unpack_upload(bomb, tmp_path / "o2", IntakeLimits(max_uncompressed_bytes=1024**2))
    many = zip_members(tmp_path / "many.zip", [(f"a/{i}.png", b"x") for i in range(30)])
    with pytest.raises(IntakeError, match="entries, over the 10 limit"):
        unpack_upload(many, tmp_path / "o3", IntakeLimits(max_members=10))


def test_entry_larger_than_declared_is_stopped(tmp_path: Path) -> None:
    z = zip_members(tmp_path / "lie.zip", [("a/x.png", b"\x01" * 50_000), ("a/y.png", b"y")])
    data = bytearray(z.read_bytes())
    # Shrink the declared uncompressed size in the central directory of the first entry.
    i = data.find(b"PK\x01\x02")
    data[i + 24 : i + 28] = (1000).to_bytes(4, "little")
    z.write_bytes(bytes(data))
    try:
        root = unpack_upload(z, tmp_path / "out")
    except IntakeError as exc:
        assert "zip" in str(exc).lower()
    else:  # the reader stopped at the declared size or failed the CRC: never more
        x = next(root.rglob("x.png"), None)
        assert x is None or x.stat().st_size <= 1000


def test_upload_over_size_limit_refused_from_stat(tmp_path: Path) -> None:
    z = zip_dir(make_class_tree(tmp_path / "d", {"a": 2, "b": 2})[0].parents[1], tmp_path / "u.zip")
    size = z.stat().st_size
    with pytest.raises(IntakeError, match="over the .* limit.*smaller sample"):
        unpack_upload(z, tmp_path / "out", IntakeLimits(max_upload_bytes=size - 1))
    assert not (tmp_path / "out").exists()


def test_sparse_two_gigabyte_upload_refused(tmp_path: Path) -> None:
    big = tmp_path / "huge.zip"
    with big.open("wb") as fh:  # sparse file: 2 GiB + 1 by size, no data written
        fh.truncate(2 * 1024**3 + 1)
    with pytest.raises(IntakeError, match="2.0 GB limit"):
        unpack_upload(big, tmp_path / "out")


def test_duplicate_entry_names_and_korean_names(tmp_path: Path) -> None:
    a, b = png_bytes(class_image(0, 1, 16)), png_bytes(class_image(0, 2, 16))
    korean_cp949 = "정상/사진1.png".encode("cp949")
    with zipfile.ZipFile(tmp_path / "dup.zip", "w") as zf:
        zf.writestr("불량/x.png", a)
        with pytest.warns(UserWarning):
            zf.writestr("불량/x.png", b)  # the same name twice
        zf.writestr("불량/X.PNG", b)  # differs only in case
        # A Korean Windows zip: CP949 bytes, no UTF-8 flag (patched in below).
        placeholder = b"Q" * 4 + b"/" + b"Q" * 4 + b"1.png"
        assert len(placeholder) == len(korean_cp949)
        zf.writestr(placeholder.decode(), a)
        zf.writestr(zipfile.ZipInfo("정상/사진2.png"), b)
    raw = (tmp_path / "dup.zip").read_bytes()
    assert raw.count(placeholder) == 2  # local header and central directory
    (tmp_path / "dup.zip").write_bytes(raw.replace(placeholder, korean_cp949))
    root = unpack_upload(tmp_path / "dup.zip", tmp_path / "out")
    files = _files(root)
    assert {"불량/x.png", "불량/x (2).png", "불량/X (3).PNG"} <= files
    assert "정상/사진1.png" in files and "정상/사진2.png" in files
    index = scan_dataset(root)
    assert index.classes == ["불량", "정상"]


def test_nfd_names_from_macos_become_nfc(tmp_path: Path) -> None:
    import unicodedata

    nfd = unicodedata.normalize("NFD", "양품/a.png")
    z = zip_members(
        tmp_path / "mac.zip",
        [(nfd, png_bytes(class_image(0, 0, 16))), ("불량/b.png", png_bytes(class_image(1, 0, 16)))],
    )
    index = scan_dataset(unpack_upload(z, tmp_path / "out"))
    assert "양품" in index.classes


def test_nested_archive_and_non_images_listed(tmp_path: Path) -> None:
    good = jpeg_bytes(class_image(0, 0, 24))
    z = zip_members(
        tmp_path / "mix.zip",
        [
            ("a/1.jpg", good),
            ("a/2.jpg", good),
            ("b/3.jpg", jpeg_bytes(class_image(1, 0, 24))),
            ("b/inner.zip", b"PK\x05\x06" + b"\x00" * 18),
            ("b/notes.docx", b"PK..."),
            ("a/readme.txt", b"hello"),
        ],
    )
    index = scan_dataset(unpack_upload(z, tmp_path / "out"))
    reasons = {s.path: s.reason for s in index.skipped}
    assert "archive inside the upload" in reasons["b/inner.zip"]
    assert reasons["b/notes.docx"] == "not an image file (.docx)"
    assert len(index.records) == 3


def test_nothing_extractable(tmp_path: Path) -> None:
    z = zip_members(tmp_path / "bad.zip", [("../x.png", b"x"), ("../../y.png", b"y")])
    with pytest.raises(IntakeError, match="Nothing in 'bad.zip' could be extracted safely"):
        unpack_upload(z, tmp_path / "out")


def test_unpacking_again_reuses_and_foreign_folder_is_refused(tmp_path: Path) -> None:
    make_class_tree(tmp_path / "src", {"a": 2, "b": 2})
    z = zip_dir(tmp_path / "src", tmp_path / "u.zip")
    first = unpack_upload(z, tmp_path / "out")
    again = unpack_upload(z, tmp_path / "out")
    assert again == first
    assert scan_dataset(again).skipped == []  # no "file exists" noise
    # An interrupted extraction (marker left behind) is redone from scratch.
    (tmp_path / "out" / ".intake_unpack.partial").write_text("unpacking")
    (tmp_path / "out" / "a" / "a_0.png").unlink()
    redone = unpack_upload(z, tmp_path / "out")
    assert len(scan_dataset(redone).records) == 4
    # A folder that holds someone else's files is never written into.
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.docx").write_bytes(b"precious")
    with pytest.raises(IntakeError, match="already holds files. Choose an empty folder"):
        unpack_upload(z, foreign)
    assert (foreign / "thesis.docx").read_bytes() == b"precious"
