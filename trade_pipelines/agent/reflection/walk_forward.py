"""The walk-forward scoreboard: is the agent any good, and which layer earns what?

How the test is built, so nothing in a test window is fitted on it:

* history first: the bars before the first test window are the agent's warm-up
  (features and the setup records the quant and the gene pool read); the gene pool starts
  as the seeded genomes on the first test day, scored on the outcomes the warm-up already
  knows, and breeds from there; the agent trades from the first test day on;
* the agent, and each ablation, trades the whole test span once, deciding every day from
  data up to that day only (the look-ahead rule every layer keeps; the gene pool re-scores
  and breeds weekly on outcomes already known, over a rolling year). Its record is then
  cut into consecutive ``test_months`` windows; the agent carries its book from one
  window into the next;
* the baselines start afresh in each window with the same capital, universe, broker and
  costs;
* every figure of a window uses that window's daily returns only.

Statistics beyond return and Sharpe (see ``scoreboard_stats``): a block-bootstrap interval
for each Sharpe, the percentile among random portfolios of the same turnover and exposure,
alpha and beta against the benchmark, results by regime, and per system the deflated
Sharpe ratio (with the gene pool's real number of trials) and the probability of backtest
overfitting of the gene pool's selection.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from trade_pipelines.agent.evolution.books import genome_books
from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES, with_indicators
from trade_pipelines.agent.execution.broker import slippage_bps
from trade_pipelines.agent.execution.rebalancing import (
    RebalanceResult,
    daily_turnover_and_exposure,
)
from trade_pipelines.agent.loop import wiring
from trade_pipelines.agent.loop.simulation import run_agent_loop
from trade_pipelines.agent.loop.variant import ABLATIONS, FULL_AGENT, AgentVariant
from trade_pipelines.agent.markets import US, MarketRules, rate_on
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.agent.reflection.baselines import baseline_runs
from trade_pipelines.agent.reflection.performance import daily_stats
from trade_pipelines.agent.reflection.scoreboard_stats import (
    alpha_beta,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    random_portfolio_percentile,
    regime_split,
    sharpe_confidence_interval,
)

AGENT_SYSTEMS = ("combined", "aggressive", "conservative")
BASELINE_SYSTEMS = ("buy_and_hold", "sma_crossover", "momentum_12_1", "random_entries")
ABLATION_SYSTEMS = tuple(ABLATIONS)
SYSTEMS = (*AGENT_SYSTEMS, *BASELINE_SYSTEMS, *ABLATION_SYSTEMS)
SCOREBOARD_COLUMNS = [
    "window_start", "window_end", "system", "total_return", "annual_return", "sharpe",
    "sharpe_ci_low", "sharpe_ci_high", "sortino", "max_drawdown", "win_rate", "trades",
    "turnover", "exposure", "alpha", "beta", "random_percentile", "cleanliness"]
SUMMARY_COLUMNS = [
    "system", "kind", "windows", "days", "total_return", "annual_return", "sharpe",
    "max_drawdown", "windows_beating_buy_and_hold", "deflated_sharpe", "n_trials",
    "pbo", "pbo_of", "cleanliness"]
# What each PBO picks among: the frozen pool picks among the seeded genomes (their books
# cover every day); the agent's accounts and ablations are the agent's variants, and the
# choice among them is a selection too. A genome bred later has no book before its birth,
# and CSCV needs every configuration on every day, so no PBO covers bred genomes.
PBO_OF_SEEDS = "the seeded genomes"
PBO_OF_VARIANTS = "the agent's accounts and ablations"
# A replay of history with the deterministic reasoner: no model that read the future.
REPLAY = "replay"
RANDOM_PORTFOLIOS = 2000
RANDOM_ENTRY_SEEDS = 5
RANDOM = "random_entries"
SEEDED_IDS = frozenset(SEEDED_GENOMES)
COUNT_COLUMNS = ("trades", "windows", "days", "windows_beating_buy_and_hold", "n_trials")
# The gene pool's record, when it is too short to split into halves, gives no PBO.
MIN_PBO_SPLITS = 4
# Sessions of a genome's book before its Sharpe counts towards the trials' variance.
MIN_BOOK_DAYS = 252


@dataclass(frozen=True)
class EvaluationWindow:
    start: date
    end: date


@dataclass
class SystemRecord:
    """One system's daily record over the test span (or one window of it)."""

    daily_returns: pd.Series                 # by day
    exposure: pd.Series                      # share of equity invested at each close
    turnover: pd.Series                      # value traded / equity, by day
    trades: pd.DataFrame = field(default_factory=pd.DataFrame)  # as_of (exit), return_pct
    holdings: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))  # positions

    def window(self, window: EvaluationWindow) -> SystemRecord:
        def cut(series: pd.Series) -> pd.Series:
            return series[(series.index >= window.start) & (series.index <= window.end)]

        trades = self.trades
        if not trades.empty:
            trades = trades[(trades["as_of"] >= window.start) & (trades["as_of"] <= window.end)]
        return SystemRecord(cut(self.daily_returns), cut(self.exposure), cut(self.turnover),
                            trades, cut(self.holdings))


