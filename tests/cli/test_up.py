"""`trade-pipelines up` starts Dagster's real webserver and daemon and the supervisor app;
the UI shows the whole graph and the replayed partitions as materialized; Ctrl-C or
SIGTERM stops every process it started (the code server and gRPC server too), promptly."""

from __future__ import annotations

import contextlib
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


def _process_tree(root: int) -> dict[int, str]:
    """Every live descendant of ``root``, with its start time (so a reused pid is told
    apart), read from /proc."""
    parents, started = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        parents[int(entry.name)], started[int(entry.name)] = int(fields[1]), fields[19]
    tree, todo = {}, [root]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree[pid] = started[pid]
                todo.append(pid)
    return tree


def _still_running(tree: dict[int, str]) -> dict[int, str]:
    """The processes of ``tree`` still alive (zombies count as gone), with their commands."""
    alive = {}
    for pid, started in tree.items():
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if fields[0] != "Z" and fields[19] == started:
            alive[pid] = (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                          .decode(errors="replace")[:120])
    return alive


def _start_up(dagster_port: int, app_port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "trade_pipelines.cli", "up", "--dagster-port", str(dagster_port),
         "--app-port", str(app_port)], env=dict(os.environ), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)


def _stop_and_check_nothing_is_left(up: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to `up`'s process group, as a terminal's Ctrl-C or a service
    manager's stop does (every process of the group gets it at once), and within 20 s
    neither `up` nor any process it started may be running."""
    tree = _process_tree(up.pid)
    assert len(tree) >= 4, tree  # dagster dev, its webserver, daemon, code server; the app
    os.killpg(up.pid, signum)
    try:
        up.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)
        raise AssertionError(f"`up` did not stop on signal {signum}") from None
    deadline = time.monotonic() + 20
    while _still_running(tree) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _still_running(tree)
    for pid in left:  # clean up before failing
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"still running after `up` stopped: {list(left.values())}"


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
    up = _start_up(dagster_port, app_port)
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
        _stop_and_check_nothing_is_left(up, signal.SIGINT)


def test_sigterm_stops_everything_up_started(project_home: Path) -> None:
    dagster_port, app_port = _free_port(), _free_port()
    up = _start_up(dagster_port, app_port)
    try:
        # the webserver answers once the code server has loaded the definitions
        assert _wait(lambda: _graphql(dagster_port, "{ assetNodes { id } }")["assetNodes"],
                     90), "webserver did not load the code location"
        assert _wait(lambda: _get(f"http://127.0.0.1:{app_port}/_stcore/health") == "ok", 60)
    finally:
        _stop_and_check_nothing_is_left(up, signal.SIGTERM)


STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if sys.argv[1] == "parent":  # a service whose own child left its session, as servers do
    subprocess.Popen([sys.executable, "-c", sys.argv[2], "child", ""], start_new_session=True)
print("ready", flush=True)
time.sleep(600)
"""


def test_stopping_kills_what_ignores_the_signals_grandchildren_included() -> None:
    """The escalation `up` relies on when a server hangs on shutdown: a service that
    ignores SIGINT and SIGTERM, and its child in a session of its own, are both gone
    shortly after the grace period."""
    from trade_pipelines.cli.services import stop_all

    service = subprocess.Popen([sys.executable, "-c", STUBBORN, "parent", STUBBORN],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert service.stdout.readline().strip() == "ready"
    assert _wait(lambda: len(_process_tree(service.pid)) == 1, 10)
    tree = {service.pid: _process_tree(os.getpid())[service.pid], **_process_tree(service.pid)}
    began = time.monotonic()
    try:
        stop_all([service], grace_s=1.0)
        assert time.monotonic() - began < 5
        assert _wait(lambda: not _still_running(tree), 5), _still_running(tree)
    finally:
        for pid in _still_running(tree):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
