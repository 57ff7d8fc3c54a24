"""Decision, execution and memory, day by day: the debate over each proposal, the
risk-checked orders, fills, positions and account values of the three paper accounts,
the round trips closed and the memories they leave. One engine walks the days in order
(today's debate recalls the trades closed before today) and writes every table in one
transaction, so a killed run leaves the previous ledger intact."""

import math
from datetime import date, timedelta

import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    multi_asset,
)

from trade_pipelines.agent.decision.deliberation import Deliberation
from trade_pipelines.agent.decision.setups import SetupBook
from trade_pipelines.agent.evolution.evaluation import all_outcomes
from trade_pipelines.agent.evolution.genomes import GENOMES
from trade_pipelines.agent.execution.ledger import (
    ACCOUNTS,
    STARTING_CAPITAL,
    Ledger,
    state_from_rows,
)
from trade_pipelines.agent.loop.trading_loop import TradingLoop
from trade_pipelines.agent.memory.trade_memory import DecisionIndex, MemoryBook
from trade_pipelines.assets.common import (
    WAREHOUSE_POOL,
    markdown_preview,
    partition_window,
    progress,
    to_dates,
    trading_days,
)
from trade_pipelines.assets.decisions import trade_proposals
from trade_pipelines.assets.market import market_bars, market_features, market_regime
from trade_pipelines.assets.planning import daily_plans
from trade_pipelines.assets.strategy import features_with_breadth
from trade_pipelines.partitions import single_run, trading_months
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.warehouse import Warehouse

PREVIOUS_MONTH = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
TABLES = {"debate_decisions": "decisions", "risk_checked_orders": "orders",
          "paper_fills": "fills", "positions": "positions", "account_values": "accounts",
          "closed_trades": "trades", "trade_memories": "memories"}
# How far back the regime at a trade's opening is looked up for its memory.
MEMORY_CONTEXT = timedelta(days=400)


def _spec(key: str, description: str, deps: list, self_dependent: bool = False) -> AssetSpec:
    own = [AssetDep(key, partition_mapping=PREVIOUS_MONTH)] if self_dependent else []
    return AssetSpec(key, description=description, group_name="trading",
                     deps=[*deps, *own],
                     metadata={"table": TABLES[key]})


def load_state(store: Warehouse, start: date):
    """The ledger's state at the close of the last recorded day before ``start``."""
    last = store.query("SELECT max(as_of) AS d FROM accounts WHERE as_of < ?", [start])
    previous = last["d"].iloc[0] if not last.empty else None
    if previous is None or pd.isna(previous):
        return state_from_rows(pd.DataFrame(), {}, pd.DataFrame(), pd.DataFrame()), None
    accounts = store.query("SELECT * FROM accounts WHERE as_of = ?", [previous])
    peaks = store.query("SELECT account, max(equity) AS peak FROM accounts WHERE as_of <= ? "
                        "GROUP BY account", [previous])
    positions = to_dates(store.query("SELECT * FROM positions WHERE as_of = ? "
                                     "ORDER BY account, symbol", [previous]), "opened_as_of")
    # Orders accepted at that close fill at the next bar, which is inside this window.
    pending = store.query("SELECT * FROM orders WHERE as_of = ? AND status = 'accepted' "
                          "ORDER BY sequence", [previous])
    state = state_from_rows(accounts, dict(zip(peaks["account"], peaks["peak"], strict=True)),
                            positions, pending)
    return state, pd.Timestamp(previous).date()


