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

from trade_pipelines.agent.decision.calibration import JudgeCalibration
from trade_pipelines.agent.decision.deliberation import FEATURES_USED, Reasoner
from trade_pipelines.agent.evolution.evaluation import all_outcomes
from trade_pipelines.agent.evolution.genomes import StrategyGenome
from trade_pipelines.agent.evolution.lifecycle import Probation
from trade_pipelines.agent.execution.controls import ControlSchedule, events_frame
from trade_pipelines.agent.execution.ledger import (
    ACCOUNTS,
    STARTING_CAPITAL,
    state_from_rows,
    with_later_resolutions,
)
from trade_pipelines.agent.loop.trading_loop import TradingLoop
from trade_pipelines.agent.loop.wiring import reflection_cycle, trading_bars, trading_loop
from trade_pipelines.agent.markets import MarketRules
from trade_pipelines.agent.memory.knowledge_graph import KnowledgeGraph
from trade_pipelines.agent.perception.events import EVENT_HORIZON, EventResponses
from trade_pipelines.agent.reflection.changes import (
    MONTHLY,
    QUARTERLY,
    WEEKLY,
    HumanDecision,
    changes_from_rows,
    human_decisions_frame,
    proposals_from_rows,
)
from trade_pipelines.agent.reflection.cycles import ReflectionCycle
from trade_pipelines.assets.common import (
    WAREHOUSE_POOL,
    markdown_preview,
    partition_window,
    progress,
    to_dates,
    trading_days,
)
from trade_pipelines.assets.decisions import trade_proposals
from trade_pipelines.assets.knowledge import knowledge_through
from trade_pipelines.assets.market import market_bars, market_features, market_regime
from trade_pipelines.assets.news import news_sentiment
from trade_pipelines.assets.planning import daily_plans
from trade_pipelines.assets.sentiment import (
    market_events,
    market_sentiment,
    stored_events,
    stored_sentiment,
)
from trade_pipelines.assets.strategy import features_with_breadth, known_genomes, probation_by
from trade_pipelines.change_control import load_change_decisions
from trade_pipelines.control import load_events
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, ReasonerResource, WarehouseResource
from trade_pipelines.warehouse import Warehouse
from trade_pipelines.warehouse.checkpoints import (
    MonthSlice,
    StepCheckpoints,
    month_slices,
    split_by_month,
)

PREVIOUS_YEAR = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
TABLES = {"debate_decisions": "decisions", "risk_checked_orders": "orders",
          "paper_fills": "fills", "positions": "positions", "account_values": "accounts",
          "closed_trades": "trades", "trade_memories": "memories",
          "judge_role_weights": "role_weights", "memory_audit": "memory_audit",
          "review_changes": "changes", "weekly_plans": "horizon_plans",
          "monthly_plans": "horizon_plans", "quarterly_plans": "horizon_plans",
          "framework_proposals": "framework_proposals"}
# The horizon each plan asset holds of the ``horizon_plans`` table.
PLAN_HORIZONS = {"weekly_plans": WEEKLY, "monthly_plans": MONTHLY,
                 "quarterly_plans": QUARTERLY}
# How far back the regime at a trade's opening is looked up for its memory.
MEMORY_CONTEXT = timedelta(days=400)

# Calendar days that hold the sessions of the volume cap's average daily volume.
ADV_LOOK_BACK = timedelta(days=45)


def _spec(key: str, description: str, deps: list, self_dependent: bool = False,
          group: str = "trading") -> AssetSpec:
    own = [AssetDep(key, partition_mapping=PREVIOUS_YEAR)] if self_dependent else []
    return AssetSpec(key, description=description, group_name=group,
                     deps=[*deps, *own],
                     metadata={"table": TABLES[key]})


