"""Manifests: a CSV, TSV or Excel table that maps image file names to labels.

Column names are recognised loosely (``filename``/``image``/``path``/``id`` for the file,
``label``/``class``/``category``/``target`` for the label, ``split``/``set``/``subset``
for the split), in any case, Korean included (파일, 이미지, 라벨, 레이블, 클래스, 분할).
CSV text is read as UTF-8 (with or without BOM), then CP949 (Korean Excel exports),
then Latin-1, so no client file is unreadable because of its encoding.
"""

from __future__ import annotations

import contextlib
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from engines.intake.limits import IntakeError
from engines.intake.records import nfc

TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".txt", ".xlsx", ".xlsm"})
_MAX_TABLE_BYTES = 200 * 1024**2

_FILE_COLUMNS = (
    "filename",
    "file_name",
    "file",
    "filepath",
    "file_path",
    "image",
    "image_name",
    "imagename",
    "image_path",
    "imagepath",
    "image_file",
    "img",
    "img_name",
    "path",
    "image_id",
    "imageid",
    "id",
    "name",
    "fname",
    "파일",
    "파일명",
    "파일이름",
    "이미지",
    "이미지명",
    "경로",
)
_LABEL_COLUMNS = (
    "label",
    "labels",
    "class",
    "class_name",
    "classname",
    "category",
    "category_name",
    "target",
    "y",
    "diagnosis",
    "tag",
    "annotation",
    "라벨",
    "레이블",
    "클래스",
    "분류",
    "정답",
    "범주",
)
_SPLIT_COLUMNS = ("split", "set", "subset", "partition", "fold_name", "분할", "구분")


@dataclass
class ManifestRow:
    """One row of a manifest: the file as written, its label and split (raw text)."""

    file: str
    label: str | None
    split: str | None
    line: int


@dataclass
class Manifest:
    """A parsed manifest and the columns recognised in it."""

    path: Path
    rows: list[ManifestRow]
    file_column: str
    label_column: str | None
    split_column: str | None


def _norm_header(name: object) -> str:
    return nfc(str(name or "")).strip().lower().replace(" ", "_").replace("-", "_")


def _pick(header: list[str], candidates: tuple[str, ...]) -> int | None:
    normed = [_norm_header(h) for h in header]
    for cand in candidates:
        if cand in normed:
            return normed.index(cand)
    return None


def _decode_text(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _read_csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    text = _decode_text(raw)
    sample = text[:8192]
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with contextlib.suppress(csv.Error):
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]


def _read_excel_rows(path: Path) -> list[list[str]]:
    try:
        import openpyxl
    except ImportError as exc:
        raise IntakeError(
            f"'{path.name}' is an Excel file and the Excel reader (openpyxl) is not "
            "installed. Save the sheet as CSV and upload again."
        ) from exc
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise IntakeError(
            f"'{path.name}' could not be read as an Excel workbook ({type(exc).__name__}). "
            "Save the sheet as CSV and upload again."
        ) from exc
    try:
        sheet = book.worksheets[0]
        rows = []
        for values in sheet.iter_rows(values_only=True):
            cells = ["" if v is None else str(v) for v in values]
            if any(c.strip() for c in cells):
                rows.append(cells)
        return rows
    finally:
        book.close()


def read_manifest(path: Path, max_rows: int = 200_000) -> Manifest | None:
    """Read a table and recognise its file, label and split columns.

    Args:
        path: A ``.csv``, ``.tsv``, ``.txt`` or ``.xlsx`` file.
        max_rows: Most rows read.

    Returns:
        The manifest, or None when the table has no column that names files (it is
        then not a manifest; a header-less two-column CSV "file,label" is accepted).

    Raises:
        IntakeError: An Excel file that cannot be opened.

    """
    path = Path(path)
    if path.stat().st_size > _MAX_TABLE_BYTES:
        return None
    try:
        rows = (
            _read_excel_rows(path)
            if path.suffix.lower() in {".xlsx", ".xlsm"}
            else (_read_csv_rows(path))
        )
    except (OSError, csv.Error, UnicodeError):
        return None
    if not rows:
        return None
    header = rows[0]
    file_idx = _pick(header, _FILE_COLUMNS)
    label_idx = _pick(header, _LABEL_COLUMNS)
    split_idx = _pick(header, _SPLIT_COLUMNS)
    body = rows[1:]
    if file_idx is None:
        if _looks_like_file(header[0]) and len(header) >= 1:
            file_idx, label_idx, split_idx = 0, (1 if len(header) > 1 else None), None
            body = rows
            header = ["file", "label"][: len(header)]
        else:
            return None
    if label_idx == file_idx:
        label_idx = None
    out: list[ManifestRow] = []
    for n, row in enumerate(body[:max_rows], start=2 if body is not rows else 1):
        if file_idx >= len(row) or not row[file_idx].strip():
            continue
        label = row[label_idx].strip() if label_idx is not None and label_idx < len(row) else ""
        split = row[split_idx].strip() if split_idx is not None and split_idx < len(row) else ""
        out.append(
            ManifestRow(
                file=nfc(row[file_idx].strip()),
                label=nfc(label) or None,
                split=split or None,
                line=n,
            )
        )
    return Manifest(
        path=path,
        rows=out,
        file_column=str(header[file_idx]) if file_idx < len(header) else "file",
        label_column=str(header[label_idx]) if label_idx is not None else None,
        split_column=str(header[split_idx]) if split_idx is not None else None,
    )


def _looks_like_file(cell: str) -> bool:
    from engines.images import IMAGE_SUFFIXES

    return Path(cell.strip()).suffix.lower() in IMAGE_SUFFIXES
