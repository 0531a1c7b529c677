# ruff: noqa: E501 - a table of test node ids, one per line
"""The fault and hostile-input catalogue: every case, and the test that holds it.

New cases live in this folder. Cases that already held before this suite existed are
tested where their code is (intake, store, report); they are listed here instead of
copied, and the test below fails if one of them is renamed or removed, so that no case
of the catalogue silently loses its test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

# (case, "file::test") — file relative to tests/.
CATALOGUE: tuple[tuple[str, str], ...] = (
    # Fixed with this suite.
    (
        "same zip uploaded by threads at once",
        "faults/test_faults_concurrent_uploads.py::test_threads_unpacking_the_same_zip_each_get_the_whole_sample",
    ),
    (
        "same zip uploaded by app sessions at once",
        "faults/test_faults_concurrent_uploads.py::test_concurrent_app_uploads_of_the_same_zip",
    ),
    (
        "kill -9 mid-extraction leaves nothing reused",
        "faults/test_faults_concurrent_uploads.py::test_kill_9_mid_extraction_leaves_nothing_reused",
    ),
    (
        "extraction without completion marker is redone",
        "faults/test_faults_concurrent_uploads.py::test_an_extraction_without_the_completion_marker_is_redone",
    ),
    (
        ".incoming-* leftovers cleaned at start-up",
        "faults/test_faults_concurrent_uploads.py::test_store_start_up_cleans_leftovers",
    ),
    (
        "one active run per engagement (database)",
        "store/test_store_one_active_run.py::test_starters_at_the_same_moment_get_exactly_one_run",
    ),
    (
        "second starter refused with a clear error",
        "store/test_store_one_active_run.py::test_a_second_active_run_is_refused_until_the_first_ends",
    ),
    (
        "two Start presses at once (jobs)",
        "app/test_jobs_facade.py::test_two_starts_at_once_give_one_run_and_a_clear_refusal",
    ),
    (
        "loopback by default",
        "faults/test_faults_access.py::test_loopback_is_the_default_everywhere",
    ),
    (
        "no password beyond loopback: nothing shown",
        "faults/test_faults_access.py::test_beyond_loopback_without_a_password_shows_nothing",
    ),
    (
        "password on every page",
        "faults/test_faults_access.py::test_beyond_loopback_with_a_password_asks_for_it_on_every_page",
    ),
    (
        "16-bit PNG and float TIFF decode bombs",
        "faults/test_faults_decoded_bytes.py::test_huge_16_bit_png_and_float_tiff_in_a_tiny_zip_are_refused",
    ),
    ("--out is a file", "faults/test_faults_cli.py::test_out_is_an_existing_file"),
    ("--cache-dir is a file", "faults/test_faults_cli.py::test_cache_dir_is_a_file"),
    ("NaN/inf budgets", "faults/test_faults_cli.py::test_budget_must_be_finite_and_positive"),
    (
        "report on JSON that is not a result",
        "faults/test_faults_cli.py::test_report_on_json_that_is_not_a_result",
    ),
    ("strict result.json", "faults/test_faults_cli.py::test_result_json_is_strict"),
    (
        "one-class upload refused before torch",
        "faults/test_faults_cli.py::test_one_class_upload_is_refused_before_torch_loads",
    ),
    (
        "absolute zip paths",
        "faults/test_faults_small.py::test_absolute_zip_paths_never_become_classes",
    ),
    (
        "CSV matching no file",
        "faults/test_faults_small.py::test_a_table_whose_names_match_no_file_says_so",
    ),
    (
        "garbage .dcm",
        "faults/test_faults_small.py::test_garbage_dcm_is_not_a_dicom_file_and_stderr_stays_quiet",
    ),
    (
        "upload-limit message",
        "faults/test_faults_small.py::test_upload_limit_message_keeps_a_decimal",
    ),
    (
        "no internal paths in skip reasons",
        "faults/test_faults_small.py::test_skip_reasons_show_no_internal_paths",
    ),
    (
        "archive: report path outside its folder, unknown language, bomb",
        "store/test_store_archive_hostile.py::test_hostile_archives_are_refused_and_leave_nothing",
    ),
    # Held before this suite; tested where their code is.
    (
        "zip slip ('..' entries)",
        "intake/test_intake_unpack.py::test_path_traversal_and_absolute_paths_stay_inside",
    ),
    (
        "symbolic links in a zip",
        "faults/test_faults_small.py::test_symbolic_link_entries_in_a_zip_are_not_extracted",
    ),
    (
        "symbolic links in a folder",
        "intake/test_intake_scan.py::test_class_folder_symlink_not_followed",
    ),
    (
        "symbolic links in a stored sample",
        "store/test_store_samples.py::test_store_folder_and_file",
    ),
    (
        "report thumbnails never leave the sample",
        "report/test_images.py::test_paths_leaving_the_root_are_never_opened",
    ),
    ("zip bombs (ratio, total)", "intake/test_intake_unpack.py::test_zip_bomb_ratio_and_total"),
    (
        "entry larger than declared",
        "intake/test_intake_unpack.py::test_entry_larger_than_declared_is_stopped",
    ),
    (
        "upload over the size limit (from stat)",
        "intake/test_intake_unpack.py::test_sparse_two_gigabyte_upload_refused",
    ),
    ("pixel bombs", "intake/test_intake_images.py::test_decompression_bomb_refused_before_decode"),
    (
        "pixel bomb inside an upload",
        "intake/test_intake_scan.py::test_pixel_bomb_in_upload_is_skipped_rest_kept",
    ),
    ("truncated and corrupt images", "intake/test_intake_images.py::test_truncated_and_corrupt"),
    (
        "zero-byte and fake images listed, rest kept",
        "intake/test_intake_scan.py::test_broken_files_listed_rest_kept",
    ),
    ("zero-byte upload", "intake/test_intake_unpack.py::test_zero_byte_upload"),
    ("not a zip", "intake/test_intake_unpack.py::test_not_a_zip"),
    ("encrypted zip", "intake/test_intake_unpack.py::test_encrypted_zip_refused"),
    (
        "CP949 and duplicate names",
        "intake/test_intake_unpack.py::test_duplicate_entry_names_and_korean_names",
    ),
    ("CP949 manifests", "intake/test_intake_scan.py::test_excel_and_cp949_manifests"),
    (
        "foreign folder never written into",
        "intake/test_intake_unpack.py::test_unpacking_again_reuses_and_foreign_folder_is_refused",
    ),
    (
        "kill -9 in the store",
        "store/test_store_recovery.py::test_kill_9_mid_training_is_recovered_and_nothing_else_is_harmed",
    ),
    (
        "concurrent store writers",
        "store/test_store_concurrency.py::test_two_processes_writing_at_once_lose_nothing",
    ),
    (
        "tampered archives",
        "store/test_store_archive.py::test_damaged_or_foreign_archives_are_refused",
    ),
    (
        "client strings escaped in the report",
        "report/test_html.py::test_client_strings_are_escaped",
    ),
    (
        "CLI bad zip: one line, exit 2",
        "engine/test_pipeline.py::test_cli_bad_zip_gives_one_line_and_exit_2",
    ),
)


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize(("case", "node"), CATALOGUE, ids=[c for c, _ in CATALOGUE])
def test_every_case_has_its_test(case: str, node: str) -> None:
    file, name = node.split("::")
    path = TESTS / file
    assert path.is_file(), f"{case}: {file} is gone"
    assert name in _test_names(path), f"{case}: {node} is gone; update the catalogue"
