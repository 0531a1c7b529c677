"""The layering of DESIGN.md: app_pages -> advisor -> engines, advisor -> knowledge."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "advisor": {"torch", "timm", "streamlit", "torchvision", "app_pages"},
    "engines": {"streamlit", "advisor", "app_pages"},
    "knowledge": {"torch", "timm", "streamlit", "advisor", "engines", "app_pages"},
    "app_pages": {"torch", "timm", "torchvision", "engines.backbones", "engines.features"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_modules(path):
            for banned in FORBIDDEN[package]:
                if name == banned or name.startswith(banned + "."):
                    found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_layering(package):
    assert (ROOT / package).is_dir()
    assert violations(package) == []


def test_checker_catches_a_violation(tmp_path, monkeypatch):
    bad = tmp_path / "advisor"
    bad.mkdir()
    (bad / "x.py").write_text("import torch\nfrom streamlit import session_state\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert sorted(violations("advisor")) == [
        "advisor/x.py imports streamlit",
        "advisor/x.py imports torch",
    ]