@dataclass
class Evaluation:
    scoreboard: pd.DataFrame
    summary: pd.DataFrame
    equity: pd.DataFrame          # day x system, compounded over the test span from 1.0
    regimes: pd.DataFrame         # system x regime figures over the test span
    windows: list[EvaluationWindow]
    universe: list[str]
    benchmark: str
    n_trials: int
    headlines_read: int = 0       # stored headlines the agent's runs read (as a replay)


def evaluation_windows(sessions: Sequence[date], first_day: date, last_day: date,
                       months: int = 12) -> list[EvaluationWindow]:
    """Consecutive windows of ``months`` calendar months, the first from ``first_day`` to
    the end of its ``months``-th month (so windows follow the calendar: with 12, each
    later one is a calendar year), each holding the sessions in it; the last one ends at
    ``last_day`` and may be shorter."""
    days = sorted(d for d in sessions if first_day <= d <= last_day)
    windows: list[EvaluationWindow] = []
    begin = pd.Timestamp(first_day).replace(day=1)
    while days:
        stop = (begin + pd.DateOffset(months=months)).date()
        inside = [d for d in days if d < stop]
        if inside:
            windows.append(EvaluationWindow(inside[0], inside[-1]))
        days = [d for d in days if d >= stop]
        begin = pd.Timestamp(stop)
    return windows


def agent_records(frames: Mapping[str, pd.DataFrame],
                  accounts: Sequence[str] = AGENT_SYSTEMS) -> dict[str, SystemRecord]:
    """Each paper account's record from the ledger's frames."""
    history = frames["accounts"]
    fills = frames["fills"]
    trades = frames["trades"]
    positions = frames["positions"]
    out = {}
    for account in accounts:
        mine = history[history["account"] == account].sort_values("as_of")
        daily = daily_turnover_and_exposure(fills[fills["account"] == account], mine) \
            .fillna(0.0)
        mine = mine.set_index("as_of")
        closed = trades[trades["account"] == account][["as_of", "return_pct"]]
        held = positions[positions["account"] == account].groupby("as_of").size()
        out[account] = SystemRecord(
            daily_returns=mine["daily_return"].astype(float),
            exposure=daily["exposure"], turnover=daily["turnover"],
            trades=closed.reset_index(drop=True),
            holdings=held.reindex(mine.index, fill_value=0).astype(float))
    return out


def rebalance_record(result: RebalanceResult) -> SystemRecord:
    """A baseline's record: the same fields as an account's (its turnover is the
    simulator's average over the window, by the same definition)."""
    returns = result.daily_returns.astype(float)
    returns.index = [pd.Timestamp(d).date() for d in returns.index]
    exposure = result.weights.abs().sum(axis=1).astype(float)
    exposure.index = [pd.Timestamp(d).date() for d in exposure.index]
    trades = result.trades[["as_of", "return_pct"]].copy() if not result.trades.empty \
        else pd.DataFrame(columns=["as_of", "return_pct"])
    trades["as_of"] = [pd.Timestamp(d).date() for d in trades["as_of"]]
    held = (result.weights.fillna(0.0) > 0).sum(axis=1).astype(float)
    held.index = [pd.Timestamp(d).date() for d in held.index]
    return SystemRecord(returns, exposure.reindex(returns.index).fillna(0.0),
                        pd.Series(result.turnover, index=returns.index), trades,
                        held.reindex(returns.index).fillna(0.0))


