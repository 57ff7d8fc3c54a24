"""The Definitions load, and the graph's shape is what the README documents."""

from __future__ import annotations

from datetime import date

import pandas as pd

from trade_pipelines.definitions import defs

EXPECTED_ASSETS = {
    "market_bars", "market_features", "market_regime", "strategy_gene_pool",
    "strategy_evaluations", "daily_plans", "trade_proposals", "debate_decisions",
    "risk_checked_orders", "paper_fills", "positions", "account_values", "closed_trades",
    "trade_memories", "memory_index", "daily_reports", "walk_forward_scoreboard",
    "market_sentiment", "market_anomalies", "market_events", "news_sentiment",
    "knowledge_graph", "judge_role_weights", "memory_audit",
    "review_changes", "weekly_plans", "monthly_plans", "quarterly_plans", "framework_proposals",
    "horizon_reviews",
}


def test_definitions_load_with_the_whole_graph() -> None:
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert set(specs) == EXPECTED_ASSETS


def test_lineage_runs_from_bars_to_report() -> None:
    graph = defs.resolve_asset_graph()
    def upstream(key: str) -> set[str]:
        seen: set[str] = set()
        frontier = [key]
        while frontier:
            node = graph.get(_key(frontier.pop()))
            for parent in node.parent_keys:
                name = parent.to_user_string()
                if name not in seen:
                    seen.add(name)
                    frontier.append(name)
        return seen

    chain = upstream("daily_reports")
    for layer in ("market_bars", "market_features", "market_regime", "daily_plans",
                  "trade_proposals", "debate_decisions", "risk_checked_orders", "paper_fills",
                  "account_values", "trade_memories", "strategy_evaluations"):
        assert layer in chain, f"{layer} is not upstream of daily_reports"


def test_ledger_and_memory_depend_on_their_previous_partition() -> None:
    graph = defs.resolve_asset_graph()
    for name in ("account_values", "trade_memories"):
        assert _key(name) in graph.get(_key(name)).parent_keys
    assert _key("trade_memories") in graph.get(_key("memory_index")).parent_keys


def test_schedules_and_jobs() -> None:
    schedules = {s.name: s for s in defs.schedules}
    assert schedules["plan_before_open"].cron_schedule == "0 7 * * 1-5"
    assert schedules["review_after_close"].cron_schedule == "0 17 * * 1-5"
    assert schedules["weekly_gene_pool_evaluation"].cron_schedule == "0 18 * * 5"
    for schedule in schedules.values():
        assert schedule.execution_timezone == "America/New_York"
    assert {j.name for j in defs.jobs} >= {"daily_cycle", "morning_plan",
                                           "weekly_gene_pool_evaluation"}


def test_the_hourly_bar_self_check_is_defined_and_stopped_by_default() -> None:
    from dagster import AssetCheckKey, AssetKey, DefaultScheduleStatus

    schedule = next(s for s in defs.schedules if s.name == "hourly_bar_self_check")
    assert schedule.cron_schedule == "0 * * * *"
    assert schedule.job_name == "bar_self_check"
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    job = defs.resolve_job_def("bar_self_check")
    check = AssetCheckKey(AssetKey("market_bars"), "stored_bars_self_check")
    assert job.asset_layer.asset_graph.asset_check_keys >= {check}
    from trade_pipelines.assets.market import stored_bars_self_check

    assert [spec.blocking for spec in stored_bars_self_check.check_specs] == [False]
    # The cycle's runs do not carry the self-check: it has its own job.
    assert "market_bars_stored_bars_self_check" not in {
        n.name for n in defs.resolve_job_def("daily_cycle").nodes}


def test_bars_carry_a_blocking_quality_check() -> None:
    from trade_pipelines.assets.market import market_bars

    checks = {(c.asset_key.to_user_string(), c.name): c for c in market_bars.check_specs}
    assert checks[("market_bars", "bars_pass_quality_suite")].blocking
    assert not checks[("market_bars", "no_suspicious_jumps")].blocking


def _key(name: str):
    from dagster import AssetKey

    return AssetKey(name)


