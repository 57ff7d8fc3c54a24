"""The peer: backtrader running a bare SMA crossover on the same built-in bars."""

from __future__ import annotations

import time
from datetime import date

import pandas as pd


def run_backtrader_sma(bars: pd.DataFrame) -> tuple[float, int, float]:
    """Seconds, symbol-days and final value of a 10/30 SMA crossover over every symbol in
    ``bars`` (close-only bars fed with open = high = low = close)."""
    import backtrader as bt

    class SmaCross(bt.Strategy):
        params = (("fast", 10), ("slow", 30))

        def __init__(self) -> None:
            self.crosses = {
                d: bt.indicators.CrossOver(bt.indicators.SMA(d.close, period=self.p.fast),
                                           bt.indicators.SMA(d.close, period=self.p.slow))
                for d in self.datas
            }

        def next(self) -> None:
            for data, cross in self.crosses.items():
                position = self.getposition(data).size
                if not position and cross[0] > 0:
                    self.buy(data=data, size=int(50_000 / data.close[0]))
                elif position and cross[0] < 0:
                    self.close(data=data)

    began = time.perf_counter()
    cerebro = bt.Cerebro(stdstats=False)
    symbol_days = 0
    for symbol, group in bars.groupby("symbol", sort=True):
        frame = pd.DataFrame({"open": group["close"].to_numpy(),
                              "high": group["close"].to_numpy(),
                              "low": group["close"].to_numpy(),
                              "close": group["close"].to_numpy(),
                              "volume": 0.0, "openinterest": 0.0},
                             index=pd.to_datetime(group["as_of"]))
        cerebro.adddata(bt.feeds.PandasData(dataname=frame), name=symbol)
        symbol_days += len(frame)
    cerebro.addstrategy(SmaCross)
    cerebro.broker.setcash(1_000_000.0)
    cerebro.run()
    return time.perf_counter() - began, symbol_days, cerebro.broker.getvalue()


if __name__ == "__main__":
    from trade_pipelines.market_data.builtin import BUILTIN_UNIVERSE, load_builtin_bars

    data = load_builtin_bars()
    data = data[data["symbol"].isin(BUILTIN_UNIVERSE) & (data["as_of"] >= date(2013, 1, 1))]
    seconds, days, value = run_backtrader_sma(data)
    print(f"backtrader SMA crossover: {days:,} symbol-days in {seconds:.1f}s = "
          f"{days / seconds:,.0f} symbol-days/s (final value {value:,.0f})")
