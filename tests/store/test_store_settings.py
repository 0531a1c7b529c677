"""Settings: defaults < config file < environment, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.settings import Settings, default_data_dir, load_settings


def test_defaults_follow_xdg(tmp_path: Path) -> None:
    s = load_settings({"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert isinstance(s, Settings)
    assert s.data_dir == tmp_path / "xdg" / "feasibility-advisor"
    assert s.database_url == f"sqlite:///{s.data_dir / 'feasibility.db'}"
    assert (s.upload_limit_mb, s.budget_seconds, s.device) == (2048, 180.0, "auto")
    assert s.upload_limit_bytes == 2048 * 1024 * 1024 and s.uses_sqlite
    assert s.config_file is None


def test_default_without_xdg(tmp_path: Path) -> None:
    assert default_data_dir({"HOME": str(tmp_path)}) == (
        tmp_path / ".local" / "share" / "feasibility-advisor"
    )
    assert default_data_dir({"HOME": str(tmp_path), "XDG_DATA_HOME": "relative"}) == (
        tmp_path / ".local" / "share" / "feasibility-advisor"
    )


def test_config_file_in_data_dir_then_env_wins(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text(
        'upload_limit_mb = 100\nbudget_seconds = 60\ndevice = "cpu"\n'
    )
    env = {"FEASIBILITY_DATA_DIR": str(data)}
    s = load_settings(env)
    assert (s.upload_limit_mb, s.budget_seconds, s.device) == (100, 60.0, "cpu")
    assert s.config_file == data / "config.toml"
    s = load_settings(
        env
        | {
            "FEASIBILITY_DEVICE": "CUDA",
            "FEASIBILITY_BUDGET_SECONDS": "90.5",
            "FEASIBILITY_UPLOAD_LIMIT_MB": "",
            "DATABASE_URL": "postgresql+psycopg://fa:pw@db.internal/fa",
        }
    )
    assert (s.upload_limit_mb, s.budget_seconds, s.device) == (100, 90.5, "cuda")
    assert s.database_url.startswith("postgresql+psycopg://") and not s.uses_sqlite


def test_explicit_config_file_may_move_the_data_dir(tmp_path: Path) -> None:
    config = tmp_path / "team.toml"
    config.write_text(f'data_dir = "{tmp_path / "shared"}"\n')
    s = load_settings({"FEASIBILITY_CONFIG": str(config), "HOME": str(tmp_path)})
    assert s.data_dir == tmp_path / "shared"
    assert s.database_url.endswith("shared/feasibility.db")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FEASIBILITY_UPLOAD_LIMIT_MB": "lots"}, "FEASIBILITY_UPLOAD_LIMIT_MB"),
        ({"FEASIBILITY_UPLOAD_LIMIT_MB": "-5"}, "must be positive"),
        ({"FEASIBILITY_BUDGET_SECONDS": "nan"}, "FEASIBILITY_BUDGET_SECONDS"),
        ({"FEASIBILITY_BUDGET_SECONDS": "0"}, "positive"),
        ({"FEASIBILITY_DEVICE": "tpu"}, "auto, cpu, cuda"),
        ({"DATABASE_URL": "mysql://u:secret@h/db"}, "unsupported database URL"),
        ({"FEASIBILITY_CONFIG": "/nonexistent/fa.toml"}, "not a file"),
    ],
)
def test_invalid_values_raise_value_error(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        load_settings({"HOME": str(tmp_path)} | env)
    assert "secret" not in str(info.value)


def test_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("budget_secs = 3\n")
    with pytest.raises(ValueError, match="Unknown key.*budget_secs"):
        load_settings({"FEASIBILITY_CONFIG": str(config)})
    config.write_text("device = \n")
    with pytest.raises(ValueError, match="Cannot read the config file"):
        load_settings({"FEASIBILITY_CONFIG": str(config)})
    config.write_text("upload_limit_mb = true\n")
    with pytest.raises(ValueError, match=r"upload_limit_mb in .*c\.toml"):
        load_settings({"FEASIBILITY_CONFIG": str(config)})


def test_runner_and_ray_address_come_from_the_environment(tmp_path: Path) -> None:
    base = {"HOME": str(tmp_path)}
    default = load_settings(base)
    assert (default.runner, default.ray_address) == ("in-process", None)
    ray = load_settings({**base, "FEASIBILITY_RUNNER": "Ray", "RAY_ADDRESS": "ray://gpu:10001"})
    assert (ray.runner, ray.ray_address) == ("ray", "ray://gpu:10001")


def test_an_unknown_runner_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="FEASIBILITY_RUNNER.*in-process, ray"):
        load_settings({"HOME": str(tmp_path), "FEASIBILITY_RUNNER": "slurm"})
