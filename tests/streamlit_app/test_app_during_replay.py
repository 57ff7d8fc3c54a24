"""The supervisor reads while a real replay writes: neither fails."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from trade_pipelines.settings import paths
from trade_pipelines.warehouse import Warehouse

APP = Path(__file__).resolve().parents[2] / "streamlit_app" / "app.py"


def test_the_page_renders_again_and_again_during_a_replay(project_home: Path) -> None:
    command = [sys.executable, "-m", "trade_pipelines.cli", "replay", "--start", "2019-01-01",
               "--end", "2019-04-30", "--symbols", "AAPL,JPM,KO,XOM,MSFT", "--no-progress"]
    replay = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    renders = 0
    try:
        while replay.poll() is None:
            page = AppTest.from_file(str(APP), default_timeout=60).run()
            assert not page.exception, page.exception
            renders += 1
            time.sleep(0.2)
        output = replay.stdout.read() if replay.stdout else ""
    finally:
        if replay.poll() is None:
            replay.kill()
    assert replay.returncode == 0, output
    assert renders >= 2
    store = Warehouse(paths().warehouse)
    assert store.query("SELECT count(*) AS n FROM accounts")["n"].iloc[0] > 0
    st.cache_data.clear()  # the page caches reads for a few seconds; read afresh
    final = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not final.exception
    accounts = next(d.value for d in final.dataframe if "Account" in d.value.columns)
    assert {"Aggressive", "Conservative", "Combined"} <= set(accounts["Account"])
