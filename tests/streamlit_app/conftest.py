"""Fixtures for the supervisor page: a private home folder, empty or filled."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sample_data import SampleSummary, fill_warehouse

from trade_pipelines.settings import HOME_ENV, PROJECT_ROOT, Paths, paths
from trade_pipelines.warehouse import Warehouse

# The page's helpers live in ``streamlit_app.queries``; make the project root importable
# however pytest was started.
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

APP_FILE = PROJECT_ROOT / "streamlit_app" / "app.py"


@pytest.fixture
def app_file() -> Path:
    return APP_FILE


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    """An empty home: nothing has run yet."""
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    yield paths()


@pytest.fixture
def filled_home(home: Paths) -> tuple[Paths, SampleSummary]:
    """A home whose warehouse holds five trading days of sample rows."""
    summary = fill_warehouse(Warehouse(home.warehouse))
    return home, summary
