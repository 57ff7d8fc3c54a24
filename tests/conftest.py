"""Shared fixtures: every test gets its own project home, never the developer's data/."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def project_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TRADE_PIPELINES_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    monkeypatch.delenv("TRADE_PIPELINES_PROGRESS", raising=False)
    return home