def typical_cost(vol_20: pd.Series, rules: MarketRules = US,
                 day: date | None = None) -> float:
    """One side's cost at the universe's median volatility: what a random portfolio pays
    per unit of turnover (the broker's slippage plus the market's commission rate and its
    stamp duty on ``day``, averaged over the two sides)."""
    median = float(np.nanmedian(vol_20.to_numpy(dtype=float))) if len(vol_20) else 0.25
    cost = slippage_bps(median) / 10_000 + rules.commission.rate
    if day is not None:
        cost += (rate_on(rules.stamp_duty_buy, day) + rate_on(rules.stamp_duty_sell, day)) / 2
    return cost


def window_row(window: EvaluationWindow, system: str, record: SystemRecord,
               benchmark_returns: pd.Series, asset_returns: pd.DataFrame,
               cost_per_turnover: float, seed: int) -> dict[str, object]:
    """The scoreboard's row of one system in one window."""
    returns = record.daily_returns.to_numpy(dtype=float)
    stats = daily_stats(returns)
    low, high = sharpe_confidence_interval(returns, seed=seed)
    aligned = benchmark_returns.reindex(record.daily_returns.index)
    alpha, beta = alpha_beta(returns, aligned.to_numpy(dtype=float))
    trades = record.trades
    n_trades = int(len(trades))
    wins = int((trades["return_pct"].astype(float) > 0).sum()) if n_trades else 0
    turnover = float(record.turnover.mean()) if len(record.turnover) else 0.0
    exposure = float(record.exposure.mean()) if len(record.exposure) else 0.0
    assets = asset_returns.reindex(record.daily_returns.index).to_numpy(dtype=float)
    # Random portfolios as concentrated as the system (a null spread over every name
    # would make any concentrated book look extreme).
    holdings = int(round(float(record.holdings.mean()))) if len(record.holdings) else 0
    percentile = random_portfolio_percentile(
        returns, assets, turnover, exposure, n_portfolios=RANDOM_PORTFOLIOS, seed=seed,
        cost_per_turnover=cost_per_turnover,
        holdings=min(max(holdings, 1), assets.shape[1]))
    return {
        "window_start": window.start, "window_end": window.end, "system": system,
        "total_return": stats.total_return, "annual_return": stats.annual_return,
        "sharpe": stats.sharpe, "sharpe_ci_low": low, "sharpe_ci_high": high,
        "sortino": stats.sortino, "max_drawdown": stats.max_drawdown,
        "win_rate": wins / n_trades if n_trades else np.nan, "trades": n_trades,
        "turnover": turnover, "exposure": exposure, "alpha": alpha, "beta": beta,
        "random_percentile": percentile, "cleanliness": REPLAY,
    }


def _closes(bars: pd.DataFrame, symbols: Sequence[str]) -> pd.DataFrame:
    mine = bars[bars["symbol"].isin(symbols)]
    return mine.pivot(index="as_of", columns="symbol", values="close").sort_index()


def _seed(window: EvaluationWindow, system: str) -> int:
    """A seed per (window, system) that does not depend on Python's hash salt."""
    return (window.start.toordinal() * 31 + sum(map(ord, system))) % (2**31)


