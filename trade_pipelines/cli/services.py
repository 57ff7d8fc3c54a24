"""``trade-pipelines up``: the Dagster webserver and daemon, and the supervisor app."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from trade_pipelines.cli.common import dagster_env
from trade_pipelines.settings import PROJECT_ROOT

# How long the services get to stop on Ctrl-C before the rest is killed.
GRACE_S = 10.0


def cmd_up(args: argparse.Namespace) -> int:
    """Dagster webserver + daemon (``dagster dev``) and the supervisor app, on loopback.

    Each service starts in its own session, so a terminal's Ctrl-C reaches only this
    process, which then stops everything it started, grandchildren included (``dagster
    dev`` runs the webserver, the daemon and gRPC code servers): SIGINT to each service's
    process group, then SIGKILL to whatever of the process tree is left after GRACE_S."""
    dagster_env()
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    services = [
        subprocess.Popen(
            [str(bin_dir / "dagster"), "dev", "-m", "trade_pipelines.definitions",
             "--host", "127.0.0.1", "--port", str(args.dagster_port)], env=env,
            cwd=PROJECT_ROOT, start_new_session=True),
        subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run",
             str(PROJECT_ROOT / "streamlit_app" / "app.py"), "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1",
             "--server.port", str(args.app_port)], env=env, cwd=PROJECT_ROOT,
            start_new_session=True),
    ]

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the services as Ctrl-C does

    signal.signal(signal.SIGTERM, stop)
    print(f"Dagster UI      http://127.0.0.1:{args.dagster_port}\n"
          f"Supervisor app  http://127.0.0.1:{args.app_port}\nCtrl-C stops both.", flush=True)
    try:
        while all(service.poll() is None for service in services):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(services)
    return 0


def stop_all(services: list[subprocess.Popen], grace_s: float = GRACE_S) -> None:
    """Stop the services and every process they started, within about ``grace_s``."""
    # The tree is read before anything stops: an orphan is re-parented and lost from it.
    tree = {pid: _start_time(pid) for service in services
            for pid in [service.pid, *_descendants(service.pid)]}
    for service in services:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.pid, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(pid, started)
                                              for pid, started in tree.items()):
        for service in services:
            service.poll()  # reap the direct children
        time.sleep(0.2)
    for service in services:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.pid, signal.SIGKILL)
    for pid, started in tree.items():
        if _alive(pid, started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for service in services:
        service.wait()


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _start_time(pid: int) -> str | None:
    fields = _stat(pid)
    return fields[19] if fields else None


def _alive(pid: int, started: str | None) -> bool:
    """Still running, and still the same process (not a new one that reused the pid)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z" and fields[19] == started


def register(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser("up", help="start the Dagster UI + daemon and the supervisor app")
    up.add_argument("--dagster-port", type=int, default=3000)
    up.add_argument("--app-port", type=int, default=8501)
    up.set_defaults(func=cmd_up)
