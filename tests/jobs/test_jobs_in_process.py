"""The in-process runner (background threads), the runner factory, and payload shipping."""

from __future__ import annotations

import io
import sys
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from jobs_helpers import (
    failing,
    not_a_dict,
    sleepy,
    stubborn,
    train_tiny,
    wait_finished,
    wait_for,
    write_points,
    write_two_class_images,
)

from engines.errors import EngineError
from engines.jobs import (
    RAY_INSTALL_HINT,
    InProcessRunner,
    JobRunner,
    JobState,
    create_runner,
)
from engines.jobs.payload import (
    PayloadPath,
    mark_payload_paths,
    pack_payload,
    read_chunks,
    resolve_payload_paths,
    unpack_payload,
)
from engines.jobs.state import error_line
from engines.progress import Progress


@pytest.fixture
def runner():
    r = InProcessRunner()
    yield r
    r.shutdown(timeout=5)


def test_a_job_reports_progress_and_its_result(runner):
    assert isinstance(runner, JobRunner) and runner.name == "in-process"
    seen: list[JobState] = []
    runner.submit("j1", sleepy, {"steps": 6, "seconds_per_step": 0.05})
    state = wait_for(runner, "j1", lambda s: (seen.append(s), s.finished)[1])
    assert state.status == "done"
    assert state.result["steps"] == 6
    assert state.error is None
    assert state.started_at is not None and state.finished_at >= state.started_at
    assert any(s.status == "running" and s.progress is not None for s in seen)
    assert state.to_dict()["progress"]["stage"] == "sleep"


def test_a_small_training_job_runs_in_a_thread(runner):
    runner.submit("train", train_tiny, {"steps": 40})
    state = wait_finished(runner, "train")
    assert state.status == "done", state.error
    assert state.result["accuracy"] > 0.9
    assert state.progress == Progress(
        "train", 1.0, "step 40/40", metric={"loss": state.result["loss"]}
    )


def test_cancel_ends_a_running_job_cancelled(runner):
    runner.submit("long", sleepy, {"steps": 1000, "seconds_per_step": 0.02})
    wait_for(runner, "long", lambda s: s.status == "running")
    runner.cancel("long")
    state = wait_finished(runner, "long", timeout=5)
    assert state.status == "cancelled"
    assert state.result is None and state.finished_at is not None
    runner.cancel("long")  # cancelling a finished job does nothing
    assert runner.poll("long").status == "cancelled"


def test_an_exception_fails_the_job_with_a_one_line_reason(runner):
    runner.submit("bad", failing, {"message": "no labels in the sample\nsecond line"})
    state = wait_finished(runner, "bad")
    assert state.status == "failed"
    assert state.error == "ValueError: no labels in the sample"
    assert state.progress.stage == "about_to_fail"


def test_a_function_not_returning_a_dict_fails(runner):
    runner.submit("list", not_a_dict, {})
    state = wait_finished(runner, "list")
    assert state.status == "failed" and "not a dict" in state.error


def test_jobs_beyond_the_limit_wait_queued_and_can_be_cancelled_there(runner):
    runner.submit("first", sleepy, {"steps": 1000, "seconds_per_step": 0.02})
    runner.submit("second", sleepy, {"steps": 1, "seconds_per_step": 0.0})
    runner.submit("third", sleepy, {"steps": 1, "seconds_per_step": 0.0})
    wait_for(runner, "first", lambda s: s.status == "running")
    assert runner.poll("second").status == "queued"
    runner.cancel("third")
    assert wait_finished(runner, "third", timeout=5).status == "cancelled"
    assert runner.poll("third").started_at is None
    runner.cancel("first")
    assert wait_finished(runner, "second", timeout=5).status == "done"


def test_two_jobs_run_together_when_allowed():
    runner = InProcessRunner(max_concurrent=2)
    try:
        runner.submit("a", sleepy, {"steps": 1000, "seconds_per_step": 0.02})
        runner.submit("b", sleepy, {"steps": 1000, "seconds_per_step": 0.02})
        wait_for(runner, "a", lambda s: s.status == "running")
        wait_for(runner, "b", lambda s: s.status == "running")
    finally:
        runner.shutdown(timeout=5)
    assert runner.poll("a").status == runner.poll("b").status == "cancelled"


def test_unknown_and_duplicate_ids(runner):
    state = runner.poll("never-submitted")
    assert state.status == "failed" and "no job with that id" in state.error
    runner.cancel("never-submitted")  # no error
    runner.submit("dup", sleepy, {"steps": 1, "seconds_per_step": 0.0})
    with pytest.raises(ValueError, match="already submitted"):
        runner.submit("dup", sleepy, {"steps": 1})
    with pytest.raises(ValueError, match="non-empty"):
        runner.submit("  ", sleepy, {"steps": 1})
    with pytest.raises(ValueError, match="at least 1"):
        InProcessRunner(max_concurrent=0)


def test_shutdown_cancels_and_waits_for_running_jobs():
    runner = InProcessRunner()
    runner.submit("s", sleepy, {"steps": 1000, "seconds_per_step": 0.02})
    wait_for(runner, "s", lambda s: s.status == "running")
    runner.shutdown(timeout=5)
    assert runner.poll("s").status == "cancelled"
    assert not any(t.name == "job-s" for t in threading.enumerate())


def test_a_stuck_job_does_not_block_shutdown_beyond_its_timeout():
    runner = InProcessRunner()
    runner.submit("stuck", stubborn, {"seconds": 1.5})
    wait_for(runner, "stuck", lambda s: s.status == "running")
    runner.shutdown(timeout=0.2)
    # The thread cannot be killed; it finishes on its own and is still reported.
    assert wait_finished(runner, "stuck", timeout=5).status == "done"


