"""The consultant's journey in a real browser: engagement -> upload -> profile -> advice
-> validate (tiny budget, the real pipeline) -> reload during the run -> results ->
download the report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import make_class_folders, zip_folder

RUN_TIMEOUT_MS = 240_000
STEP_TIMEOUT_MS = 30_000


# Screenshots of every step, kept as test artifacts for people to look at.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def nav(page, name: str) -> None:
    page.get_by_role("link", name=name, exact=True).first.click()
    page.wait_for_load_state("networkidle")


@pytest.mark.slow
def test_journey_in_a_browser(browser, app_server, tmp_path):
    folder = make_class_folders(tmp_path / "sample", {"cat": 8, "coffee": 8}, size=40)
    sample = zip_folder(folder, tmp_path / "sample.zip", wrap="client_sample")
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.goto(app_server.url)

    # 1. Engagement
    page.get_by_label("Client", exact=True).fill("ACME Tiles")
    page.get_by_label("Project", exact=True).fill("Surface check")
    page.get_by_role("button", name="Create the engagement").click()
    page.get_by_text("Engagement saved.").wait_for()
    assert re.search(r"[?&]engagement=1\b", page.url)
    shot(page, "1-engagement")

    # 2. Data: upload in the browser, see the profile
    nav(page, "Data")
    page.locator("input[type='file']").set_input_files(str(sample))
    page.get_by_text("sample.zip is stored with the engagement.").wait_for()
    page.get_by_text("Distinct images").wait_for()
    assert page.get_by_test_id("stMetricValue").first.inner_text() == "16"
    shot(page, "2-data")

    # 3. Advice: the card and the 2×2
    nav(page, "Advice")
    page.get_by_role("heading", name="Transfer strategy").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    shot(page, "3-advice")

    # 4. Validate with a tiny budget, in the background
    nav(page, "Validate")
    budget = page.get_by_label("Time budget (seconds)")
    budget.fill("5")
    budget.press("Enter")
    page.get_by_role("button", name="Start the validation").click()
    page.get_by_text("Run 1 is in progress").wait_for()
    page.get_by_test_id("stProgress").wait_for()
    shot(page, "4-validate-running")

    # 5. A reload during the run reconnects to it
    page.reload()
    page.get_by_text("Run 1 is in progress").wait_for()
    page.get_by_role("button", name="Cancel the run").wait_for()
    assert "engagement=1" in page.url

    # 6. Results appear when the run ends, without another click
    page.get_by_text("Results of run 1").wait_for(timeout=RUN_TIMEOUT_MS)
    page.get_by_text("Best accuracy (held-out)").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    assert "Traceback" not in page.content()
    shot(page, "5-validate-results")

    # 7. Report: preview and download
    nav(page, "Report")
    shot(page, "6-report")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the report (HTML)").click()
    saved = tmp_path / "report.html"
    download.value.save_as(saved)
    html = saved.read_text("utf-8")
    assert "<html" in html.lower() and "efficientnet_lite0" in html
    assert (app_server.data_dir / "runs" / "1" / "result.json").exists()
    context.close()
