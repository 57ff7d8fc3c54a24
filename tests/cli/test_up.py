"""`trade-pipelines up` starts Dagster's real webserver and daemon and the supervisor app;
the UI shows the whole graph and the replayed partitions as materialized."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

from test_definitions import EXPECTED_ASSETS

from trade_pipelines.cli import run_replay


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]


def _wait(check, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except OSError:
            pass
        time.sleep(1)
    return False


def test_up_serves_the_graph_the_daemon_and_the_supervisor(project_home: Path) -> None:
    assert run_replay(date(2019, 3, 1), date(2019, 3, 31), "AAPL,KO", progress=False)
    dagster_port, app_port = _free_port(), _free_port()
    up = subprocess.Popen(
        [sys.executable, "-m", "trade_pipelines.cli", "up", "--dagster-port", str(dagster_port),
         "--app-port", str(app_port)], env=dict(os.environ), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert _wait(lambda: "dagster_version" in _get(
            f"http://127.0.0.1:{dagster_port}/server_info"), 90), "webserver did not start"
        assert _wait(lambda: _get(f"http://127.0.0.1:{app_port}/_stcore/health") == "ok", 60)

        nodes = _graphql(dagster_port, "{ assetNodes { assetKey { path } } }")["assetNodes"]
        assert {n["assetKey"]["path"][-1] for n in nodes} == EXPECTED_ASSETS
        stats = _graphql(dagster_port, '{ assetNodeOrError(assetKey: {path: ["account_values"]})'
                                       " { ... on AssetNode { partitionStats "
                                       "{ numMaterialized } } } }")
        assert stats["assetNodeOrError"]["partitionStats"]["numMaterialized"] == 1

        def daemons_healthy() -> bool:
            health = _graphql(dagster_port, "{ instance { daemonHealth { allDaemonStatuses "
                                            "{ daemonType healthy } } } }")
            statuses = health["instance"]["daemonHealth"]["allDaemonStatuses"]
            kinds = {s["daemonType"] for s in statuses if s["healthy"]}
            return {"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR"} <= kinds

        assert _wait(daemons_healthy, 90), "the daemon did not report healthy"
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            raise AssertionError("`up` did not stop on Ctrl-C") from None
