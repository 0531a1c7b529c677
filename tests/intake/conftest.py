"""Fixtures of the intake tests; the generators live in ``messy_uploads``."""

from __future__ import annotations

from pathlib import Path

import pytest
from messy_uploads import make_class_tree


@pytest.fixture
def two_class_tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    make_class_tree(root, {"cat": 6, "dog": 6})
    return root


PLANTED_RESULTS: list[tuple[str, int, int, int]] = []


@pytest.fixture
def planted_score():
    """Record precision and recall of a planted problem; printed at the end of the run."""

    def score(name: str, planted: set, found: set) -> tuple[float, float]:
        tp = len(planted & found)
        PLANTED_RESULTS.append((name, len(planted), len(found), tp))
        precision = tp / len(found) if found else 1.0
        recall = tp / len(planted) if planted else 1.0
        return precision, recall

    return score


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest hook
    if not PLANTED_RESULTS:
        return
    terminalreporter.section("planted data problems: precision / recall")
    for name, n_planted, n_found, tp in PLANTED_RESULTS:
        precision = tp / n_found if n_found else 1.0
        recall = tp / n_planted if n_planted else 1.0
        terminalreporter.write_line(
            f"{name:<46} planted {n_planted:>3}  flagged {n_found:>3}  "
            f"precision {precision:.2f}  recall {recall:.2f}"
        )
