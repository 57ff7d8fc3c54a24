"""The Definitions load, and the graph's shape is what the README documents."""

from __future__ import annotations

from trade_pipelines.definitions import defs

EXPECTED_ASSETS = {
    "market_bars", "market_features", "market_regime", "strategy_gene_pool",
    "strategy_evaluations", "daily_plans", "trade_proposals", "debate_decisions",
    "risk_checked_orders", "paper_fills", "positions", "account_values", "closed_trades",
    "trade_memories", "memory_index", "daily_reports",
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


def test_ledger_and_memory_depend_on_their_previous_month() -> None:
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


def test_bars_carry_a_blocking_quality_check() -> None:
    from trade_pipelines.assets.market import market_bars

    checks = {(c.asset_key.to_user_string(), c.name): c for c in market_bars.check_specs}
    assert checks[("market_bars", "bars_pass_quality_suite")].blocking
    assert not checks[("market_bars", "no_suspicious_jumps")].blocking


def _key(name: str):
    from dagster import AssetKey

    return AssetKey(name)


def test_the_evening_schedule_targets_the_month_in_progress() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from dagster import build_schedule_context

    schedule = {s.name: s for s in defs.schedules}["review_after_close"]
    moment = datetime(2024, 3, 14, 17, 0, tzinfo=ZoneInfo("America/New_York"))
    context = build_schedule_context(scheduled_execution_time=moment,
                                     repository_def=defs.get_repository_def())
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2024-03-01"
    assert request.run_key == "cycle-2024-03-14"  # one run per session, never two


def test_the_project_dagster_home_turns_telemetry_off(project_home) -> None:
    import yaml

    from trade_pipelines.settings import paths

    config = yaml.safe_load((paths().dagster_home / "dagster.yaml").read_text())
    assert config["telemetry"]["enabled"] is False
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "op"}


def test_the_inbox_sensor_launches_the_import_job() -> None:
    sensors = {s.name: s for s in defs.sensors}
    assert sensors["bar_file_inbox"].job_name == "import_bars_job"