def test_the_evening_schedule_targets_the_year_in_progress_up_to_the_session(
        project_home) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from dagster import build_schedule_context

    from trade_pipelines.assets.common import LAST_DAY_TAG
    from trade_pipelines.definitions import build_resources
    from trade_pipelines.settings import Paths
    from trade_pipelines.warehouse import Warehouse

    schedule = {s.name: s for s in defs.schedules}["review_after_close"]
    store = Warehouse(Paths(project_home).warehouse)
    store.migrate()
    store.append("bars", pd.DataFrame({
        "symbol": ["ZZA"], "as_of": [date(2024, 3, 14)], "close": [10.0],
        "source": ["import:zza.csv"], "available_at": [datetime(2024, 3, 14, 20)]}))
    moment = datetime(2024, 3, 14, 17, 0, tzinfo=ZoneInfo("America/New_York"))
    with build_schedule_context(
            scheduled_execution_time=moment, repository_def=defs.get_repository_def(),
            resources=build_resources(source="warehouse", symbols="ZZA")) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2024-01-01"
    assert request.run_key == "cycle-2024-03-14"  # one run per session, never two
    assert request.tags[LAST_DAY_TAG] == "2024-03-14"  # the year up to the session


def test_resources_carry_their_configuration_as_fields(monkeypatch, tmp_path) -> None:
    import pytest

    from trade_pipelines.definitions import build_resources

    monkeypatch.setenv("TRADE_PIPELINES_HOME", str(tmp_path))
    monkeypatch.setenv("TRADE_PIPELINES_SOURCE", "yfinance")
    monkeypatch.setenv("TRADE_PIPELINES_SYMBOLS", "msft, aapl")
    resources = build_resources()
    assert resources["warehouse"].home == str(tmp_path)
    assert resources["memory_index"].home == str(tmp_path)
    assert resources["market_data"].source == "yfinance"
    assert resources["market_data"].universe() == ["AAPL", "MSFT"]
    # Read once, where they are built: changing the environment later changes nothing.
    monkeypatch.setenv("TRADE_PIPELINES_HOME", str(tmp_path / "elsewhere"))
    assert resources["warehouse"].paths().home == tmp_path
    monkeypatch.setenv("TRADE_PIPELINES_SOURCE", "bloomberg")
    with pytest.raises(ValueError, match="unknown market data source 'bloomberg'"):
        build_resources()


