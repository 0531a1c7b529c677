"""The app's per-process context: settings, the store and the background runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor import store
from advisor.jobs import ValidationJobs
from advisor.settings import Settings, load_settings
from engines.jobs import create_runner


@dataclass
class AppContext:
    """What the app holds once per process: settings, the store and the runs.

    Attributes:
        settings: The resolved settings.
        engine: Engine of the engagement store.
        jobs: Background validation runs.

    """

    settings: Settings
    engine: Any
    jobs: ValidationJobs

    @property
    def data_dir(self) -> Path:
        """The data directory."""
        return self.settings.data_dir


# --------------------------------------------------------------------------- context
def create_context(settings: Settings | None = None, runner_kind: str | None = None) -> AppContext:
    """Open the store (migrated, orphaned runs recovered) and a job runner.

    Args:
        settings: Settings; None resolves them from the environment.
        runner_kind: "in-process" or "ray"; None takes the settings' ``runner`` when
            they name one, else "in-process".

    Returns:
        The context the pages share.

    Raises:
        ValueError: Invalid settings or database URL.
        engines.errors.EngineError: Ray asked for but not installed or reachable.

    """
    settings = settings or load_settings()
    engine = store.create_db_engine(settings=settings)
    kind = runner_kind or getattr(settings, "runner", None) or "in-process"
    options = {}
    address = getattr(settings, "ray_address", None)
    if kind == "ray" and address:
        options["address"] = address
    runner = create_runner(kind, **options)
    jobs = ValidationJobs(engine, settings.data_dir, runner, device=settings.device)
    return AppContext(settings=settings, engine=engine, jobs=jobs)


def environment_facts(ctx: AppContext) -> dict[str, Any]:
    """Where validations run and with what, for the sidebar and the settings page.

    Loads torch (through the engines) the first time: call it once per process.

    Returns:
        ``device`` (what "auto" resolves to here, with its name), ``backbones`` (those
        usable offline, each with its license), ``runner`` (the job runner's facts),
        ``data_dir``, ``database`` (the kind, never the password), ``upload_limit_mb``
        and ``budget_seconds``.

    """
    from engines.backbones import available_backbones
    from engines.device import describe_device, resolve_device

    try:
        device = describe_device(resolve_device(ctx.settings.device))
    except ValueError as exc:
        device = {"type": ctx.settings.device, "name": None, "error": str(exc)}
    return {
        "device": device,
        "backbones": [
            {"name": b.name, "license": b.license, "offline": True} for b in available_backbones()
        ],
        "runner": ctx.jobs.describe(),
        "data_dir": str(ctx.data_dir),
        "database": "SQLite" if ctx.settings.uses_sqlite else "PostgreSQL",
        "upload_limit_mb": ctx.settings.upload_limit_mb,
        "budget_seconds": ctx.settings.budget_seconds,
    }


def warm_validation_engines(
    cache_dir: str | Path | None = None, device: str = "auto", backbone: str | None = None
) -> bool:
    """Import the validation engines and ready the first backbone, ahead of the first run.

    The app calls it in its background environment probe, so that the first validation
    of a meeting shows its first evidence without paying seconds of imports (torch,
    timm, scikit-learn, ONNX Runtime) or the backbone's ONNX export; the consultant is
    uploading and answering questions meanwhile. Idempotent and cheap once done.

    Args:
        cache_dir: The feature cache the runs use; the backbone's ONNX export is kept
            there (None: imports only).
        device: The runs' device ("auto", "cpu", ...): only the CPU uses the export.
        backbone: The first backbone of a run (None: the default one).

    Returns:
        Whether the backbone's export is ready in ``cache_dir``.

    """
    from engines.results.config import DEFAULT_BACKBONE
    from engines.validation.embed import prepare_backbone

    return prepare_backbone(backbone or DEFAULT_BACKBONE, device, cache_dir)
