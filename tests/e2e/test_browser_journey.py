"""The consultant's journey in a real browser: engagement -> upload -> profile -> advice
-> validate (tiny budget, the real pipeline) -> reload during the run -> results ->
download the report; then the pages again in English and Korean at two widths, with
full-page screenshots and a check that no metric value is cut off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from advisor.i18n import t
from tests.conftest import make_class_folders, zip_folder

RUN_TIMEOUT_MS = 240_000
STEP_TIMEOUT_MS = 30_000


# Screenshots of every step, kept as test artifacts for people to look at.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
MAX_SHOT_HEIGHT = 10_000
# The element that scrolls: Streamlit scrolls its main area, not the document, so a
# plain full-page screenshot would stop at the window's height.
SCROLL_HEIGHT_JS = """() => Math.max(document.documentElement.scrollHeight,
  ...[...document.querySelectorAll('*')].filter(el => {
    const y = getComputedStyle(el).overflowY;
    return (y === 'auto' || y === 'scroll') && el.scrollHeight > el.clientHeight;
  }).map(el => el.scrollHeight))"""
# Metric values and labels whose text does not fit their box (cut off or ellipsized).
CLIPPED_METRICS_JS = """() => [...document.querySelectorAll(
    '[data-testid="stMetricValue"], [data-testid="stMetricLabel"]')]
  .filter(el => [el, ...el.querySelectorAll('*')].some(
    c => c.scrollWidth > c.clientWidth + 1 && c.clientWidth > 0))
  .map(el => el.innerText)"""
# The walk after the journey: (language, width) pairs, and the pages it visits.
WALKS = (("en", 1440), ("ko", 1280), ("en", 1280), ("ko", 1440))
WALK_PAGES = ("data", "advice", "validate", "report")


def shot(page, name: str) -> None:
    """Save a full-page screenshot: the window grows to the scrolling area's height."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = int(page.evaluate(SCROLL_HEIGHT_JS))
    page.set_viewport_size(
        {"width": size["width"], "height": min(max(height, size["height"]), MAX_SHOT_HEIGHT)}
    )
    page.wait_for_timeout(400)  # let the charts redraw at the new size
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


def nav(page, name: str) -> None:
    page.get_by_role("link", name=name, exact=True).first.click()
    page.wait_for_load_state("networkidle")


def choose_language(page, language: str) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name={"en": "English", "ko": "한국어"}[language]).click()
    page.get_by_role("link", name=t("app.nav.report", language), exact=True).wait_for()


def walk(page, language: str, width: int) -> None:
    """Visit the pages at one width in one language; screenshot each, check the metrics."""
    page.set_viewport_size({"width": width, "height": 900})
    choose_language(page, language)
    for key in WALK_PAGES:
        nav(page, t(f"app.nav.{key}", language))
        if key == "validate":
            page.get_by_text(t("app.validate.results", language, run=1)).wait_for()
            page.locator(".js-plotly-plot").first.wait_for()
        elif key == "report":
            page.frame_locator("iframe").first.locator("#answer").wait_for()
        elif key == "advice":
            page.locator(".js-plotly-plot").first.wait_for()
        else:
            page.get_by_test_id("stMetricValue").first.wait_for()
        assert "Traceback" not in page.content()
        clipped = page.evaluate(CLIPPED_METRICS_JS)
        assert not clipped, (language, width, key, clipped)
        shot(page, f"walk-{language}-{width}-{key}")


@pytest.mark.slow
def test_journey_in_a_browser(browser, app_server, tmp_path):
    folder = make_class_folders(tmp_path / "sample", {"cat": 8, "coffee": 8}, size=40)
    sample = zip_folder(folder, tmp_path / "sample.zip", wrap="client_sample")
    context = browser.new_context(accept_downloads=True, viewport={"width": 1440, "height": 900})
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

    # 7. Report: the one-page summary first, then the full report to download
    nav(page, "Report")
    page.frame_locator("iframe").first.locator("#answer").wait_for()
    shot(page, "6-report")
    with page.expect_download() as summary:
        page.get_by_role("button", name="Download the summary (HTML)").click()
    saved = tmp_path / "summary.html"
    summary.value.save_as(saved)
    assert 'id="answer"' in saved.read_text("utf-8")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the report (HTML)").click()
    saved = tmp_path / "report.html"
    download.value.save_as(saved)
    html = saved.read_text("utf-8")
    assert "<html" in html.lower() and "efficientnet_lite0" in html
    assert (app_server.data_dir / "runs" / "1" / "result.json").exists()

    # 8. The pages again, in both languages at both widths: nothing cut off.
    for language, width in WALKS:
        walk(page, language, width)

    # 9. Presenter mode for the projector: no rule ids, larger numbers.
    language = WALKS[-1][0]
    page.get_by_test_id("stSidebar").get_by_text(t("app.presenter", language)).click()
    nav(page, t("app.nav.validate", language))
    page.get_by_text(t("app.validate.results", language, run=1)).wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    assert not re.search(r"\((EV|TL|QA)-\d{3}\)", page.inner_text("body"))
    assert not page.evaluate(CLIPPED_METRICS_JS)
    shot(page, f"presenter-{language}-{WALKS[-1][1]}-validate")
    context.close()
