"""Where the advisor keeps its data, and the few knobs an installation may turn.

Resolution order, later wins: built-in defaults < a TOML config file < environment
variables. The config file is the one named by ``FEASIBILITY_CONFIG`` or, when that is
not set, ``<data_dir>/config.toml`` if it exists. Keys of the file are the field names
of :class:`Settings` (``data_dir``, ``database_url``, ``upload_limit_mb``,
``budget_seconds``, ``device``); unknown keys are an error so that typos do not pass
silently.

Environment variables:

- ``FEASIBILITY_DATA_DIR``: the data directory (default: a per-user data directory,
  ``$XDG_DATA_HOME/feasibility-advisor`` or ``~/.local/share/feasibility-advisor`` on
  Linux, ``~/Library/Application Support/feasibility-advisor`` on macOS,
  ``%LOCALAPPDATA%/feasibility-advisor`` on Windows).
- ``DATABASE_URL``: SQLAlchemy URL of the store (default: a SQLite file in the data
  directory). Team mode uses ``postgresql+psycopg://user:password@host/db``.
- ``FEASIBILITY_UPLOAD_LIMIT_MB``: the largest accepted upload, in MB (default 2048).
- ``FEASIBILITY_BUDGET_SECONDS``: time budget of one validation run (default 180).
- ``FEASIBILITY_DEVICE``: ``auto``, ``cpu`` or ``cuda`` (default ``auto``).
- ``FEASIBILITY_RUNNER``: where validations run, ``in-process`` (default) or ``ray``
  (needs ``pip install '.[cluster]'``).
- ``RAY_ADDRESS``: the Ray cluster to connect to with the ``ray`` runner, e.g.
  ``ray://gpu-server:10001`` (default: Ray's own discovery).
- ``FEASIBILITY_MAX_DECODED_MB``: the most memory one image's decode may take, in MB
  (width x height x bands x bytes per sample, with the float working copies of 16-bit
  and float data; default 1024). Larger images are listed as skipped, with the reason.
- ``FEASIBILITY_PASSWORD``: the password that serving beyond this machine requires
  (see README "Security"). Environment only: never read from the config file, never
  shown.

An empty environment variable counts as not set.
"""

from __future__ import annotations

import math
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APP_DIR_NAME = "feasibility-advisor"
DATABASE_FILE_NAME = "feasibility.db"
CONFIG_FILE_NAME = "config.toml"
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
RUNNERS: tuple[str, ...] = ("in-process", "ray")

DEFAULT_UPLOAD_LIMIT_MB = 2048
DEFAULT_BUDGET_SECONDS = 180.0
DEFAULT_DEVICE = "auto"
DEFAULT_MAX_DECODED_MB = 1024

ENV_CONFIG = "FEASIBILITY_CONFIG"
ENV_DATA_DIR = "FEASIBILITY_DATA_DIR"
ENV_DATABASE_URL = "DATABASE_URL"
ENV_UPLOAD_LIMIT_MB = "FEASIBILITY_UPLOAD_LIMIT_MB"
ENV_BUDGET_SECONDS = "FEASIBILITY_BUDGET_SECONDS"
ENV_DEVICE = "FEASIBILITY_DEVICE"
ENV_RUNNER = "FEASIBILITY_RUNNER"
ENV_RAY_ADDRESS = "RAY_ADDRESS"
ENV_MAX_DECODED_MB = "FEASIBILITY_MAX_DECODED_MB"
ENV_PASSWORD = "FEASIBILITY_PASSWORD"

