"""Resolve one :class:`~engines.results.RunConfig` for a validation run.

Precedence, lowest first: the model's defaults, the app's settings, the consultant's
explicit choices, then what only the sample can tell: the recommendation's frozen
share and the client's target, where the choices leave them open. The result is
stored verbatim in result.json.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engines.results import RunConfig, Strategy

if TYPE_CHECKING:
    from advisor.intake import Intake
    from advisor.recommendation import Recommendation
    from advisor.settings import Settings


def run_config(settings: Settings | None = None, **choices: Any) -> RunConfig:
    """The configuration from the settings and the consultant's explicit choices.

    Args:
        settings: The app's settings (budget and device defaults); None for none.
        **choices: Settings the consultant chose; None means "not chosen".

    Returns:
        The configuration.

    Raises:
        engines.results.ConfigError: A choice is unknown or out of range.

    """
    base: dict[str, Any] = {}
    if settings is not None:
        base = {"budget_seconds": settings.budget_seconds, "device": settings.device}
    base.update({k: v for k, v in choices.items() if v is not None})
    return RunConfig.create(**base)


def resolve_run_config(config: RunConfig, prior: Recommendation, intake: Intake) -> RunConfig:
    """Fill what the choices left open from the advice and the client's target.

    Args:
        config: The configuration from settings and choices.
        prior: The recommendation before evidence (its frozen share of the backbone).
        intake: The consultant's answers (the client's target accuracy).

    Returns:
        The configuration the run uses and records.

    """
    changes: dict[str, Any] = {}
    if config.freeze_fraction is None and prior.freeze_stages is not None and prior.total_stages:
        changes["freeze_fraction"] = prior.freeze_stages / prior.total_stages
    if config.target_accuracy is None and intake.target_metric in ("accuracy", None):
        target = intake.target_value
        # A target of 100 % is advice (no sample can show it), not a number to solve for.
        if target is not None and target < 1.0:
            changes["target_accuracy"] = target
    return config.replace(**changes) if changes else config


__all__ = ["RunConfig", "Strategy", "resolve_run_config", "run_config"]
