"""The Ray runner against a real Ray head started on loopback for this module.

The head is started the way docs/cluster.md tells an operator to (``ray start --head``,
token authentication on, one logical GPU declared so the GPU path is scheduled), and
the runner reaches it the way a laptop does: through the Ray Client port (``ray://``).
Workers find the project and this folder's job functions through PYTHONPATH, as a GPU
server finds them once the project is installed there.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import pytest
from jobs_helpers import (
    HERE,
    REPO_ROOT,
    failing,
    sleepy,
    stubborn,
    train_tiny,
    wait_finished,
    wait_for,
    write_points,
    write_two_class_images,
)

from engines.errors import EngineError
from engines.jobs import JobRunner, create_runner
from engines.jobs.payload import read_chunks

START_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> str | None:
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else shutil.which("ray")


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop the head we started: SIGTERM to its `ray start --block`, then its process group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers of our own group only
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def ray_head():
    """Start `ray start --head --block` on loopback; yield its client address; stop it."""
    # Not imported here: Ray reads its token settings when first imported, below.
    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray cannot start here: ray is not installed (pip install '.[cluster]')")
    cli = _ray_cli()
    if cli is None:
        pytest.skip("Ray cannot start here: the `ray` command is not on PATH")
    temp = tempfile.mkdtemp(prefix="fa-ray-")  # short: Ray's socket paths are length-limited
    gcs_port, client_port = _free_port(), _free_port()
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT), str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    cmd = [
        cli,
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={gcs_port}",
        f"--ray-client-server-port={client_port}",
        f"--dashboard-agent-listen-port={_free_port()}",
        "--include-dashboard=false",
        "--disable-usage-stats",
        "--num-cpus=2",
        "--num-gpus=1",  # a logical GPU: the scheduling path of GPU jobs, without one
        f"--object-store-memory={200 * 1024**2}",
        f"--temp-dir={temp}",
    ]
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if "Ray runtime started" in line:
                started.set()

    threading.Thread(target=read, daemon=True).start()
    t0 = time.monotonic()
    while not started.wait(0.2):
        if proc.poll() is not None or time.monotonic() - t0 > START_TIMEOUT_S:
            _stop_group(proc)
            shutil.rmtree(temp, ignore_errors=True)
            pytest.skip("Ray cannot start here: " + " | ".join(lines[-5:]))
    print(f"ray head started in {time.monotonic() - t0:.1f} s")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("RAY_AUTH_MODE", "token")
            mp.setenv("RAY_AUTH_TOKEN", token)
            mp.delenv("RAY_ADDRESS", raising=False)
            yield {"address": f"ray://127.0.0.1:{client_port}", "temp": Path(temp)}
    finally:
        _stop_group(proc)
        shutil.rmtree(temp, ignore_errors=True)


def _client_server_log(temp: Path) -> str:
    logs = sorted((temp / "session_latest" / "logs").glob("ray_client_server*.err"))
    return "\n".join(
        f"{log.name}: " + " | ".join(log.read_text(errors="replace").splitlines()[-6:])
        for log in logs
    )


@pytest.fixture(scope="module")
def runner(ray_head):
    # Right after `ray start` returns, the head's agents may still be starting, and the
    # client server then refuses the first connection ("Starting Ray client server
    # failed"): one retry, as an operator would.
    t0 = time.monotonic()
    for attempt in (1, 2):
        try:
            r = create_runner("ray", address=ray_head["address"], cancel_grace=3.0)
            break
        except EngineError as exc:
            print(f"connection attempt {attempt} failed: {exc}")
            print(_client_server_log(ray_head["temp"]))
            if attempt == 2:
                raise
            time.sleep(3)
    print(f"connected in {time.monotonic() - t0:.1f} s")
    yield r
    r.shutdown()


def test_the_runner_connects_and_describes_the_cluster(runner):
    assert isinstance(runner, JobRunner) and runner.name == "ray"
    info = runner.describe()
    assert info["nodes"] == 1 and info["cpus"] == 2 and info["gpus"] == 1


def test_a_small_training_job_runs_on_a_worker_with_its_payload(runner, tmp_path, monkeypatch):
    sample = tmp_path / "sample"
    points = write_points(sample / "data" / "points.npz")
    (sample / "notes.txt").write_text("not read by the job, shipped all the same")
    # small pieces, so the worker reassembles several in order
    from engines.jobs import ray_runner

    monkeypatch.setattr(ray_runner, "read_chunks", partial(read_chunks, chunk_bytes=1000))
    seen = []
    runner.submit("train", train_tiny, {"steps": 60, "data_file": str(points)}, payload_dir=sample)
    state = wait_for(runner, "train", lambda s: (seen.append(s), s.finished)[1], timeout=60)
    assert state.status == "done", state.error
    result = state.result
    assert result["accuracy"] > 0.9 and result["steps"] == 60
    assert result["pid"] != os.getpid()
    # the job read the worker's own copy of the sample, not the laptop's path
    assert result["data_file"] != str(points)
    assert result["data_file"].endswith(os.path.join("data", "points.npz"))
    assert not Path(result["data_file"]).exists()  # removed when the job ended
    assert state.progress.stage == "train" and state.progress.fraction == 1.0
    assert state.started_at <= state.finished_at
    assert seen[0].status in ("queued", "running")


def test_an_error_in_the_job_comes_back_as_a_one_line_reason(runner):
    runner.submit("fail", failing, {"message": "the labels are missing"})
    state = wait_finished(runner, "fail", timeout=60)
    assert state.status == "failed"
    assert state.error == "ValueError: the labels are missing"


def test_gpu_jobs_get_the_gpu_one_at_a_time_and_cancel_both_ways(runner):
    runner.submit("gpu-a", sleepy, {"steps": 2000, "seconds_per_step": 0.05}, needs_gpu=True)
    runner.submit("gpu-b", sleepy, {"steps": 1}, needs_gpu=True)
    a = wait_for(runner, "gpu-a", lambda s: s.status == "running", timeout=60)
    assert a.progress.stage in ("starting", "sleep")
    assert runner.worker("gpu-a")["gpu_ids"] == ["0"]
    b = runner.poll("gpu-b")
    assert b.status == "queued" and "GPU" in b.progress.message
    # cancelling a queued job ends it at once; cancelling a running one stops it there
    runner.cancel("gpu-b")
    assert runner.poll("gpu-b").status == "cancelled"
    t0 = time.monotonic()
    runner.cancel("gpu-a")
    state = wait_finished(runner, "gpu-a", timeout=20)
    assert state.status == "cancelled"
    assert time.monotonic() - t0 < runner.cancel_grace  # by the token, not by the kill
    # the GPU is free again
    runner.submit("gpu-c", sleepy, {"steps": 1, "seconds_per_step": 0.0}, needs_gpu=True)
    c = wait_finished(runner, "gpu-c", timeout=60)
    assert c.status == "done" and c.result["cuda_visible_devices"] == "0"


def test_a_job_that_ignores_cancel_is_killed_after_the_grace(runner):
    runner.submit("stuck", stubborn, {"seconds": 120})
    wait_for(runner, "stuck", lambda s: s.status == "running", timeout=60)
    pid = runner.worker("stuck")["pid"]
    runner.cancel("stuck")
    state = wait_finished(runner, "stuck", timeout=runner.cancel_grace + 20)
    assert state.status == "cancelled"
    wait_for(runner, "stuck", lambda s: not _alive(pid), timeout=20)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(FileNotFoundError):
        return " Z " not in Path(f"/proc/{pid}/stat").read_text()  # a zombie is gone
    return True


def test_a_killed_worker_fails_the_job_with_the_reason(runner):
    runner.submit("doomed", sleepy, {"steps": 2000, "seconds_per_step": 0.05})
    wait_for(runner, "doomed", lambda s: s.status == "running", timeout=60)
    pid = runner.worker("doomed")["pid"]
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    state = wait_finished(runner, "doomed", timeout=30)
    assert state.status == "failed"
    assert state.error.startswith("the worker running it was lost (")
    assert "died" in state.error and "\n" not in state.error
    assert state.finished_at is not None


def test_a_gpu_job_on_a_cluster_without_gpu_is_refused(runner, monkeypatch):
    import ray

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    with pytest.raises(EngineError, match="has no GPU"):
        runner.submit("no-gpu", sleepy, {"steps": 1}, needs_gpu=True)


def test_a_real_validation_runs_on_a_worker(runner, tmp_path):
    from engines.validation import LabeledSplit, ValidationConfig, run_validation

    sample = tmp_path / "sample"
    split = LabeledSplit(**write_two_class_images(sample))
    config = ValidationConfig(
        backbone="test_efficientnet",
        device="cpu",
        budget_seconds=60,
        batch_size=8,
        strategies=("linear_probe",),
        compare_backbones=(),
    )
    runner.submit(
        "validation", run_validation, {"split": split, "config": config}, payload_dir=sample
    )
    state = wait_finished(runner, "validation", timeout=90)
    assert state.status == "done", state.error
    result = state.result
    assert result["backbone"]["name"] == "test_efficientnet"
    assert result["feature_extraction"]["n_images"] == 16
    (experiment,) = result["experiments"]
    accuracy = experiment["metrics"]["accuracy"]
    assert experiment["n_train"] == 12 and experiment["n_val"] == 4
    assert 0.0 <= accuracy["ci_low"] <= accuracy["value"] <= accuracy["ci_high"] <= 1.0
    assert state.progress.stage == "done"


def test_a_job_whose_code_is_missing_on_the_worker_fails_with_the_reason(
    runner, tmp_path, monkeypatch
):
    # A module the test process can import but the workers cannot, as when the
    # project is not installed on a GPU server.
    (tmp_path / "laptop_only_jobs.py").write_text(
        "def work(*, progress, cancel):\n    return {'ok': True}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import laptop_only_jobs

    runner.submit("missing-code", laptop_only_jobs.work, {})
    state = wait_finished(runner, "missing-code", timeout=60)
    assert state.status == "failed"
    assert state.error.startswith("the worker cannot load the job's code (ModuleNotFoundError")
    assert "laptop_only_jobs" in state.error and "\n" not in state.error
    # the connection survives: the next job runs
    runner.submit("after-missing-code", sleepy, {"steps": 1, "seconds_per_step": 0.0})
    assert wait_finished(runner, "after-missing-code", timeout=60).status == "done"


def test_a_local_function_is_refused_at_submit(runner):
    def local(*, progress, cancel):
        return {}

    with pytest.raises(ValueError, match="module-level"):
        runner.submit("local", local, {})
    assert runner.poll("local").status == "failed"  # never submitted


def test_lost_reasons_are_one_readable_line(runner):
    from ray import exceptions as ray_errors

    from engines.jobs.ray_runner import lost_reason

    class Died(ray_errors.ActorDiedError):
        def __init__(self, text: str, init_failed: bool = False):
            self.text, self._init_failed = text, init_failed

        def __str__(self) -> str:
            return self.text

        @property
        def actor_init_failed(self) -> bool:
            return self._init_failed

    node = (
        "The actor died unexpectedly before finishing this task.\n\tpid: 1\n"
        "The actor died because its node has died. Node Id: abc\n\tmore"
    )
    assert lost_reason(Died(node)) == "the worker running it was lost (its node has died)"
    worker = "The actor is dead because its worker process has died. Worker exit type: X"
    assert lost_reason(Died(worker)) == (
        "the worker running it was lost (its worker process has died)"
    )
    init = "Error in __init__\nModuleNotFoundError: No module named 'engines'\nmore"
    assert lost_reason(Died(init, init_failed=True)) == (
        "the Ray worker could not start the job (ModuleNotFoundError: No module named "
        "'engines'); is the project installed on the worker nodes?"
    )
    assert "ran out of memory" in lost_reason(ray_errors.OutOfMemoryError("killed"))