# The whole graph, so an accidental change shows up in review: each asset with its
# parents, the checks, each job's steps, schedules and sensors with their jobs and
# resources, and each resource's configuration fields.
SNAPSHOT = {
    "assets": {
        "account_values": ["account_values", "positions"],
        "closed_trades": ["paper_fills"],
        "daily_plans": ["market_events", "market_features", "market_regime"],
        "daily_reports": ["account_values", "closed_trades", "daily_plans",
                          "debate_decisions", "paper_fills", "strategy_evaluations",
                          "trade_memories"],
        "debate_decisions": ["daily_plans", "market_events", "market_features",
                             "market_regime", "market_sentiment", "news_sentiment",
                             "trade_proposals"],
        "framework_proposals": ["closed_trades", "framework_proposals", "review_changes"],
        "horizon_reviews": ["account_values", "closed_trades", "daily_reports",
                            "debate_decisions", "framework_proposals", "monthly_plans",
                            "paper_fills", "quarterly_plans", "review_changes",
                            "trade_memories", "weekly_plans"],
        "judge_role_weights": ["closed_trades", "judge_role_weights"],
        "knowledge_graph": ["closed_trades", "market_events", "market_regime",
                            "trade_memories"],
        "market_anomalies": ["market_bars", "market_features"],
        "market_bars": [],
        "market_events": ["market_bars"],
        "market_features": ["market_bars"],
        "market_regime": ["market_bars", "market_features"],
        "market_sentiment": ["market_bars", "market_features"],
        "memory_audit": ["memory_audit", "trade_memories"],
        "memory_index": ["trade_memories"],
        "monthly_plans": ["account_values", "closed_trades", "monthly_plans"],
        "news_sentiment": [],
        "paper_fills": ["risk_checked_orders"],
        "positions": ["paper_fills"],
        "quarterly_plans": ["account_values", "market_regime", "quarterly_plans"],
        "review_changes": ["account_values", "closed_trades", "debate_decisions",
                           "review_changes"],
        "risk_checked_orders": ["debate_decisions", "market_bars"],
        "strategy_evaluations": ["market_features", "market_regime", "market_sentiment",
                                 "strategy_gene_pool"],
        "strategy_gene_pool": [],
        "trade_memories": ["closed_trades", "debate_decisions", "trade_memories"],
        "trade_proposals": ["market_features", "market_regime", "market_sentiment",
                            "strategy_evaluations"],
        "walk_forward_scoreboard": [],
        "weekly_plans": ["closed_trades", "market_events", "weekly_plans"],
    },
    "checks": ["debate_decisions.llm_counterfactual_probe", "debate_decisions.llm_recall_probe",
               "market_bars.bars_pass_quality_suite", "market_bars.no_suspicious_jumps",
               "market_bars.stored_bars_self_check"],
    "jobs": {
        "bar_self_check": ["market_bars_stored_bars_self_check"],
        "daily_cycle": ["daily_plans", "daily_reports", "daily_trading_loop",
                        "debate_decisions_llm_counterfactual_probe",
                        "debate_decisions_llm_recall_probe", "horizon_reviews",
                        "knowledge_graph",
                        "market_anomalies", "market_bars", "market_events",
                        "market_features", "market_regime", "market_sentiment",
                        "memory_index", "news_sentiment", "strategy_evaluations",
                        "trade_proposals"],
        "fetch_news_job": ["fetch_news_feeds"],
        "import_bars_job": ["import_bar_file"],
        "morning_plan": ["daily_plans", "market_bars", "market_events", "market_features",
                         "market_regime"],
        "periodic_reviews": ["daily_reports", "horizon_reviews"],
        "seed_gene_pool": ["strategy_gene_pool"],
        "walk_forward_evaluation": ["walk_forward_scoreboard"],
        "weekly_gene_pool_evaluation": ["strategy_evaluations"],
    },
    "schedules": {
        "plan_before_open": ("0 7 * * 1-5", "morning_plan", ["market_data", "warehouse"]),
        "review_after_close": ("0 17 * * 1-5", "daily_cycle", ["market_data", "warehouse"]),
        "weekly_gene_pool_evaluation": ("0 18 * * 5", "weekly_gene_pool_evaluation",
                                        ["market_data", "warehouse"]),
        "weekly_review": ("30 18 * * 1-5", "periodic_reviews", ["market_data", "warehouse"]),
        "monthly_review": ("30 18 * * 1-5", "periodic_reviews", ["market_data", "warehouse"]),
        "quarterly_review": ("30 18 * * 1-5", "periodic_reviews",
                             ["market_data", "warehouse"]),
        "hourly_bar_self_check": ("0 * * * *", "bar_self_check", []),
    },
    "sensors": {"bar_file_inbox": ("import_bars_job", ["warehouse"]),
                "news_feeds": ("fetch_news_job", [])},
    "resources": {
        "market_data": ["home", "market", "source", "symbols"],
        "memory_index": ["home"],
        "reasoner": ["anonymise", "base_url", "concurrency", "daily_tokens",
                     "daily_usd", "deep_knowledge_cutoff", "deep_model", "home",
                     "knowledge_cutoff", "model", "prices", "timeout"],
        "warehouse": ["home"],
    },
}


def test_the_graph_matches_its_snapshot() -> None:
    graph = defs.resolve_asset_graph()
    keys = sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
    snapshot = {
        "assets": {k.to_user_string(): sorted(p.to_user_string()
                                              for p in graph.get(k).parent_keys)
                   for k in keys},
        "checks": sorted(f"{c.asset_key.to_user_string()}.{c.name}"
                         for c in graph.asset_check_keys),
        "jobs": {j.name: sorted(n.name for n in j.nodes)
                 for j in defs.resolve_all_job_defs() if not j.name.startswith("__")},
        "schedules": {s.name: (s.cron_schedule, s.job_name, sorted(s.required_resource_keys))
                      for s in defs.schedules},
        "sensors": {s.name: (s.job_name, sorted(s.required_resource_keys))
                    for s in defs.sensors},
        "resources": {k: sorted(type(v).model_fields) for k, v in defs.resources.items()},
    }
    assert snapshot == SNAPSHOT


def test_the_project_dagster_home_turns_telemetry_off(project_home) -> None:
    import yaml

    from trade_pipelines.settings import paths

    config = yaml.safe_load((paths().dagster_home / "dagster.yaml").read_text())
    assert config["telemetry"]["enabled"] is False
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "op"}


def test_the_inbox_sensor_launches_the_import_job() -> None:
    sensors = {s.name: s for s in defs.sensors}
    assert sensors["bar_file_inbox"].job_name == "import_bars_job"