def evaluate_walk_forward(
        bars: pd.DataFrame, universe: Sequence[str], benchmark_symbol: str,
        volatility_symbol: str | None, first_test_day: date, last_day: date, *,
        test_months: int = 12, systems: Sequence[str] = SYSTEMS,
        progress: Callable[[str, int], None] | None = None,
        rules: MarketRules = US, headlines: pd.DataFrame | None = None,
        include_generated: bool = False) -> Evaluation:
    """Score the agent, its ablations and the baselines over the windows from
    ``first_test_day`` to ``last_day``; ``bars`` holds the warm-up history before it.
    Every system trades under the market's ``rules`` (lots, T+1, limits, fees), and the
    agent and its ablations read the stored ``headlines`` as a replay does (drills only
    with ``include_generated``).

    ``progress`` is told each step (an agent run or a window's scoring) as it finishes,
    with the number of steps in all."""
    universe = sorted(universe)
    bars = bars[bars["as_of"] <= last_day]
    sessions = sorted(set(bars.loc[bars["symbol"].isin(universe), "as_of"]))
    windows = evaluation_windows(sessions, first_test_day, last_day, test_months)
    if not windows:
        raise ValueError(f"no session of the universe between {first_test_day} and "
                         f"{last_day}")
    closes = _closes(bars, universe)
    asset_returns = closes.pct_change(fill_method=None)
    benchmark = _closes(bars, [benchmark_symbol])
    benchmark_returns = benchmark[benchmark_symbol].pct_change(fill_method=None) \
        if benchmark_symbol in benchmark else asset_returns.mean(axis=1)

    universe_bars = bars[bars["symbol"].isin(universe)]
    features = compute_features(universe_bars)
    trading = wiring.trading_bars(universe_bars, features)

    records: dict[str, SystemRecord] = {}
    regimes = pd.Series(dtype=object)
    gene_pool_books = pd.DataFrame()
    n_trials = 0
    variants: dict[str, AgentVariant] = {"agent": FULL_AGENT}
    variants.update({name: ABLATIONS[name] for name in ABLATION_SYSTEMS if name in systems})
    n_steps = len(variants) + len(windows)

    def tell(step: str) -> None:
        if progress is not None:
            progress(step, n_steps)
    for name, variant in variants.items():
        result = run_agent_loop(bars, windows[0].start, last_day, list(universe),
                                benchmark_symbol, volatility_symbol, variant=variant,
                                rules=rules, headlines=headlines,
                                include_generated=include_generated)
        frames = result["frames"]
        if name == "agent":
            records.update(agent_records(frames))
            day_regimes = frames["regimes"]
            regimes = pd.Series(day_regimes["regime"].to_numpy(), index=day_regimes["as_of"])
            genomes = result["genomes"]
            n_trials = len(genomes)
            books, days, _ = genome_books(
                genomes, with_indicators(wiring.with_breadth(features), genomes))
            keep = np.array([d >= windows[0].start for d in days], dtype=bool)
            gene_pool_books = pd.DataFrame(books.daily_returns[:, keep].T,
                                           index=[d for d, k in zip(days, keep, strict=True) if k],
                                           columns=[g.strategy_id for g in genomes])
            # A bred genome's book before its birth is in-sample history it was bred
            # from, not a trial the pool ran: masked.
            bred = frames["strategies"]
            for sid, born in zip(bred["strategy_id"], bred["born_as_of"], strict=True):
                if sid in gene_pool_books and born is not None and pd.notna(born):
                    born_day = pd.Timestamp(born).date()
                    gene_pool_books.loc[[d <= born_day for d in gene_pool_books.index],
                                        sid] = np.nan
        else:
            records[name] = agent_records(frames, ["combined"])["combined"]
        tell(f"agent run: {name}")

    rows = []
    # The random entries' seeds are scored apart and their figures averaged: averaging
    # their daily returns instead would diversify away risk no random book carries.
    seeds = [f"{RANDOM}/{k}" for k in range(RANDOM_ENTRY_SEEDS)] if RANDOM in systems else []
    scored = [s for s in systems if s != RANDOM] + seeds
    baseline_records: dict[str, list[SystemRecord]] = {s: [] for s in scored
                                                       if _is_baseline(s)}
    for window in windows:
        # What a random portfolio pays, from this window's volatility only: a window's
        # row must not change when later bars do.
        cost = typical_cost(features.loc[(features["as_of"] >= window.start)
                                         & (features["as_of"] <= window.end), "vol_20"],
                            rules, window.start)
        combined = records["combined"].window(window)
        runs = baseline_runs(
            trading, window.start, window.end,
            turnover=float(combined.turnover.mean()) if len(combined.turnover) else 0.0,
            exposure=float(combined.exposure.mean()) if len(combined.exposure) else 0.0,
            seeds=RANDOM_ENTRY_SEEDS, rules=rules)
        for k, result in enumerate(runs.pop(RANDOM)):
            runs[f"{RANDOM}/{k}"] = result
        for system in scored:
            if _is_baseline(system):
                record = rebalance_record(runs[system])
                baseline_records[system].append(record)
            else:
                record = records[system].window(window)
            rows.append(window_row(window, system, record, benchmark_returns,
                                   asset_returns, cost, _seed(window, system)))
        tell(f"window {window.start}..{window.end}")
    for system, parts in baseline_records.items():
        if parts:
            records[system] = _joined(parts)

    every_row = pd.DataFrame(rows, columns=SCOREBOARD_COLUMNS)
    scoreboard = _seeds_averaged(every_row, ["window_start", "window_end"], systems)
    equity = pd.DataFrame({s: (1 + records[s].daily_returns.fillna(0.0)).cumprod()
                           for s in scored if s in records})
    if seeds:
        equity[RANDOM] = equity[seeds].mean(axis=1)
        equity = equity.drop(columns=seeds)
    equity = equity[[s for s in systems if s in equity]]
    summary = _seeds_averaged(
        _summary(every_row, records, scored, gene_pool_books, n_trials, len(windows)),
        [], systems)
    by_regime = _seeds_averaged(_by_regime(records, scored, regimes), ["regime"], systems)
    return Evaluation(scoreboard, summary, equity, by_regime, windows, list(universe),
                      benchmark_symbol if benchmark_symbol in benchmark else "equal-weight index",
                      n_trials, 0 if headlines is None else len(headlines))


