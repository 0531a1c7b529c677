"""Helpers of the app tests: a stand-in for the pipeline and steps of the journey.

The validation itself is tested in tests/engine; here the slow engine call is replaced
(as Streamlit's testing guide advises) by a job that reports progress like the real one,
honours cancellation, and writes a real result document recorded from the pipeline
(``tests/app/data/result_example.json``), so the pages draw what a real run gives.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from advisor.result import parse_result, write_result
from engines.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
EXAMPLE = Path(__file__).resolve().parent / "data" / "result_example.json"
TIMEOUT = 60


def example_result() -> dict:
    return json.loads(EXAMPLE.read_text("utf-8"))


class FakePipeline:
    """Stands in for ``advisor.pipeline.validate``: progress, cancel, a real result."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()
        self.calls: list[dict] = []
        self.error: Exception | None = None
        self.steps = 4
        self.edit = None  # a function that changes the result before it is written

    def __call__(self, source, out_dir, config, *, intake, progress, cancel, **kw):
        self.calls.append(
            {
                "source": Path(source),
                "config": config,
                "intake": intake,
                **config.model_dump(),
                **kw,
            }
        )
        budget_seconds = config.budget_seconds
        self.started.set()
        for i in range(self.steps):
            cancel.raise_if_cancelled()
            progress(
                Progress(
                    "linear_probe",
                    (i + 1) / (self.steps + 1),
                    f"step {i + 1}",
                    eta_seconds=3.0 * (self.steps - i),
                    metric={"accuracy": 0.9},
                )
            )
            time.sleep(0.05)
        while not self.release.wait(0.05):
            cancel.raise_if_cancelled()
        cancel.raise_if_cancelled()
        if self.error is not None:
            raise self.error
        result = copy.deepcopy(example_result())
        result["intake"] = intake.to_dict()
        result["config"] = {**result.get("config", {}), "budget_seconds": budget_seconds}
        if self.edit is not None:
            self.edit(result)
        typed = parse_result(result)
        write_result(typed, Path(out_dir))
        (Path(out_dir) / "report.html").write_text("<html></html>", "utf-8")
        return typed


def goto(at: AppTest, page: str) -> AppTest:
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def create_engagement(
    at: AppTest,
    client: str = "ACME",
    project: str = "Tiles",
    target: float = 90.0,
    language: str = "en",
) -> AppTest:
    at = goto(at, "app_pages/engagement.py")
    at.text_input(key="engagement_client_new").set_value(client)
    at.text_input(key="engagement_project_new").set_value(project)
    at.number_input(key="engagement_target_new").set_value(target)
    at.radio(key="engagement_language_new").set_value(language)
    submit = next(b for b in at.button if b.key and b.key.startswith("FormSubmitter:"))
    submit.click()
    at.run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, zip_path: Path, name: str = "sample.zip") -> AppTest:
    at = goto(at, "app_pages/data.py")
    at.file_uploader(key="data_upload").set_value((name, zip_path.read_bytes(), "application/zip"))
    at.run()
    assert not at.exception, at.exception
    return at


def run_until(at: AppTest, done, timeout: float = 30.0) -> AppTest:
    """Rerun the page (as the live fragment does every second) until ``done(at)``."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, at.exception
        if done(at) or time.monotonic() > deadline:
            return at
        time.sleep(0.2)
