"""Shared fixtures: where the datasets are, and small scores built by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _keys_in_a_temporary_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Signing keys that generation makes go to a temporary CADENZA_HOME, never the user's."""
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path_factory.getbasetemp() / "cadenza-home"))


@pytest.fixture(scope="session")
def datasets() -> Path:
    """``../shared/datasets`` beside the checkout; tests that need it skip without it."""
    if not (DATASETS / "pop909").is_dir():
        pytest.skip("needs ../shared/datasets")
    return DATASETS


@pytest.fixture(scope="session")
def pop909_files(datasets: Path) -> list[Path]:
    return sorted(datasets.glob("pop909/*/*.mid"))