@multi_asset(
    specs=[
        _spec("debate_decisions", "Each proposal argued by aggressive, conservative and "
              "quant agents over 3-5 rounds and ruled on by the judge, with the transcript "
              "and the memories recalled.",
              [trade_proposals.key, daily_plans.key, market_features.key, market_regime.key,
               news_sentiment.key, market_sentiment.key, market_events.key]),
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
        _spec("judge_role_weights", "Which role has been right, per regime: the weight of "
              "the aggressive and the conservative, a row each day a closed trade moved it; "
              "the judge's calibration reads it.", ["closed_trades"], self_dependent=True),
        _spec("memory_audit", "Each promotion of a memory to long-term and each forgetting, "
              "with the decayed importance and the reason.", ["trade_memories"],
              self_dependent=True),
        _spec("review_changes", "Every change the weekly, monthly and quarterly reviews made "
              "to the agent's behaviour (principles, risk parameters, role weights, "
              "allocations; approved framework proposals), with its evidence, its review "
              "and the first session it applies to. The next sessions trade under them.",
              ["closed_trades", "account_values", "debate_decisions"], self_dependent=True,
              group="reflection"),
        _spec("weekly_plans", "Each week's plan, made at the close of the week before: the "
              "candidate and avoided strategies, the risk events of the days ahead.",
              ["closed_trades", "market_events"], self_dependent=True, group="planning"),
        _spec("monthly_plans", "Each month's plan: the allocation across strategies (an "
              "inverse-volatility risk budget), the exposure expected, the opportunity "
              "windows; a new plan, with its reason, when exposure is more than 30% off it.",
              ["closed_trades", "account_values"], self_dependent=True, group="planning"),
        _spec("quarterly_plans", "Each quarter's return target, drawdown tolerance and "
              "stance from the regime and the record; a new plan when the drawdown runs "
              "more than 30% past the tolerance.", ["account_values", market_regime.key],
              self_dependent=True, group="planning"),
        _spec("framework_proposals", "The quarterly meta-review's proposals for the "
              "agent's framework, waiting for a human (`trade-pipelines proposals`); "
              "unapproved ones expire.", ["closed_trades", "review_changes"],
              self_dependent=True, group="reflection"),
    ],
    partitions_def=trading_years, backfill_policy=single_run, pool=WAREHOUSE_POOL,
    can_subset=False,
)
def daily_trading_loop(context: AssetExecutionContext, warehouse: WarehouseResource,
                       market_data: MarketDataResource, reasoner: ReasonerResource):
    """For each trading day of the window: debate, risk-check, fill, mark, remember.

    Month by month: each month's rows of all seven tables are committed with a checkpoint
    of what they were computed from (a few months per transaction at most, see
    ``StepCheckpoints``), so a killed run loses only its last seconds of work, and a rerun
    resumes from the first month whose inputs changed."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    universe = market_data.universe()
    days = trading_days(store, universe, start, end)
    market = market_data.rules().code
    features = features_with_breadth(store, universe, None, end, market)
    genomes = known_genomes(store, end)
    probation = probation_by(store, end)
    proposals = to_dates(store.query("SELECT * FROM proposals WHERE as_of BETWEEN ? AND ? "
                                     "ORDER BY as_of, proposal_id", [start, end]), "as_of")
    # The quant's record book, of the genomes debated in the window.
    outcomes = all_outcomes([genomes[s] for s in sorted(set(proposals["strategy_id"]))],
                            features)
    # The day each outcome becomes known, as a date, for the months' fingerprints.
    outcomes_known = outcomes.assign(as_of=pd.to_datetime(outcomes["known_as_of"]).dt.date)
    window_features = features[features["as_of"] >= start]
    regimes = to_dates(store.query("SELECT * FROM regimes WHERE as_of BETWEEN ? AND ? "
                                   "ORDER BY as_of", [start - MEMORY_CONTEXT, end]), "as_of")
    window_regimes = regimes[regimes["as_of"] >= start]
    plans = to_dates(store.query("SELECT as_of, exposure_target FROM plans "
                                 "WHERE as_of BETWEEN ? AND ? ORDER BY as_of", [start, end]),
                     "as_of")
    # From a little before the window: the volume cap's average daily volume looks back.
    bars = to_dates(store.query(
        "SELECT symbol, as_of, open, close, volume FROM bars WHERE as_of BETWEEN ? AND ? "
        "AND list_contains(?, symbol) ORDER BY symbol, as_of",
        [start - ADV_LOOK_BACK, end, universe]), "as_of")
    bars = trading_bars(bars, features)
    bars = bars[bars["as_of"] >= start]
    regime_by_day = dict(zip(regimes["as_of"], regimes["regime"], strict=True))
    # The traded symbols' news as of each day's close: debate evidence, so part of each
    # month's fingerprint (new headlines recompute the months from theirs on).
    news = to_dates(store.query(
        "SELECT * FROM news_sentiment WHERE as_of BETWEEN ? AND ? AND list_contains(?, symbol) "
        "ORDER BY as_of, symbol", [start, end, universe]), "as_of")
    # The supervisor's controls are the recorded events, read once: never a switch.
    events = load_events(store)
    controls = ControlSchedule(events)
    # The market's mood and the dated events: the debate's evidence; the events' response
    # plans reach the risk engine.
    sentiment = stored_sentiment(store, market, end)
    sentiment = sentiment[sentiment["as_of"] >= start]
    market_events_ahead = stored_events(store, start, end)
    responses = EventResponses.of(market_events_ahead)

    checkpoints = StepCheckpoints(store, "daily_trading_loop")
    state_before, memories_before, _ = _warehouse_state(store, start)
    # The board lots are data too (a home's board_lots.csv): a lot added later re-runs
    # the months it would change.
    rules = market_data.rules()
    # The humans' decisions on changes and proposals are data: a rollback or an approval
    # recomputes the months from the window's first.
    human = load_change_decisions(store)
    previous = checkpoints.chain(
        MonthSlice(start, start), "", *state_before, memories_before,
        outcomes_known[outcomes_known["as_of"] < start], regimes[regimes["as_of"] < start],
        events_frame(events), sorted(genomes), sorted(probation.born.items()),
        sorted(probation.promoted.items()), sorted(rules.lot_sizes.items()),
        reasoner.fingerprint(), human_decisions_frame(human))
    loop: TradingLoop | None = None
    previous_close = math.nan
    previous_day = None
    months = month_slices(start, end)
    # The debate reads the window's features too (their look-back reaches before it).
    debated = window_features[["symbol", "as_of", *FEATURES_USED]]
    monthly = zip(months, *(split_by_month(frame, months) for frame in (
        bars, window_regimes, plans, proposals, outcomes_known, debated, news, sentiment)),
        strict=True)
    for month, month_bars, month_regimes, month_plans, month_proposals, known, month_features, \
            month_news, month_sentiment in progress(monthly, "trading loop", len(months),
                                                    unit="month"):
        # The events a month's decisions can see: those on its sessions and up to the
        # horizon after its last (each used only from its known_from).
        month_events = market_events_ahead[
            (market_events_ahead["as_of"] >= month.first)
            & (market_events_ahead["as_of"] <= month.last + EVENT_HORIZON)]
        digest = checkpoints.chain(month, previous, month_bars, month_regimes, month_plans,
                                   month_proposals, known, month_features, month_news,
                                   month_sentiment, month_events)
        previous = digest
        if checkpoints.can_skip(month, digest):
            continue
        if loop is None:  # the first month computed: continue from what the warehouse holds
            loop, previous_close, previous_day = _open_loop(
                store, month.first, window_features, window_regimes, plans, outcomes,
                regime_by_day, genomes, probation, rules, news, sentiment,
                market_events_ahead, reasoner.reasoner(rules), human)
        month_days = [d for d in days if month.first <= d <= month.last]
        previous_close = loop.run_days(month_days, month_bars, month_regimes,
                                       month_proposals, controls, previous_close, responses)
        result = loop.ledger.result
        frames = {"decisions": loop.output.decisions_frame(), **result.frames(),
                  "memories": loop.output.memories_frame(),
                  "role_weights": loop.output.role_weights_frame(),
                  "memory_audit": loop.output.memory_audit_frame(),
                  "changes": loop.output.changes_frame(),
                  "horizon_plans": loop.output.plans_frame(),
                  "framework_proposals": loop.output.proposals_frame()}
        if month == months[-1]:
            # Orders left pending at the window's end that a later window already
            # resolved keep that outcome: re-running a window rewrites no order row.
            frames["orders"] = with_later_resolutions(frames["orders"], store.query(
                "SELECT order_id, quantity, status, resolution, filled_quantity, "
                "unfilled_quantity, resolved_as_of FROM orders WHERE as_of BETWEEN ? AND ? "
                "AND resolved_as_of > ?", [month.first, month.last, month.last]))
        # Orders placed before this month and resolved in it: their rows are updated.
        checkpoints.stage(month, digest, frames,
                          updates={"orders": (result.earlier_orders_frame(), ["order_id"])})
        loop.start_new_batch()
    checkpoints.flush()
    yield from _results(store, start, end, previous_day, checkpoints.summary())


def _warehouse_state(store: Warehouse, first_day: date):
    """The ledger's stored state at the last close before ``first_day``, the memories
    formed before it with every taught memory (each recalled only after its day), and
    that close's day."""
    last = store.query("SELECT max(as_of) AS d FROM accounts WHERE as_of < ?", [first_day])
    previous = last["d"].iloc[0] if not last.empty else None
    if previous is None or pd.isna(previous):
        empty = pd.DataFrame()
        rows = (empty, empty, empty, empty)
        previous_day = None
    else:
        previous_day = pd.Timestamp(previous).date()
        accounts = store.query("SELECT * FROM accounts WHERE as_of = ? ORDER BY account",
                               [previous])
        # The running peak counts the starting capital as the first peak, as the ledger
        # does from day one.
        peaks = store.query(f"SELECT account, greatest(max(equity), {STARTING_CAPITAL}) "
                            "AS peak FROM accounts "
                            "WHERE as_of <= ? GROUP BY account ORDER BY account", [previous])
        positions = to_dates(store.query("SELECT * FROM positions WHERE as_of = ? "
                                         "ORDER BY account, symbol", [previous]),
                             "opened_as_of")
        # Orders accepted at that close fill at the next bar, which is after it. The
        # verdict at submission never changes, so they are rebuilt exactly even after a
        # later run wrote their outcome (a halt's orders, placed and resolved on that
        # day, are not pending).
        pending = store.query("SELECT * FROM orders WHERE as_of = ? AND verdict = 'accepted' "
                              "AND (resolved_as_of IS NULL OR resolved_as_of > ?) "
                              "ORDER BY sequence", [previous, previous])
        rows = (accounts, peaks, positions, pending)
    memories = to_dates(store.query("SELECT * FROM memories WHERE as_of < ? "
                                    "ORDER BY as_of, memory_id", [first_day]), "as_of")
    taught = to_dates(store.query("SELECT * FROM taught_memories ORDER BY as_of, memory_id"),
                      "as_of")
    if not taught.empty:
        memories = pd.concat([m for m in (memories, taught) if not m.empty], ignore_index=True)
    return rows, memories, previous_day