@multi_asset(
    specs=[
        _spec("debate_decisions", "Each proposal argued by aggressive, conservative and "
              "quant agents over 3-5 rounds and ruled on by the judge, with the transcript "
              "and the memories recalled.",
              [trade_proposals.key, daily_plans.key, market_features.key, market_regime.key]),
        _spec("risk_checked_orders", "Orders after the risk engine: accepted, rejected, "
              "refused or cancelled while paused, each with its reason.",
              ["debate_decisions", market_bars.key]),
        _spec("paper_fills", "Fills at the bar after the decision, with modelled slippage "
              "and fees.", ["risk_checked_orders"]),
        _spec("positions", "End-of-day positions of each paper account.", ["paper_fills"]),
        _spec("account_values", "End-of-day cash, equity and drawdown of the three "
              "accounts beside the benchmark.", ["positions"], self_dependent=True),
        _spec("closed_trades", "Round trips closed, with P&L and exit reason.",
              ["paper_fills"]),
        _spec("trade_memories", "One 5W1H memory per closed trade, importance scored from "
              "its outcome; the next days' debates recall them.",
              ["closed_trades", "debate_decisions"], self_dependent=True),
    ],
    partitions_def=trading_months, backfill_policy=single_run, pool=WAREHOUSE_POOL,
    can_subset=False,
)
def daily_trading_loop(context: AssetExecutionContext, warehouse: WarehouseResource,
                       market_data: MarketDataResource):
    """For each trading day of the window: debate, risk-check, fill, mark, remember."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    universe = market_data.universe()
    state, previous_day = load_state(store, start)
    days = trading_days(store, universe, start, end)

    features = features_with_breadth(store, universe, None, end)
    window_features = features[features["as_of"] >= start]
    regimes = to_dates(store.query("SELECT * FROM regimes WHERE as_of BETWEEN ? AND ? "
                                   "ORDER BY as_of", [start - MEMORY_CONTEXT, end]), "as_of")
    window_regimes = regimes[regimes["as_of"] >= start]
    plans = to_dates(store.query("SELECT as_of, exposure_target FROM plans "
                                 "WHERE as_of BETWEEN ? AND ?", [start, end]), "as_of")
    proposals = to_dates(store.query("SELECT * FROM proposals WHERE as_of BETWEEN ? AND ? "
                                     "ORDER BY as_of, proposal_id", [start, end]), "as_of")
    deliberation = Deliberation(
        window_features, window_regimes,
        dict(zip(plans["as_of"], plans["exposure_target"], strict=True)),
        SetupBook(all_outcomes(list(GENOMES.values()), features)), GENOMES)
    memories = to_dates(store.query("SELECT * FROM memories WHERE as_of < ?", [start]),
                        "as_of")
    # The debates behind the positions carried into this window, for their memories.
    carried = sorted({p.decision_id for a in state.accounts.values()
                      for p in a.positions.values() if p.decision_id}
                     | {o.decision_id for o in state.pending if o.decision_id})
    earlier_decisions = store.query(
        "SELECT decision_id, confidence, summary FROM decisions "
        "WHERE list_contains(?, decision_id)", [carried])
    loop = TradingLoop(deliberation, Ledger(state, GENOMES), MemoryBook(memories),
                       DecisionIndex(earlier_decisions),
                       dict(zip(regimes["as_of"], regimes["regime"], strict=True)), GENOMES)

    bars = store.query(
        "SELECT symbol, as_of, open, close, volume FROM bars WHERE as_of BETWEEN ? AND ? "
        "AND list_contains(?, symbol)", [start, end, universe])
    bars = to_dates(bars, "as_of").merge(window_features[["symbol", "as_of", "vol_20"]],
                                         on=["symbol", "as_of"], how="left")
    last_benchmark = store.query("SELECT benchmark_close FROM regimes WHERE as_of < ? "
                                 "ORDER BY as_of DESC LIMIT 1", [start])
    previous_close = float(last_benchmark["benchmark_close"].iloc[0]) \
        if not last_benchmark.empty else math.nan
    pause_state = warehouse.pause_state

    def pause(_: date) -> tuple[bool, str]:
        current = pause_state()
        return current.paused, current.reason

    loop.run_days(progress(days, "trading loop", len(days)), bars, window_regimes, proposals,
                  pause, previous_close)

    ledger_frames = loop.ledger.result.frames()
    frames = {"decisions": loop.output.decisions_frame(), **ledger_frames,
              "memories": loop.output.memories_frame()}
    counts = store.replace_days(frames, start, end)
    for warning in loop.ledger.result.warnings[:20]:
        context.log.warning(warning)
    yield from _results(frames, counts, start, end, previous_day)


def _results(frames: dict[str, pd.DataFrame], counts: dict[str, int], start: date,
             end: date, previous_day: date | None):
    common = {"window": f"{start}..{end}", "continued_from": str(previous_day)}
    decisions, orders, accounts = frames["decisions"], frames["orders"], frames["accounts"]
    memories, trades = frames["memories"], frames["trades"]
    final = accounts[accounts["as_of"] == accounts["as_of"].max()] if not accounts.empty \
        else accounts
    equity = {r.account: round(r.equity, 2) for r in final.itertuples()}
    used = decisions["memories_used"].map(lambda ids: ids != "[]").sum() \
        if not decisions.empty else 0
    yield MaterializeResult(asset_key="debate_decisions", metadata={
        **common, "rows": counts["decisions"], "decisions_recalling_memories": int(used),
        "verdicts": MetadataValue.json(decisions["verdict"].value_counts().to_dict()
                                       if not decisions.empty else {}),
        "preview": markdown_preview(decisions.drop(columns=["transcript"], errors="ignore")
                                    .tail(10))})
    yield MaterializeResult(asset_key="risk_checked_orders", metadata={
        **common, "rows": counts["orders"],
        "status": MetadataValue.json(orders["status"].value_counts().to_dict()
                                     if not orders.empty else {})})
    yield MaterializeResult(asset_key="paper_fills", metadata={**common,
                                                               "rows": counts["fills"]})
    yield MaterializeResult(asset_key="positions", metadata={**common,
                                                             "rows": counts["positions"]})
    yield MaterializeResult(asset_key="account_values", metadata={
        **common, "rows": counts["accounts"],
        **{f"equity_{a}": equity.get(a, 0.0) for a in ACCOUNTS},
        "pnl_combined": round(equity.get("combined", STARTING_CAPITAL) - STARTING_CAPITAL, 2)})
    yield MaterializeResult(asset_key="closed_trades", metadata={
        **common, "rows": counts["trades"],
        "pnl": round(float(trades["pnl"].sum()), 2) if not trades.empty else 0.0})
    yield MaterializeResult(asset_key="trade_memories", metadata={
        **common, "rows": counts["memories"],
        "tiers": MetadataValue.json(memories["tier"].value_counts().to_dict()
                                    if not memories.empty else {}),
        "preview": markdown_preview(memories[["as_of", "symbol", "importance", "tier",
                                              "text"]] if not memories.empty else memories)})