_FILE_KEYS: tuple[str, ...] = (
    "data_dir",
    "database_url",
    "upload_limit_mb",
    "budget_seconds",
    "device",
    "runner",
    "ray_address",
    "max_decoded_mb",
)


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one installation.

    Attributes:
        data_dir: Directory holding the SQLite database, stored samples, run outputs
            and reports.
        database_url: SQLAlchemy URL of the engagement store.
        upload_limit_mb: Largest accepted upload, in MB.
        budget_seconds: Time budget of one validation run, in seconds.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        runner: ``"in-process"`` or ``"ray"``.
        ray_address: Address of the Ray cluster, or None for Ray's own discovery.
        config_file: The config file that was read, or None when none was.
        max_decoded_mb: Most memory one image's decode may take, in MB.
        password: The password required to serve beyond loopback (environment only;
            kept out of ``repr``), or None.

    """

    data_dir: Path
    database_url: str
    upload_limit_mb: int = DEFAULT_UPLOAD_LIMIT_MB
    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    device: str = DEFAULT_DEVICE
    runner: str = "in-process"
    ray_address: str | None = None
    config_file: Path | None = None
    max_decoded_mb: int = DEFAULT_MAX_DECODED_MB
    password: str | None = field(default=None, repr=False)

    @property
    def max_decoded_bytes(self) -> int:
        """The decoded-bytes limit of one image, in bytes."""
        return self.max_decoded_mb * 1024 * 1024

    @property
    def upload_limit_bytes(self) -> int:
        """The upload limit in bytes."""
        return self.upload_limit_mb * 1024 * 1024

    @property
    def uses_sqlite(self) -> bool:
        """Whether the store is the embedded SQLite database."""
        return self.database_url.startswith("sqlite")


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the per-user data directory of the app, following the platform's habits.

    Args:
        env: Environment to read (``HOME``, ``XDG_DATA_HOME``, ``LOCALAPPDATA``);
            defaults to ``os.environ``.

    Returns:
        The directory (not created).

    """
    env = os.environ if env is None else env
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    if sys.platform == "win32":
        base = Path(env["LOCALAPPDATA"]) if env.get("LOCALAPPDATA") else home / "AppData/Local"
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        # The XDG spec says relative values are invalid and must be ignored.
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / APP_DIR_NAME


