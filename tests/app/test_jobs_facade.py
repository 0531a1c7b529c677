"""advisor.jobs: background runs mirrored into the store, found again after a reload."""

from __future__ import annotations

import copy
import json
import time

import pytest
from app_helpers import FakePipeline, example_result

from advisor import store
from advisor.intake import Intake
from advisor.jobs import ValidationJobs, friendly_error, headline, validation_job
from advisor.result import parse_result
from engines.jobs import InProcessRunner
from engines.results import ConfigError, RunConfig


@pytest.fixture
def engine(tmp_path):
    return store.create_db_engine(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture
def dataset_id(engine, tmp_path, two_class_zip) -> int:
    with store.open_session(engine) as session:
        engagement = store.create_engagement(
            session, store.EngagementCreate(client="ACME", project="Tiles")
        )
        dataset = store.store_sample(session, int(engagement.id), two_class_zip, tmp_path / "data")
    return int(dataset.id)


@pytest.fixture
def jobs(engine, tmp_path):
    runner = InProcessRunner()
    yield ValidationJobs(engine, tmp_path / "data", runner, poll_seconds=0.05)
    runner.shutdown(timeout=5)


def start(jobs, dataset_id, two_class_folder, budget=12.0) -> int:
    return jobs.start(
        dataset_id,
        source=two_class_folder,
        intake=Intake(target_value=0.8),
        config=RunConfig.create(budget_seconds=budget),
    )


def test_a_run_reports_progress_and_lands_in_the_store(
    jobs, dataset_id, two_class_folder, fake_pipeline, engine, tmp_path
):
    fake_pipeline.release.clear()
    run_id = start(jobs, dataset_id, two_class_folder)
    assert fake_pipeline.started.wait(10)
    deadline = time.monotonic() + 10
    view = jobs.view(run_id)
    while view.fraction < 0.7 and time.monotonic() < deadline:
        time.sleep(0.05)
        view = jobs.view(run_id)
    assert view.status == "running" and view.live
    assert view.stage == "linear_probe" and view.eta_seconds is not None
    assert view.metric == {"accuracy": 0.9}
    time.sleep(0.2)  # the monitor thread copies progress into the store on its own
    with store.open_session(engine) as session:
        row = store.get_run(session, run_id)
    assert row.status == "running" and row.stage == "linear_probe" and row.progress > 0.5
    assert jobs.active_run(1) == run_id

    fake_pipeline.release.set()
    view = jobs.wait(run_id, timeout=10)
    assert view.status == "done" and not view.live
    assert view.result_dir == tmp_path / "data" / "runs" / str(run_id)
    assert json.loads((view.result_dir / "result.json").read_text())["validation"]
    with store.open_session(engine) as session:
        row = store.get_run(session, run_id)
    assert row.status == "done" and row.metrics["strategy"] == "linear_probe"
    assert row.config["budget_seconds"] == 12.0 and row.config["intake"]["target_value"] == 0.8
    assert jobs.active_run(1) is None
    call = fake_pipeline.calls[0]
    assert call["source"] == two_class_folder
    assert call["cache_dir"] == str(tmp_path / "data" / "cache" / "features")


def test_another_process_sees_the_run_through_the_store(
    jobs, dataset_id, two_class_folder, fake_pipeline, engine, tmp_path
):
    fake_pipeline.release.clear()
    run_id = start(jobs, dataset_id, two_class_folder)
    assert fake_pipeline.started.wait(10)
    time.sleep(0.3)
    other = ValidationJobs(engine, tmp_path / "data", InProcessRunner())
    view = other.view(run_id)
    assert view.status == "running" and not view.live and view.fraction > 0
    assert other.active_run(1) == run_id
    fake_pipeline.release.set()
    jobs.wait(run_id, timeout=10)
    assert other.view(run_id).status == "done"


def test_cancel_marks_the_run_at_once_and_stops_the_job(
    jobs, dataset_id, two_class_folder, fake_pipeline, engine
):
    fake_pipeline.release.clear()
    run_id = start(jobs, dataset_id, two_class_folder)
    assert fake_pipeline.started.wait(10)
    view = jobs.cancel(run_id)
    assert view.status == "cancelled" and view.error == "cancelled by the consultant"
    deadline = time.monotonic() + 5
    while jobs.runner.poll(str(run_id)).status != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs.runner.poll(str(run_id)).status == "cancelled"
    with store.open_session(engine) as session:
        assert store.get_run(session, run_id).status == "cancelled"


def test_a_failing_job_is_failed_with_a_readable_reason(
    jobs, dataset_id, two_class_folder, fake_pipeline
):
    from advisor.pipeline import NotValidatable

    fake_pipeline.error = NotValidatable("The sample has no class labels: upload class folders.")
    run_id = start(jobs, dataset_id, two_class_folder)
    view = jobs.wait(run_id, timeout=10)
    assert view.status == "failed"
    assert view.error == "The sample has no class labels: upload class folders."


def test_a_remote_run_writes_its_result_here(engine, dataset_id, two_class_folder, tmp_path):
    class RemoteRunner(InProcessRunner):
        name = "ray"

    runner = RemoteRunner()
    jobs = ValidationJobs(engine, tmp_path / "data", runner, poll_seconds=0.05)
    fake = FakePipeline()
    import advisor.pipeline

    original = advisor.pipeline.validate
    advisor.pipeline.validate = fake
    try:
        run_id = start(jobs, dataset_id, two_class_folder)
        view = jobs.wait(run_id, timeout=10)
    finally:
        advisor.pipeline.validate = original
        runner.shutdown(timeout=5)
    assert view.status == "done"
    assert (view.result_dir / "result.json").exists()
    assert "<!doctype html>" in (view.result_dir / "report.html").read_text("utf-8").lower()
    assert fake.calls[0]["cache_dir"] is None  # the worker's own cache, not this machine's


def test_start_refuses_bad_input(jobs, dataset_id, two_class_folder, tmp_path):
    with pytest.raises(ConfigError, match="positive number of seconds"):
        start(jobs, dataset_id, two_class_folder, budget=0)
    with pytest.raises(ConfigError, match="positive number of seconds"):
        start(jobs, dataset_id, two_class_folder, budget=float("nan"))
    config = RunConfig(budget_seconds=5)
    with pytest.raises(ValueError, match="upload it again"):
        jobs.start(dataset_id, source=tmp_path / "gone", intake=Intake(), config=config)
    with pytest.raises(store.NotFoundError):
        jobs.start(999, source=two_class_folder, intake=Intake(), config=config)


def test_validation_job_passes_everything_to_the_pipeline(fake_pipeline, tmp_path):
    from engines.progress import CancelToken

    seen = []
    config = RunConfig(budget_seconds=7, device="cpu", strategies=["linear_probe"])
    result = validation_job(
        source=str(tmp_path),
        out_dir=str(tmp_path / "out"),
        intake={"language": "ko"},
        config=config.to_dict(),
        progress=seen.append,
        cancel=CancelToken(),
    )
    assert result["validation"] and (tmp_path / "out" / "result.json").exists()
    call = fake_pipeline.calls[0]
    assert call["intake"].language == "ko" and call["config"] == config
    assert seen and seen[-1].fraction <= 1


def test_headline_reads_only_what_was_measured():
    result = example_result()
    line = headline(parse_result(result))
    best = result["validation"]["experiments"][0]
    assert line["accuracy"] == best["metrics"]["accuracy"]["value"]
    assert line["strategy"] == best["strategy"] and line["n_images"] == 24
    unmeasured = copy.deepcopy(result)
    unmeasured["validation"] = {"task": "classification"}
    assert "accuracy" not in headline(parse_result(unmeasured))


def test_the_best_experiment_has_one_meaning_without_a_named_best():
    result = copy.deepcopy(example_result())
    experiments = result["validation"]["experiments"]
    result["validation"]["best_experiment"] = None
    experiments[0]["metrics"]["accuracy"]["value"] = 0.1
    experiments[-1]["metrics"]["accuracy"]["value"] = 0.99
    typed = parse_result(result)
    assert typed.best_experiment().id == experiments[-1]["id"]
    assert headline(typed)["accuracy"] == 0.99


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("Upload class folders.", "user"),
        ("the process running it stopped (killed or crashed): process 1 on h is gone.", "runner"),
    ],
)
def test_friendly_error_keeps_messages_meant_for_the_consultant(error, kind):
    assert friendly_error(error, kind) == error


