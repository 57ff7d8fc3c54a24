"""``trade-pipelines up``: the Dagster webserver and daemon, and the supervisor app."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from trade_pipelines.cli.common import dagster_env
from trade_pipelines.settings import PROJECT_ROOT


def cmd_up(args: argparse.Namespace) -> int:
    """Dagster webserver + daemon (``dagster dev``) and the supervisor app, on loopback."""
    dagster_env()
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    dagster = subprocess.Popen(
        [str(bin_dir / "dagster"), "dev", "-m", "trade_pipelines.definitions",
         "--host", "127.0.0.1", "--port", str(args.dagster_port)], env=env, cwd=PROJECT_ROOT)
    app = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "streamlit_app" / "app.py"),
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.address", "127.0.0.1", "--server.port", str(args.app_port)], env=env,
        cwd=PROJECT_ROOT)
    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the children as Ctrl-C does

    signal.signal(signal.SIGTERM, stop)
    print(f"Dagster UI      http://127.0.0.1:{args.dagster_port}\n"
          f"Supervisor app  http://127.0.0.1:{args.app_port}\nCtrl-C stops both.", flush=True)
    try:
        while dagster.poll() is None and app.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in (app, dagster):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in (app, dagster):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0



def register(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser("up", help="start the Dagster UI + daemon and the supervisor app")
    up.add_argument("--dagster-port", type=int, default=3000)
    up.add_argument("--app-port", type=int, default=8501)
    up.set_defaults(func=cmd_up)
