"""Fixtures of the browser tests: Debian's Chromium, driven by Playwright, and the app.

Chromium comes from Debian's ``chromium`` package at ``/usr/bin/chromium``. When it is
missing, the fixture installs it with apt-get (as root, bounded by a timeout; set
``FEASIBILITY_TEST_NO_APT=1`` to forbid that); wherever that cannot be done, the browser
tests are skipped with the reason. Playwright never downloads a browser here: it is
given the executable, and ``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD`` is set.

The app runs as a real ``streamlit run`` server on a free local port, with a data
directory of its own, offline (``HF_HUB_OFFLINE=1``) and on the CPU.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
APT_TIMEOUT_S = 600
SERVER_START_TIMEOUT_S = 90
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _Unavailable(Exception):
    pass


def _apt_install_chromium() -> None:
    if os.environ.get("FEASIBILITY_TEST_NO_APT"):
        raise _Unavailable("Chromium is not installed and FEASIBILITY_TEST_NO_APT is set")
    if not shutil.which("apt-get"):
        raise _Unavailable("Chromium is not installed and there is no apt-get to install it")
    if os.geteuid() != 0:
        raise _Unavailable("Chromium is not installed and installing it needs root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    deadline = time.monotonic() + APT_TIMEOUT_S
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
    ):
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Unavailable(f"installing Chromium took over {APT_TIMEOUT_S} s")
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=left, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise _Unavailable(f"{' '.join(command)} timed out") from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise _Unavailable(f"{' '.join(command)} failed: {tail[0]}")
    if not CHROMIUM.exists():
        raise _Unavailable(f"apt-get installed chromium but {CHROMIUM} is missing")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Chromium executable (installed with apt-get when missing), or a skip."""
    pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright for Python is not installed (pip install playwright)",
    )
    if not CHROMIUM.exists():
        try:
            _apt_install_chromium()
        except _Unavailable as exc:
            pytest.skip(f"no headless browser: {exc}")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[object]:
    """A headless Chromium driven by Playwright (never downloaded by Playwright)."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AppServer:
    url: str
    data_dir: Path
    log: Path


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[AppServer]:
    """``streamlit run streamlit_app.py`` on a free port, stopped at the end."""
    port = _free_port()
    data_dir = tmp_path / "data"
    log = tmp_path / "streamlit.log"
    env = dict(
        os.environ,
        FEASIBILITY_DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
        FEASIBILITY_DEVICE="cpu",
        PYTHONPATH=str(ROOT),
    )
    env.pop("DATABASE_URL", None)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "streamlit_app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the app stopped at start:\n{log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the app did not start in {SERVER_START_TIMEOUT_S} s:\n"
                    f"{log.read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield AppServer(url=url, data_dir=data_dir, log=log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the group this fixture started
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
