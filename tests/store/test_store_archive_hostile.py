"""Hostile engagement archives: import trusts nothing in them.

Before, import accepted a report path outside its folder (so the app would later serve
any file of the machine as "the report"), an unknown language, and a small archive that
expanded to 200 MB.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from test_store_archive import _build

from advisor import store
from advisor.store.database import create_db_engine

BOMB_BYTES = 64 * 1024**2


def _rewrite(
    archive: Path,
    dest: Path,
    change: Callable[[dict], None],
    extra: Callable[[zipfile.ZipFile, dict], None] | None = None,
) -> Path:
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(dest, "w") as dst:
        manifest = json.loads(src.read("manifest.json"))
        change(manifest)
        if extra is not None:
            extra(dst, manifest)
        dst.writestr("manifest.json", json.dumps(manifest))
        for info in src.infolist():
            if info.filename != "manifest.json":
                dst.writestr(info, src.read(info))
    return dest


def _zeros_member(dst: zipfile.ZipFile, manifest: dict) -> None:
    name = "runs/1/padding.bin"
    digest = hashlib.sha256()
    block = bytes(1024**2)
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with dst.open(info, "w", force_zip64=True) as out:
        for _ in range(BOMB_BYTES // len(block)):
            out.write(block)
            digest.update(block)
    manifest["files"][name] = digest.hexdigest()


@pytest.fixture
def exported(sqlite_url: str, tmp_path: Path) -> tuple[Path, Path]:
    data_dir = tmp_path / "data"
    engine = create_db_engine(sqlite_url)
    engagement_id = _build(engine, data_dir, tmp_path)
    archive = tmp_path / "e.zip"
    with store.open_session(engine) as s:
        store.export_engagement(s, engagement_id, archive, data_dir)
    engine.dispose()
    return archive, tmp_path


def _set_report_path(path: str) -> Callable[[dict], None]:
    def change(manifest: dict) -> None:
        manifest["reports"][0]["archive_member"] = None
        manifest["reports"][0]["path"] = path

    return change


def _set_engagement(key: str, value: str) -> Callable[[dict], None]:
    def change(manifest: dict) -> None:
        manifest["engagement"][key] = value

    return change


def _compressed_zeros(manifest: dict) -> None:
    """Nothing to change in the rows: the bomb is the extra member."""


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        (_set_report_path("/etc/passwd"), None, "points outside its folder"),
        (_set_report_path("../../../home/me/.ssh/id_rsa"), None, "points outside its folder"),
        (_set_report_path("C:\\Windows\\win.ini"), None, "points outside its folder"),
        (_set_report_path("samples/x/sample.zip"), None, "points outside its folder"),
        (_set_engagement("language", "xx"), None, "language 'xx'"),
        (_set_engagement("deployment_target", "toaster"), None, "deployment target"),
        (_compressed_zeros, _zeros_member, "zip bomb"),
    ],
    ids=["absolute", "dotdot", "windows", "not-reports", "language", "target", "bomb"],
)
def test_hostile_archives_are_refused_and_leave_nothing(
    exported, sqlite_url, change, extra, message
) -> None:
    archive, tmp_path = exported
    bad = _rewrite(archive, tmp_path / "bad.zip", change, extra)
    target_dir = tmp_path / "target"
    engine = create_db_engine(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        with store.open_session(engine) as s:
            with pytest.raises(store.ArchiveError, match=message):
                store.import_engagement(s, bad, target_dir)
            assert store.list_engagements(s) == []
        if target_dir.exists():
            assert not list(target_dir.rglob("*.bin"))
            assert not [p for p in target_dir.iterdir() if p.name.startswith(".import-")]
    finally:
        engine.dispose()


def test_import_limit(exported) -> None:
    archive, tmp_path = exported
    engine = create_db_engine(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        with store.open_session(engine) as s:
            with pytest.raises(store.ArchiveError, match="over the import limit"):
                store.import_engagement(s, archive, tmp_path / "target", max_bytes=100)
            imported = store.import_engagement(s, archive, tmp_path / "target")
            assert imported.language == "ko"
    finally:
        engine.dispose()