def _open_loop(store: Warehouse, first_day: date, features: pd.DataFrame,
               regimes: pd.DataFrame, plans: pd.DataFrame, outcomes: pd.DataFrame,
               regime_by_day: dict, genomes: dict[str, StrategyGenome],
               probation: Probation, rules: MarketRules, news: pd.DataFrame,
               sentiment: pd.DataFrame, events: pd.DataFrame,
               llm_reasoner: Reasoner | None = None, human: list[HumanDecision] | None = None
               ) -> tuple[TradingLoop, float, date | None]:
    """A trading loop that continues from the warehouse at ``first_day`` under the
    market's ``rules``: the ledger's state, the memories and the debates behind carried
    positions; and the benchmark's last close before it."""
    (accounts, peaks, positions, pending), memories, previous_day = \
        _warehouse_state(store, first_day)
    state = state_from_rows(accounts, dict(zip(peaks.get("account", []), peaks.get("peak", []),
                                               strict=True)), positions, pending)
    carried = sorted({p.decision_id for a in state.accounts.values()
                      for p in a.positions.values() if p.decision_id}
                     | {o.decision_id for o in state.pending if o.decision_id})
    # A memory quotes the debate's own confidence, as in an uninterrupted run.
    earlier_decisions = store.query(
        "SELECT decision_id, coalesce(raw_confidence, confidence) AS confidence, summary "
        "FROM decisions WHERE list_contains(?, decision_id)", [carried])
    last_benchmark = store.query("SELECT benchmark_close FROM regimes WHERE as_of < ? "
                                 "ORDER BY as_of DESC LIMIT 1", [first_day])
    previous_close = float(last_benchmark["benchmark_close"].iloc[0]) \
        if not last_benchmark.empty else math.nan
    loop = trading_loop(features, regimes, plans, outcomes, regime_by_day, state, memories,
                        earlier_decisions, genomes=genomes, probation=probation,
                        rules=rules, news=news, sentiment=sentiment, events=events,
                        reasoner=llm_reasoner,
                        calibration=_stored_calibration(store, first_day),
                        knowledge=_stored_knowledge(store, first_day, regimes),
                        reflection=_stored_reflection(
                            store, first_day, previous_day, reflection_cycle(
                                features, regimes, rules, genomes, regime_by_day, events,
                                human or [])))
    # Promotions and forgettings up to that close are audited already.
    loop.memory.reviewed_through = previous_day
    return loop, previous_close, previous_day