def default_database_url(data_dir: Path) -> str:
    """Return the URL of the embedded SQLite database inside ``data_dir``."""
    return f"sqlite:///{(data_dir / DATABASE_FILE_NAME).as_posix()}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Resolve the settings from defaults, the config file and the environment.

    Args:
        env: Environment variables to read; defaults to ``os.environ``. Pass a dict in
            tests to stay independent of the machine.

    Returns:
        The resolved, validated settings.

    Raises:
        ValueError: A value is invalid, the config file named by ``FEASIBILITY_CONFIG``
            does not exist, or the config file cannot be parsed or has unknown keys.

    """
    env = os.environ if env is None else env

    def from_env(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value and value.strip() else None

    env_data_dir = from_env(ENV_DATA_DIR)
    data_dir = _expand_path(env_data_dir, ENV_DATA_DIR) if env_data_dir else default_data_dir(env)

    config_file, file_values = _read_config_file(from_env(ENV_CONFIG), data_dir)

    raw: dict[str, Any] = dict(file_values)
    for key, name in (
        ("data_dir", ENV_DATA_DIR),
        ("database_url", ENV_DATABASE_URL),
        ("upload_limit_mb", ENV_UPLOAD_LIMIT_MB),
        ("budget_seconds", ENV_BUDGET_SECONDS),
        ("device", ENV_DEVICE),
        ("runner", ENV_RUNNER),
        ("ray_address", ENV_RAY_ADDRESS),
        ("max_decoded_mb", ENV_MAX_DECODED_MB),
    ):
        value = from_env(name)
        if value is not None:
            raw[key] = value
    sources = {
        key: env_name_for(key) if from_env(env_name_for(key)) else f"{key} in {config_file}"
        for key in raw
    }

    if "data_dir" in raw:
        data_dir = _expand_path(str(raw["data_dir"]), sources["data_dir"])
    database_url = (
        _parse_database_url(raw["database_url"], sources["database_url"])
        if "database_url" in raw
        else default_database_url(data_dir)
    )
    upload_limit_mb = (
        _parse_positive_int(raw["upload_limit_mb"], sources["upload_limit_mb"])
        if "upload_limit_mb" in raw
        else DEFAULT_UPLOAD_LIMIT_MB
    )
    budget_seconds = (
        _parse_positive_float(raw["budget_seconds"], sources["budget_seconds"])
        if "budget_seconds" in raw
        else DEFAULT_BUDGET_SECONDS
    )
    device = _parse_device(raw["device"], sources["device"]) if "device" in raw else DEFAULT_DEVICE
    runner = str(raw.get("runner", "in-process")).strip().lower()
    if runner not in RUNNERS:
        raise ValueError(
            f"{sources['runner']}: runner must be one of {', '.join(RUNNERS)}, got "
            f"{raw['runner']!r}."
        )
    ray_address = (str(raw["ray_address"]).strip() or None) if "ray_address" in raw else None
    max_decoded_mb = (
        _parse_positive_int(raw["max_decoded_mb"], sources["max_decoded_mb"])
        if "max_decoded_mb" in raw
        else DEFAULT_MAX_DECODED_MB
    )
    # Not stripped: spaces may be part of a password. Never from the config file.
    password = env.get(ENV_PASSWORD) or None
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        upload_limit_mb=upload_limit_mb,
        budget_seconds=budget_seconds,
        device=device,
        runner=runner,
        ray_address=ray_address,
        config_file=config_file,
        max_decoded_mb=max_decoded_mb,
        password=password,
    )


def env_name_for(key: str) -> str:
    """Return the environment variable that sets the settings field ``key``.

    Raises:
        ValueError: ``key`` is not a settings field.

    """
    names = {
        "data_dir": ENV_DATA_DIR,
        "database_url": ENV_DATABASE_URL,
        "upload_limit_mb": ENV_UPLOAD_LIMIT_MB,
        "budget_seconds": ENV_BUDGET_SECONDS,
        "device": ENV_DEVICE,
        "runner": ENV_RUNNER,
        "ray_address": ENV_RAY_ADDRESS,
        "max_decoded_mb": ENV_MAX_DECODED_MB,
    }
    if key not in names:
        raise ValueError(f"{key!r} is not a setting; known settings: {', '.join(names)}.")
    return names[key]


def _read_config_file(explicit: str | None, data_dir: Path) -> tuple[Path | None, dict[str, Any]]:
    if explicit is not None:
        path = _expand_path(explicit, ENV_CONFIG)
        if not path.is_file():
            raise ValueError(f"{ENV_CONFIG} names {path}, which is not a file.")
    else:
        path = data_dir / CONFIG_FILE_NAME
        if not path.is_file():
            return None, {}
    try:
        with path.open("rb") as fh:
            values = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"Cannot read the config file {path}: {exc}") from exc
    unknown = sorted(set(values) - set(_FILE_KEYS))
    if unknown:
        raise ValueError(
            f"Unknown key(s) {', '.join(unknown)} in the config file {path}; "
            f"known keys: {', '.join(_FILE_KEYS)}."
        )
    return path, values


def _expand_path(value: str, source: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{source}: a path is expected, got {value!r}.")
    return Path(os.path.expandvars(value.strip())).expanduser().resolve()


def _parse_database_url(value: Any, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{source}: a database URL is expected, got {value!r}.")
    url = value.strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    backend = scheme.split("+", 1)[0]
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise ValueError(
            f"{source}: unsupported database URL {_redact(url)!r}; use "
            "sqlite:///path/to/file.db or postgresql+psycopg://user:password@host/db."
        )
    return url


def _redact(url: str) -> str:
    """Hide the password of a URL in messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def _parse_positive_int(value: Any, source: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{source}: a whole number of MB is expected, got {value!r}.")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"{source}: a whole number of MB is expected, got {value!r}.") from None
    if number <= 0:
        raise ValueError(f"{source}: must be positive, got {number}.")
    return number


def _parse_positive_float(value: Any, source: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{source}: a number of seconds is expected, got {value!r}.")
    try:
        number = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
    except ValueError:
        raise ValueError(f"{source}: a number of seconds is expected, got {value!r}.") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{source}: must be a positive number of seconds, got {value!r}.")
    return number


def _parse_device(value: Any, source: str) -> str:
    device = str(value).strip().lower()
    if device not in DEVICES:
        raise ValueError(f"{source}: device must be one of {', '.join(DEVICES)}, got {value!r}.")
    return device