def _is_baseline(system: str) -> bool:
    return system.split("/")[0] in BASELINE_SYSTEMS


def _seeds_averaged(frame: pd.DataFrame, keys: list[str],
                    systems: Sequence[str]) -> pd.DataFrame:
    """The random entries' seed rows (``random_entries/k``) replaced by their mean, per
    ``keys``; other rows as they are, in the order of ``systems``."""
    if frame.empty:
        return frame
    seeded = frame["system"].str.startswith(f"{RANDOM}/")
    if not seeded.any():
        return frame.reset_index(drop=True)
    seed_rows = frame[seeded]
    numeric = [c for c in frame.columns if c not in ("system", *keys)
               and pd.api.types.is_numeric_dtype(frame[c])]
    other = [c for c in frame.columns if c not in ("system", *keys, *numeric)]
    grouped = seed_rows.groupby(keys, sort=False) if keys else seed_rows.groupby(
        lambda _: 0)
    mean = grouped[numeric].mean()
    first = grouped[other].first() if other else pd.DataFrame(index=mean.index)
    averaged = pd.concat([mean, first], axis=1).reset_index(drop=not keys)
    if not keys:
        averaged = averaged.drop(columns=["index"], errors="ignore")
    averaged["system"] = RANDOM
    out = pd.concat([frame[~seeded], averaged[frame.columns]], ignore_index=True)
    for column in COUNT_COLUMNS:  # counts stay whole numbers (a seed average rounded)
        if column in out:
            out[column] = out[column].round().astype(int)
    order = {s: i for i, s in enumerate(systems)}
    rank = out["system"].map(order)
    sort = [*keys, "_rank"] if keys else ["_rank"]
    return out.assign(_rank=rank).sort_values(sort, kind="mergesort") \
        .drop(columns="_rank").reset_index(drop=True)


def _joined(parts: Sequence[SystemRecord]) -> SystemRecord:
    """A baseline's windows end to end (each began afresh)."""
    trades = [p.trades for p in parts if not p.trades.empty]
    return SystemRecord(pd.concat([p.daily_returns for p in parts]),
                        pd.concat([p.exposure for p in parts]),
                        pd.concat([p.turnover for p in parts]),
                        pd.concat(trades, ignore_index=True) if trades else pd.DataFrame(),
                        pd.concat([p.holdings for p in parts]))