def _stored_knowledge(store: Warehouse, first_day: date,
                      regimes: pd.DataFrame) -> KnowledgeGraph:
    """The knowledge graph as the trades and regimes known by the close before
    ``first_day`` left it, with the window's regimes (a trade closed in the window learns
    the regime of the day it opened). Without event moves: the loop learns trades day by
    day, and a graph resumed at any month must equal the uninterrupted one's (the
    ``knowledge_graph`` asset adds the event moves after the loop)."""
    graph = knowledge_through(store, first_day - timedelta(days=1), events=False)
    graph.add_regimes(regimes[["as_of", "regime"]])
    return graph


def _stored_reflection(store: Warehouse, first_day: date, previous_day: date | None,
                       cycle: ReflectionCycle) -> ReflectionCycle:
    """The reviews' state as the stored rows before ``first_day`` left it: the combined
    account's trades and days, the decisions that sized entries, the changes, proposals
    and the latest plan of each horizon."""
    before = [first_day]
    trades = to_dates(store.query(
        "SELECT as_of, trade_id, account, symbol, strategy_id, opened_as_of, pnl, return_pct, "
        "holding_days, entry_price, exit_price, decision_id FROM trades "
        "WHERE as_of < ? AND account = 'combined' ORDER BY as_of, trade_id", before),
        "as_of", "opened_as_of")
    accounts = to_dates(store.query(
        "SELECT as_of, account, equity, cash, gross_exposure, daily_return, drawdown, "
        "benchmark_close FROM accounts WHERE as_of < ? AND account = 'combined' "
        "ORDER BY as_of", before), "as_of")
    entries = to_dates(store.query(
        "SELECT as_of, decision_id, strategy_id, weight_combined, "
        "coalesce(changes_applied, '[]') AS changes_applied FROM decisions "
        "WHERE as_of < ? AND weight_combined > 0 ORDER BY as_of, decision_id", before),
        "as_of")
    changes = changes_from_rows(store.query(
        "SELECT * FROM changes WHERE as_of < ? ORDER BY as_of, change_id", before))
    proposals = proposals_from_rows(store.query(
        "SELECT * FROM framework_proposals WHERE as_of < ? ORDER BY as_of, proposal_id",
        before))
    plans = to_dates(store.query("SELECT * FROM horizon_plans WHERE as_of < ? "
                                 "ORDER BY as_of, plan_id", before), "as_of")
    cycle.restore(previous_day, trades, accounts, entries, changes, proposals, plans)
    return cycle


