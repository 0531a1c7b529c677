"""Fixtures of the store tests: a SQLite file and a real PostgreSQL server, side by side.

The PostgreSQL server is Debian's ``postgresql`` package. If its binaries are missing,
the fixture installs the package with apt-get (as root, bounded by a timeout; set
``FEASIBILITY_TEST_NO_APT=1`` to forbid that), creates a cluster in a temporary folder
as the unprivileged ``postgres`` user (the server refuses to run as root), starts it on
127.0.0.1 on a free port with its socket in that folder, and stops it at the end. Each
test gets a database of its own. Wherever any step fails, PostgreSQL tests are skipped
with the reason.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from store_helpers import make_class_folder, zip_folder

from advisor.store.database import create_db_engine

APT_TIMEOUT_S = 300
PG_PACKAGE_BIN = Path("/usr/lib/postgresql")  # Debian's layout: <version>/bin/pg_ctl


# --------------------------------------------------------------------------- PostgreSQL
@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    admin_dsn: str
    started_in_s: float
    installed_in_s: float

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"


class _Unavailable(Exception):
    pass


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(
        (p for p in PG_PACKAGE_BIN.glob("*/bin") if (p / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


def _apt_install_postgres() -> None:
    if os.environ.get("FEASIBILITY_TEST_NO_APT"):
        raise _Unavailable("PostgreSQL is not installed and FEASIBILITY_TEST_NO_APT is set")
    if not shutil.which("apt-get"):
        raise _Unavailable("PostgreSQL is not installed and there is no apt-get to install it")
    if os.geteuid() != 0:
        raise _Unavailable("PostgreSQL is not installed and installing it needs root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    deadline = time.monotonic() + APT_TIMEOUT_S
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
    ):
        left = deadline - time.monotonic()
        try:
            done = subprocess.run(
                command,
                env=env,
                capture_output=True,
                text=True,
                timeout=max(left, 1),
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise _Unavailable(f"{' '.join(command)} took over {APT_TIMEOUT_S} s") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise _Unavailable(f"{' '.join(command)} failed: {' | '.join(tail)}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise _Unavailable("running as root and there is no 'postgres' user") from None
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    if shutil.which("setpriv"):
        entry = pwd.getpwnam("postgres")
        return [
            "setpriv",
            f"--reuid={entry.pw_uid}",
            f"--regid={entry.pw_gid}",
            "--init-groups",
            *command,
        ]
    raise _Unavailable("running as root and neither runuser nor setpriv is available")


def _run(command: list[str], timeout: float) -> None:
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd="/",
        )
    except subprocess.TimeoutExpired:
        raise _Unavailable(f"{Path(command[-1]).name}... took over {timeout} s") from None
    except OSError as exc:
        raise _Unavailable(f"cannot run {command[0]}: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise _Unavailable(f"{' '.join(command[:4])}... failed: {' | '.join(tail)}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on loopback for the whole session, or a visible skip."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("PostgreSQL tests need psycopg: pip install 'psycopg[binary]'")

    installed_in = 0.0
    root: Path | None = None
    pg_ctl: Path | None = None
    data: Path | None = None
    try:
        bindir = _pg_bindir()
        if bindir is None:
            t0 = time.monotonic()
            _apt_install_postgres()
            installed_in = time.monotonic() - t0
            bindir = _pg_bindir()
            if bindir is None:
                raise _Unavailable("the postgresql package installed no pg_ctl")
        pg_ctl, initdb = bindir / "pg_ctl", bindir / "initdb"

        t0 = time.monotonic()
        root = Path(tempfile.mkdtemp(prefix="fa-pg-"))
        if os.geteuid() == 0:
            _as_server_user(["true"])  # checks that the server user exists
            entry = pwd.getpwnam("postgres")
            os.chown(root, entry.pw_uid, entry.pw_gid)
        data = root / "data"
        _run(
            _as_server_user(
                [
                    str(initdb),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            ),
            timeout=120,
        )
        last_error: _Unavailable | None = None
        for _ in range(3):
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={port} "
                f"-c unix_socket_directories={root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                _run(
                    _as_server_user(
                        [
                            str(pg_ctl),
                            "-D",
                            str(data),
                            "-l",
                            str(root / "server.log"),
                            "-w",
                            "-t",
                            "60",
                            "-o",
                            options,
                            "start",
                        ]
                    ),
                    timeout=90,
                )
                break
            except _Unavailable as exc:
                last_error = exc
        else:
            raise last_error or _Unavailable("the server did not start")
        admin_dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
        with psycopg.connect(admin_dsn, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
        started_in = time.monotonic() - t0
    except _Unavailable as exc:
        _stop(pg_ctl, data, root)
        pytest.skip(f"PostgreSQL server unavailable: {exc}")
    except Exception as exc:  # noqa: BLE001 - any failure to start becomes a visible skip
        _stop(pg_ctl, data, root)
        pytest.skip(f"PostgreSQL server unavailable: {type(exc).__name__}: {exc}")

    server = PostgresServer("127.0.0.1", port, "postgres", admin_dsn, started_in, installed_in)
    sys.stderr.write(
        f"\n[store tests] PostgreSQL {bindir.parent.name} on 127.0.0.1:{port} "
        f"(install {installed_in:.1f} s, initdb+start {started_in:.1f} s)\n"
    )
    try:
        yield server
    finally:
        _stop(pg_ctl, data, root)


def _stop(pg_ctl: Path | None, data: Path | None, root: Path | None) -> None:
    if pg_ctl is not None and data is not None and (data / "postmaster.pid").exists():
        with contextlib.suppress(subprocess.TimeoutExpired, _Unavailable, OSError):
            subprocess.run(
                _as_server_user([str(pg_ctl), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
                cwd="/",
            )
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.url(name)
    finally:
        with psycopg.connect(postgres_server.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- backends
@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of an empty SQLite store file."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated store engine on each backend."""
    eng = create_db_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data directory."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def sample_zip(tmp_path: Path) -> Path:
    """A zip of class folders, named as a client would name it."""
    folder = make_class_folder(tmp_path / "src", {"crack": 4, "free": 6})
    return zip_folder(folder, tmp_path / "고객 샘플 (final).zip")