def test_user_errors_are_reported_by_kind_not_by_class_name():
    from advisor.pipeline import NotValidatable
    from engines.intake import IntakeError
    from engines.jobs.state import error_fields

    for exc in (NotValidatable("Upload class folders."), IntakeError("not a zip archive")):
        fields = error_fields(exc)
        assert fields["error_kind"] == "user" and fields["error"] == str(exc)
    assert error_fields(RuntimeError("boom"))["error_kind"] == "unexpected"


def test_friendly_error_names_an_unexpected_failure():
    text = friendly_error("RuntimeError: CUDA out of memory", "unexpected")
    assert "unexpectedly" in text and "CUDA out of memory" in text and "Start it again" in text


def test_two_starts_at_once_give_one_run_and_a_clear_refusal(
    jobs, dataset_id, two_class_folder, fake_pipeline
):
    import threading

    fake_pipeline.release.clear()
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def press_start() -> None:
        barrier.wait()
        try:
            outcomes.append(start(jobs, dataset_id, two_class_folder))
        except ValueError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=press_start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    runs = [o for o in outcomes if isinstance(o, int)]
    refusals = [o for o in outcomes if isinstance(o, ValueError)]
    assert len(runs) == 1 and len(refusals) == 1, outcomes
    assert "already active" in str(refusals[0])
    fake_pipeline.release.set()
    assert jobs.wait(runs[0], timeout=30).status == "done"