def _stored_calibration(store: Warehouse, first_day: date) -> JudgeCalibration:
    """The judge's calibration as the stored decisions and closed trades before
    ``first_day`` left it (a row stored before raw confidence was kept: its confidence)."""
    before = [first_day]
    decisions = to_dates(store.query(
        "SELECT as_of, decision_id, coalesce(raw_confidence, confidence) AS raw_confidence "
        "FROM decisions WHERE as_of < ? ORDER BY as_of, decision_id", before), "as_of")
    trades = to_dates(store.query(
        "SELECT as_of, trade_id, account, decision_id, pnl FROM trades WHERE as_of < ? "
        "ORDER BY as_of, trade_id", before), "as_of")
    regimes = to_dates(store.query("SELECT as_of, regime FROM regimes WHERE as_of < ?",
                                   before), "as_of")
    regime_by_day = dict(zip(regimes.get("as_of", []), regimes.get("regime", []),
                             strict=True))
    return JudgeCalibration.rebuild(decisions, trades, regime_by_day)


def _results(store: Warehouse, start: date, end: date, previous_day: date | None,
             progress_summary: dict[str, int]):
    """Each asset's metadata, read back from what the window holds in the warehouse (the
    months computed now and those a resumed run kept)."""
    common = {"window": f"{start}..{end}", "continued_from": str(previous_day),
              **progress_summary}

    def read(sql: str) -> pd.DataFrame:
        return store.query(sql, [start, end])

    counts = {table: int(read(f"SELECT count(*) AS n FROM {table} "
                              "WHERE as_of BETWEEN ? AND ?")["n"].iloc[0])
              for table in set(TABLES.values())}
    verdicts = read("SELECT verdict, count(*) AS n FROM decisions WHERE as_of BETWEEN ? AND ? "
                    "GROUP BY verdict ORDER BY verdict")
    used = read("SELECT count(*) AS n FROM decisions WHERE as_of BETWEEN ? AND ? "
                "AND memories_used <> '[]'")["n"].iloc[0]
    statuses = read("SELECT status, count(*) AS n FROM orders WHERE as_of BETWEEN ? AND ? "
                    "GROUP BY status ORDER BY status")
    verdicts_at_submission = read("SELECT verdict, count(*) AS n FROM orders "
                                  "WHERE as_of BETWEEN ? AND ? GROUP BY verdict ORDER BY verdict")
    final = read("SELECT account, equity FROM accounts WHERE as_of = (SELECT max(as_of) FROM "
                 "accounts WHERE as_of BETWEEN ? AND ?) ORDER BY account")
    equity = {r.account: round(r.equity, 2) for r in final.itertuples()}
    pnl = read("SELECT coalesce(sum(pnl), 0) AS pnl FROM trades WHERE as_of BETWEEN ? AND ?")
    tiers = read("SELECT tier, count(*) AS n FROM memories WHERE as_of BETWEEN ? AND ? "
                 "GROUP BY tier ORDER BY tier")
    recent = to_dates(read("SELECT as_of, symbol, verdict, confidence, summary FROM decisions "
                           "WHERE as_of BETWEEN ? AND ? ORDER BY as_of DESC, decision_id "
                           "LIMIT 10"), "as_of")
    recent_memories = to_dates(read(
        "SELECT as_of, symbol, importance, tier, text FROM memories WHERE as_of BETWEEN ? "
        "AND ? ORDER BY as_of DESC, memory_id LIMIT 10"), "as_of")

    def by(frame: pd.DataFrame, key: str) -> MetadataValue:
        return MetadataValue.json(dict(zip(frame[key], frame["n"].astype(int), strict=True))
                                  if not frame.empty else {})

    reasoners = read("SELECT reasoner, coalesce(model, '') AS model, "
                     "coalesce(fallback_reason, '') AS fallback_reason, count(*) AS n, "
                     "sum(llm_calls) AS calls, sum(cache_hits) AS cache_hits, "
                     "sum(prompt_tokens + completion_tokens) AS tokens, sum(llm_cost) AS cost "
                     "FROM decisions WHERE as_of BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL")
    yield MaterializeResult(asset_key="debate_decisions", metadata={
        **common, "rows": counts["decisions"], "decisions_recalling_memories": int(used),
        "verdicts": by(verdicts, "verdict"), "preview": markdown_preview(recent),
        # Who argued the window's decisions, why any fell back, and what the LLM cost.
        "reasoners": markdown_preview(reasoners),
        "llm_calls": int(reasoners["calls"].sum()) if not reasoners.empty else 0,
        "llm_cache_hits": int(reasoners["cache_hits"].sum()) if not reasoners.empty else 0,
        "llm_tokens": int(reasoners["tokens"].sum()) if not reasoners.empty else 0,
        "llm_cost_usd": round(float(reasoners["cost"].sum()), 4) if not reasoners.empty
        else 0.0})
    yield MaterializeResult(asset_key="risk_checked_orders", metadata={
        **common, "rows": counts["orders"], "status": by(statuses, "status"),
        "verdict": by(verdicts_at_submission, "verdict")})
    yield MaterializeResult(asset_key="paper_fills", metadata={**common,
                                                               "rows": counts["fills"]})
    yield MaterializeResult(asset_key="positions", metadata={**common,
                                                             "rows": counts["positions"]})
    yield MaterializeResult(asset_key="account_values", metadata={
        **common, "rows": counts["accounts"],
        **{f"equity_{a}": equity.get(a, 0.0) for a in ACCOUNTS},
        "pnl_combined": round(equity.get("combined", STARTING_CAPITAL) - STARTING_CAPITAL, 2)})
    yield MaterializeResult(asset_key="closed_trades", metadata={
        **common, "rows": counts["trades"], "pnl": round(float(pnl["pnl"].iloc[0]), 2)})
    yield MaterializeResult(asset_key="trade_memories", metadata={
        **common, "rows": counts["memories"], "tiers": by(tiers, "tier"),
        "preview": markdown_preview(recent_memories)})
    weights = to_dates(read("SELECT * FROM role_weights WHERE as_of BETWEEN ? AND ? "
                            "ORDER BY as_of DESC, regime, role LIMIT 12"), "as_of")
    yield MaterializeResult(asset_key="judge_role_weights", metadata={
        **common, "rows": counts["role_weights"], "latest": markdown_preview(weights, 12)})
    audit = read("SELECT event, count(*) AS n FROM memory_audit WHERE as_of BETWEEN ? AND ? "
                 "GROUP BY event ORDER BY event")
    yield MaterializeResult(asset_key="memory_audit", metadata={
        **common, "rows": counts["memory_audit"], "events": by(audit, "event")})
    kinds = read("SELECT kind, count(*) AS n FROM changes WHERE as_of BETWEEN ? AND ? "
                 "GROUP BY kind ORDER BY kind")
    latest_changes = to_dates(read(
        "SELECT as_of, kind, target, old_value, new_value, review, effective_from "
        "FROM changes WHERE as_of BETWEEN ? AND ? ORDER BY as_of DESC, change_id LIMIT 10"),
        "as_of", "effective_from")
    yield MaterializeResult(asset_key="review_changes", metadata={
        **common, "rows": counts["changes"], "kinds": by(kinds, "kind"),
        "latest": markdown_preview(latest_changes)})
    for key, horizon in PLAN_HORIZONS.items():
        plans = to_dates(store.query(
            "SELECT as_of, period, reason, regime, targets FROM horizon_plans "
            "WHERE as_of BETWEEN ? AND ? AND horizon = ? ORDER BY as_of DESC, plan_id",
            [start, end, horizon]), "as_of")
        yield MaterializeResult(asset_key=key, metadata={
            **common, "rows": len(plans),
            "replans": int(plans["reason"].str.startswith("replan").sum())
            if not plans.empty else 0,
            "latest": markdown_preview(plans.head(5))})
    proposals = to_dates(read("SELECT as_of, proposal_id, title, expires_on FROM "
                              "framework_proposals WHERE as_of BETWEEN ? AND ? "
                              "ORDER BY as_of DESC, proposal_id"), "as_of", "expires_on")
    yield MaterializeResult(asset_key="framework_proposals", metadata={
        **common, "rows": counts["framework_proposals"],
        "latest": markdown_preview(proposals.head(10))})