def _summary(scoreboard: pd.DataFrame, records: Mapping[str, SystemRecord],
             systems: Sequence[str], gene_pool_books: pd.DataFrame, n_trials: int,
             n_windows: int) -> pd.DataFrame:
    """Per system over the whole span. The deflated Sharpe counts the genomes the pool
    held as trials (the frozen pool of ``no_evolution``: the seeded ones), with the
    variance of their books' Sharpe ratios after their birth; the PBO is that of picking
    the best by in-sample Sharpe among ``pbo_of`` (CSCV over their daily returns)."""
    hold = scoreboard[scoreboard["system"] == "buy_and_hold"].set_index("window_start")
    splits = min(16, 2 * (n_windows // 2))
    seeds_pbo = np.nan
    trials_variance = seeds_variance = np.nan
    seeded = [c for c in gene_pool_books.columns if c in SEEDED_IDS]
    if not gene_pool_books.empty:
        books = gene_pool_books.to_numpy(dtype=float)
        with warnings.catch_warnings():  # a genome born on the last day has no book yet
            warnings.simplefilter("ignore", RuntimeWarning)
            per_period = np.nanmean(books, axis=0) / np.nanstd(books, axis=0, ddof=1)
        # Only books of a year or more: a genome born weeks before the end has a Sharpe
        # estimate so noisy it would inflate the trials' variance by noise alone.
        long_enough = np.isfinite(books).sum(axis=0) >= MIN_BOOK_DAYS
        usable = np.isfinite(per_period) & long_enough
        finite = per_period[usable]
        trials_variance = float(np.var(finite, ddof=1)) if finite.size > 1 else np.nan
        # the frozen pool's trials are the seeds alone: their spread, not the bred ones'
        seeds = per_period[usable & gene_pool_books.columns.isin(seeded)]
        seeds_variance = float(np.var(seeds, ddof=1)) if seeds.size > 1 else np.nan
        if len(seeded) >= 2 and splits >= MIN_PBO_SPLITS:
            seeds_pbo = probability_of_backtest_overfitting(
                gene_pool_books[seeded].to_numpy(dtype=float), n_splits=splits)
    variants = [s for s in systems if s in records and not _is_baseline(s)
                and s != "no_evolution"]
    variants_pbo = probability_of_backtest_overfitting(
        pd.concat([records[s].daily_returns for s in variants], axis=1).to_numpy(float),
        n_splits=splits) if len(variants) >= 2 and splits >= MIN_PBO_SPLITS else np.nan
    rows = []
    for system in systems:
        if system not in records:
            continue
        returns = records[system].daily_returns.to_numpy(dtype=float)
        stats = daily_stats(returns)
        mine = scoreboard[scoreboard["system"] == system].set_index("window_start")
        beats = int((mine["sharpe"] > hold["sharpe"].reindex(mine.index)).sum()) \
            if not hold.empty else 0
        is_agent = not _is_baseline(system)
        trials = (len(seeded) if system == "no_evolution" else max(n_trials, 1)) \
            if is_agent else 1
        # One trial has no spread; many trials without a measured spread (no genome
        # book of a year) give no deflated Sharpe at all, never a plain PSR in disguise.
        variance = 0.0 if trials == 1 else (
            seeds_variance if system == "no_evolution" else trials_variance)
        pbo, pbo_of = ((seeds_pbo, PBO_OF_SEEDS) if system == "no_evolution" else
                       (variants_pbo, PBO_OF_VARIANTS) if is_agent else (np.nan, ""))
        rows.append({
            "system": system,
            "kind": "agent" if system in AGENT_SYSTEMS else (
                "baseline" if _is_baseline(system) else "ablation"),
            "windows": len(mine), "days": stats.days,
            "total_return": stats.total_return, "annual_return": stats.annual_return,
            "sharpe": stats.sharpe, "max_drawdown": stats.max_drawdown,
            "windows_beating_buy_and_hold": beats,
            "deflated_sharpe": deflated_sharpe_ratio(returns, trials, variance),
            "n_trials": trials, "pbo": pbo, "pbo_of": pbo_of if np.isfinite(pbo) else "",
            "cleanliness": REPLAY,
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _by_regime(records: Mapping[str, SystemRecord], systems: Sequence[str],
               regimes: pd.Series) -> pd.DataFrame:
    frames = []
    for system in systems:
        if system not in records or regimes.empty:
            continue
        split = regime_split(records[system].daily_returns, regimes)
        frames.append(split.reset_index().assign(system=system))
    if not frames:
        return pd.DataFrame(columns=["system", "regime"])
    out = pd.concat(frames, ignore_index=True)
    return out[["system", *[c for c in out.columns if c != "system"]]]
