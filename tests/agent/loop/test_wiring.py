"""The bars the ledger fills at carry only what is known before each open."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.execution.broker import ADV_SESSIONS
from trade_pipelines.agent.loop.wiring import trading_bars

DAYS = [date(2024, 1, 1) + timedelta(days=i) for i in range(30)]


def _bars(volumes: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"symbol": "AAA", "as_of": DAYS[: len(volumes)], "open": 10.0,
                         "close": 10.0 + np.arange(len(volumes)), "volume": volumes})


def _features(bars: pd.DataFrame) -> pd.DataFrame:
    return bars[["symbol", "as_of"]].assign(vol_20=0.1 + 0.01 * np.arange(len(bars)))


def test_average_volume_and_volatility_come_from_the_sessions_before() -> None:
    volumes = [float(100 * (i + 1)) for i in range(30)]
    bars = _bars(volumes)
    out = trading_bars(bars, _features(bars)).set_index("as_of")
    assert np.isnan(out.loc[DAYS[0], "adv"]) and np.isnan(out.loc[DAYS[0], "vol_20"])
    assert out.loc[DAYS[1], "adv"] == 100.0            # one session known so far
    assert out.loc[DAYS[3], "adv"] == pytest.approx(np.mean(volumes[:3]))
    assert out.loc[DAYS[25], "adv"] == pytest.approx(np.mean(volumes[25 - ADV_SESSIONS:25]))
    assert out.loc[DAYS[5], "vol_20"] == pytest.approx(0.1 + 0.01 * 4)
    # a bar's own volume changes nothing it is filled with
    louder = bars.assign(volume=bars["volume"].where(bars["as_of"] != DAYS[10], 1e9))
    again = trading_bars(louder, _features(louder)).set_index("as_of")
    assert again.loc[: DAYS[10], "adv"].equals(out.loc[: DAYS[10], "adv"])
    assert again.loc[DAYS[11], "adv"] != out.loc[DAYS[11], "adv"]