def test_the_job_reads_its_payload_in_place(runner, tmp_path):
    points = write_points(tmp_path / "sample" / "points.npz")
    runner.submit(
        "p",
        train_tiny,
        {"steps": 30, "data_file": str(points)},
        payload_dir=tmp_path / "sample",
        needs_gpu=True,
    )
    state = wait_finished(runner, "p")
    assert state.status == "done" and state.result["data_file"] == str(points)


def test_a_real_validation_runs_in_the_background(runner, tmp_path):
    from engines.validation import LabeledSplit, ValidationConfig, run_validation

    split = LabeledSplit(**write_two_class_images(tmp_path / "sample"))
    config = ValidationConfig(
        backbone="test_efficientnet",
        device="cpu",
        budget_seconds=60,
        batch_size=8,
        strategies=("linear_probe",),
        compare_backbones=(),
    )
    runner.submit(
        "validation",
        run_validation,
        {"split": split, "config": config},
        payload_dir=tmp_path / "sample",
    )
    stages = set()
    state = wait_for(
        runner,
        "validation",
        lambda s: (stages.add(s.progress and s.progress.stage), s.finished)[1],
        timeout=90,
    )
    assert state.status == "done", state.error
    (experiment,) = state.result["experiments"]
    assert experiment["strategy"] == "linear_probe" and experiment["n_val"] == 4
    assert state.progress.stage == "done" and state.progress.metric["accuracy"] >= 0.0
    assert "done" in stages and len(stages - {None}) >= 2


def test_create_runner_picks_the_backend(monkeypatch):
    runner = create_runner()
    assert isinstance(runner, InProcessRunner)
    assert runner.describe()["runner"] == "in-process"
    assert create_runner("in-process", max_concurrent=3).max_concurrent == 3
    with pytest.raises(ValueError, match="Unknown job runner 'slurm'"):
        create_runner("slurm")


def test_ray_without_ray_installed_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    monkeypatch.delitem(sys.modules, "engines.jobs.ray_runner", raising=False)
    with pytest.raises(EngineError) as info:
        create_runner("ray", address="ray://nowhere:10001")
    assert str(info.value) == RAY_INSTALL_HINT
    assert "pip install 'feasibility-advisor[cluster]'" in RAY_INSTALL_HINT


def test_error_line_is_one_short_line():
    assert error_line(KeyError("x")) == "KeyError: 'x'"
    assert error_line(RuntimeError()) == "RuntimeError"
    long = error_line(ValueError("a  b\tc " + "z" * 500))
    assert long.startswith("ValueError: a b c ") and len(long) == 300 and "\n" not in long


# -- payload shipping (used by the Ray runner; pure functions, tested here) ---------------


@dataclass(frozen=True)
class _Split:
    paths: list
    root: Path
    n: int


def test_payload_paths_are_marked_and_resolved_under_the_new_root(tmp_path):
    sample = tmp_path / "sample"
    sample.mkdir()
    kwargs = {
        "data_file": str(sample / "a" / "points.npz"),
        "split": _Split(paths=[sample / "x.png", "/elsewhere/y.png"], root=sample, n=2),
        "pair": (sample / "m.png", 3),
        "other": "relative/not/touched",
    }
    marked = mark_payload_paths(kwargs, sample)
    assert marked["data_file"] == PayloadPath("a/points.npz", as_path=False)
    assert marked["split"].paths == [PayloadPath("x.png", True), "/elsewhere/y.png"]
    assert marked["split"].root == PayloadPath("", True)
    assert marked["pair"] == (PayloadPath("m.png", True), 3)
    assert marked["other"] == "relative/not/touched"
    assert kwargs["split"].paths[0] == sample / "x.png"  # the original is untouched

    worker = tmp_path / "worker"
    resolved = resolve_payload_paths(marked, worker)
    assert resolved["data_file"] == str(worker / "a" / "points.npz")
    assert resolved["split"] == _Split([worker / "x.png", "/elsewhere/y.png"], worker, 2)
    assert resolved["pair"] == (worker / "m.png", 3)
    assert PayloadPath("a/b.png", True).resolve(worker) == worker / PurePosixPath("a/b.png")


def test_a_packed_payload_unpacks_to_the_same_files(tmp_path):
    sample = tmp_path / "sample"
    (sample / "cls").mkdir(parents=True)
    (sample / "cls" / "1.bin").write_bytes(b"\x00\x01" * 1000)
    (sample / "top.txt").write_text("hello")
    packed = io.BytesIO()
    assert pack_payload(sample, packed) == 2
    pieces = list(read_chunks(packed, chunk_bytes=512))
    assert len(pieces) > 2
    archive = tmp_path / "p.zip"
    archive.write_bytes(b"".join(pieces))
    unpack_payload(archive, tmp_path / "out")
    assert (tmp_path / "out" / "cls" / "1.bin").read_bytes() == b"\x00\x01" * 1000
    assert (tmp_path / "out" / "top.txt").read_text() == "hello"
    with pytest.raises(EngineError, match="does not exist"):
        pack_payload(tmp_path / "missing", io.BytesIO())


def test_an_escaping_name_in_a_payload_is_refused(tmp_path):
    import zipfile

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../outside.txt", "x")
    with pytest.raises(EngineError, match="unsafe file name"):
        unpack_payload(archive, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()
