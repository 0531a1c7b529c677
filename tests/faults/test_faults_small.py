"""The smaller hostile-input cases: each gets a clear sentence, never a bogus result.

Absolute zip paths became classes "tmp" and "Windows"; a CSV whose names matched no
file was called "a table without a file-name column"; garbage .dcm files were "DICOM
without pixel data" with pydicom warnings on stderr; the upload limit said "1 MB, over
the limit of 1 MB"; skip reasons showed the temporary folders of the upload.
"""

from __future__ import annotations

import os

import pytest
from messy_uploads import class_image, make_class_tree, png_bytes, zip_members

from advisor import session as app
from advisor.settings import load_settings
from advisor.store.samples import over_limit_message
from engines.images import ImageDecodeError
from engines.intake import scan_dataset, unpack_upload
from engines.intake.scan import without_paths


def test_absolute_zip_paths_never_become_classes(tmp_path) -> None:
    img = png_bytes(class_image(0, 0, 24))
    members = [
        (f"{c}/{c}_{i}.png", img if c == "ok" else png_bytes(class_image(1, i, 24)))
        for c in ("ok", "defect")
        for i in range(3)
    ]
    members += [("/tmp/x.png", img), ("C:\\Windows\\x.png", img), ("/home/me/d/y.png", img)]
    root = unpack_upload(zip_members(tmp_path / "abs.zip", members), tmp_path / "out")
    index = scan_dataset(root)
    assert index.classes == ["defect", "ok"]
    reasons = {s.path: s.reason for s in index.skipped}
    for name in ("/tmp/x.png", "C:\\Windows\\x.png", "/home/me/d/y.png"):
        assert "absolute path" in reasons[name] and "not extracted" in reasons[name]


def test_a_table_whose_names_match_no_file_says_so(tmp_path) -> None:
    make_class_tree(tmp_path / "data", {"ok": 3, "defect": 3}, size=24)
    (tmp_path / "data" / "labels.csv").write_text(
        "filename,label\nIMG_0001.jpg,ok\nIMG_0002.jpg,defect\n", encoding="utf-8"
    )
    (tmp_path / "data" / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    index = scan_dataset(tmp_path / "data")
    reasons = {s.path: s.reason for s in index.skipped}
    assert "match no image" in reasons["labels.csv"] and "IMG_0001.jpg" in reasons["labels.csv"]
    assert "without a file-name column" in reasons["notes.csv"]


def test_garbage_dcm_is_not_a_dicom_file_and_stderr_stays_quiet(tmp_path, capfd) -> None:
    make_class_tree(tmp_path / "data", {"ok": 3, "defect": 3}, size=24)
    garbage = {
        "random.dcm": os.urandom(3000),
        "text.dcm": b"patient notes, not an image\n" * 20,
        "elements.dcm": (
            b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100"
            + b"\x10\x00\x10\x00PN\xff\x7f"
            + b"abc" * 20
            + b"\x28\x00\x10\x00US\x03\x00\x00\x01\x02"
        ),
        "empty-ish.dcm": b"\x00" * 10,
    }
    for name, data in garbage.items():
        (tmp_path / "data" / "ok" / name).write_bytes(data)
    index = scan_dataset(tmp_path / "data")
    reasons = {s.path: s.reason for s in index.skipped}
    for name in garbage:
        assert "not a DICOM file" in reasons[f"ok/{name}"], reasons[f"ok/{name}"]
    assert len(index.records) == 6
    captured = capfd.readouterr()
    assert "pydicom" not in captured.err.lower() and "warn" not in captured.err.lower(), (
        captured.err
    )


def test_upload_limit_message_keeps_a_decimal(data_dir, monkeypatch) -> None:
    assert over_limit_message("'a.zip'", int(1.43 * 2**20), 2**20).startswith(
        "'a.zip' is 1.4 MB, over the upload limit of 1 MB"
    )
    assert "1.04 MB" in over_limit_message("x", int(1.04 * 2**20), 2**20)
    monkeypatch.setenv("FEASIBILITY_UPLOAD_LIMIT_MB", "1")
    ctx = app.create_context(load_settings())
    engagement = app.create_engagement(ctx, client="A", project="B")
    with pytest.raises(ValueError, match=r"is 1\.4 MB, over the upload limit of 1 MB"):
        app.add_sample(ctx, engagement, b"x" * int(1.43 * 2**20), "big.zip")


def test_skip_reasons_show_no_internal_paths(tmp_path, monkeypatch) -> None:
    make_class_tree(tmp_path / "data", {"ok": 3, "defect": 3}, size=24)
    import engines.intake.scan as scan

    real = scan.inspect_image

    def failing(path, *args, **kwargs):
        if path.name == "ok_0.png":
            raise ImageDecodeError(f"cannot read the file ([Errno 13] Permission denied: '{path}')")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(scan, "inspect_image", failing)
    index = scan_dataset(tmp_path / "data")
    (reason,) = [s.reason for s in index.skipped if s.path == "ok/ok_0.png"]
    assert str(tmp_path) not in reason and "'ok_0.png'" in reason
    assert (
        without_paths(
            "could not be extracted (File name too long: '/tmp/fa-upload-1x/.incoming-9-a/c/z.png')"
        )
        == "could not be extracted (File name too long: 'z.png')"
    )
    assert without_paths("C:\\Users\\me\\AppData\\Local\\Temp\\x.png is bad") == "x.png is bad"
    assert without_paths("ratio 1/2, not a path") == "ratio 1/2, not a path"


def test_symbolic_link_entries_in_a_zip_are_not_extracted(tmp_path) -> None:
    import stat
    import zipfile

    upload = tmp_path / "links.zip"
    with zipfile.ZipFile(upload, "w") as zf:
        for c in ("ok", "defect"):
            for i in range(2):
                zf.writestr(f"{c}/{c}_{i}.png", png_bytes(class_image(int(c == "ok"), i, 24)))
        link = zipfile.ZipInfo("ok/passwd.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    dest = tmp_path / "out"
    root = unpack_upload(upload, dest)
    assert not any(p.is_symlink() for p in dest.rglob("*"))
    reasons = {s.path: s.reason for s in scan_dataset(root).skipped}
    assert reasons["ok/passwd.png"].startswith("symbolic link")
