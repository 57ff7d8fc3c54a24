"""Shared fixtures: every test gets its own project home, never the developer's data/.

The suite runs on two processes (``pytest -n 2 --dist loadfile``, scripts/test.sh): each
file's tests run on one process, so a module's replay is built once, and the longest
files start first, so the two processes finish together.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# Files whose tests take a minute or more in all (real replays, several in subprocesses),
# longest first: they start first, so a long test drawn last does not keep one process
# busy after the other has finished. Only the order depends on this list, never what runs.
LONGEST_FIRST = (
    "tests/assets/test_kill_resume.py",
    "tests/assets/test_replay.py",
    "tests/assets/test_llm_replay.py",
    "tests/test_one_writer.py",
    "tests/cli/test_up.py",
    "tests/cli/test_cli.py",
    "tests/assets/test_controls_replay.py",
    "tests/assets/test_news_look_ahead.py",
    "tests/assets/test_market_replays.py",
    "tests/assets/test_gene_pool_replay.py",
    "tests/cli/test_evaluate.py",
    "tests/assets/test_look_ahead.py",
    "tests/streamlit_app/test_app.py",
    "tests/streamlit_app/test_app_during_replay.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(autouse=True, scope="session")
def private_default_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The home of tests that set none, and of the processes they start: one per test
    process, so never the developer's data/ nor a folder two test processes write."""
    home = tmp_path_factory.mktemp("default-home") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRADE_PIPELINES_HOME", str(home))
        patch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
        yield


@pytest.fixture
def project_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TRADE_PIPELINES_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    monkeypatch.delenv("TRADE_PIPELINES_PROGRESS", raising=False)
    return home


@pytest.fixture
def served_folder(tmp_path: Path) -> Iterator[str]:
    """``tmp_path`` served over HTTP on a free local port (feeds written there are
    fetched through the real client); yields the base URL."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
