"""The risk engine: each rule on its own, then the whole chain."""

from __future__ import annotations

from datetime import date

import pytest

from trade_pipelines.agent.execution.controls import TradingState
from trade_pipelines.agent.execution.risk import (
    AccountView,
    CircuitBreaker,
    DefensiveMode,
    EventBlackout,
    LeverageAndCash,
    MarketView,
    OrderRequest,
    RiskLimits,
    RiskPerTrade,
    SellOnlyWhatIsHeld,
    SymbolConcentration,
    TradingStateGate,
    check_order,
)

EQUITY = 1_000_000.0
CALM = MarketView()
FLAT = AccountView(cash=EQUITY, equity=EQUITY, gross_exposure=0.0)
HOLDING = AccountView(cash=EQUITY - 20_000, equity=EQUITY, gross_exposure=20_000.0,
                      position_value={"AAA": 20_000.0}, position_quantity={"AAA": 200.0})


def buy(quantity: float = 100, price: float = 100.0, stop: float = 0.08,
        symbol: str = "AAA") -> OrderRequest:
    return OrderRequest("combined", symbol, "buy", quantity, price, stop, "entry", "D-1")


def sell(quantity: float = 100, symbol: str = "AAA") -> OrderRequest:
    return OrderRequest("combined", symbol, "sell", quantity, 100.0, 0.0, "stop_loss")


def test_a_small_buy_passes_every_rule() -> None:
    verdict = check_order(buy(), FLAT, CALM)
    assert (verdict.status, verdict.quantity) == ("accepted", 100.0)
    assert verdict.reason == "within all limits"
    assert verdict.warnings == ()


@pytest.mark.parametrize("mode", ["paused", "halted"])
def test_paused_or_halted_refuses_entries_with_the_supervisors_reason(mode: str) -> None:
    market = MarketView(trading=TradingState(mode, date(2024, 3, 4), "review of fills", "bob"))
    for rules in ((TradingStateGate(),), None):
        verdict = check_order(buy(), HOLDING, market, **({"rules": rules} if rules else {}))
        assert verdict.status == "rejected"
        assert verdict.quantity == 0.0
        assert verdict.reason == (f"entry refused: trading {mode} from 2024-03-04 by bob: "
                                  "review of fills")


@pytest.mark.parametrize("mode", ["paused", "halted"])
def test_paused_or_halted_still_lets_protective_exits_through(mode: str) -> None:
    market = MarketView(trading=TradingState(mode, date(2024, 3, 4), "review", "bob"))
    for rules in ((TradingStateGate(),), None):
        verdict = check_order(sell(), HOLDING, market, **({"rules": rules} if rules else {}))
        assert (verdict.status, verdict.quantity) == ("accepted", 100.0)


def test_a_pause_without_a_reason_still_says_paused() -> None:
    market = MarketView(trading=TradingState("paused", date(2024, 3, 4), "", "bob"))
    verdict = check_order(buy(), FLAT, market)
    assert verdict.status == "rejected"
    assert "paused" in verdict.reason and "no reason given" in verdict.reason


def test_circuit_breaker_freezes_buys_on_a_minus_10_percent_benchmark_day() -> None:
    for rules in ((CircuitBreaker(),), None):
        kwargs = {"rules": rules} if rules else {}
        crash = check_order(buy(), FLAT, MarketView(benchmark_return=-0.10), **kwargs)
        assert crash.status == "rejected"
        assert "circuit breaker" in crash.reason
        assert check_order(buy(), FLAT, MarketView(benchmark_return=-0.099),
                           **kwargs).status == "accepted"
    # selling into a crash is still allowed
    out = check_order(sell(), HOLDING, MarketView(benchmark_return=-0.15))
    assert (out.status, out.quantity) == ("accepted", 100.0)


def test_defensive_mode_blocks_new_longs_but_not_exits() -> None:
    market = MarketView(defensive=True)
    refused = check_order(buy(), FLAT, market, rules=(DefensiveMode(),))
    assert refused.status == "rejected"
    assert "defensive" in refused.reason
    assert check_order(buy(), FLAT, market).status == "rejected"
    assert check_order(sell(), HOLDING, market).status == "accepted"


def test_event_blackout_refuses_entries_into_the_name_and_scales_market_wide() -> None:
    market = MarketView(event_blackout=frozenset({"AAA"}))
    refused = check_order(buy(), FLAT, market, rules=(EventBlackout(),))
    assert refused.status == "rejected"
    assert "event blackout: no new entries into AAA" in refused.reason
    assert check_order(buy(symbol="BBB"), FLAT, market).status == "accepted"
    assert check_order(sell(), HOLDING, market).status == "accepted"  # exits pass
    halved = check_order(buy(quantity=101), FLAT, MarketView(event_size_scale=0.5))
    assert (halved.status, halved.quantity) == ("accepted", 50.0)
    assert "event response: new sizes scaled to 50%" in halved.reason


def test_no_selling_what_is_not_held() -> None:
    for rules in ((SellOnlyWhatIsHeld(),), None):
        kwargs = {"rules": rules} if rules else {}
        nothing = check_order(sell(symbol="ZZZ"), HOLDING, CALM, **kwargs)
        assert nothing.status == "rejected"
        assert "ZZZ" in nothing.reason
        too_much = check_order(sell(500), HOLDING, CALM, **kwargs)
        assert (too_much.status, too_much.quantity) == ("accepted", 200.0)


def test_risk_per_trade_caps_the_loss_at_the_stop_at_5_percent_of_equity() -> None:
    order = buy(quantity=100_000, price=100.0, stop=0.10)
    verdict = check_order(order, FLAT, CALM, rules=(RiskPerTrade(),))
    assert verdict.quantity == 5_000  # 5% of 1M over 10 a share at the stop
    assert verdict.quantity * order.price * order.stop_loss <= 0.05 * EQUITY
    assert "risk per trade" in verdict.reason
    wider = check_order(buy(quantity=100_000, stop=0.25), FLAT, CALM, rules=(RiskPerTrade(),))
    assert wider.quantity == 2_000
    limits = RiskLimits(max_risk_per_trade=0.01)
    tighter = check_order(order, FLAT, CALM, limits, rules=(RiskPerTrade(),))
    assert tighter.quantity == 1_000


def test_risk_per_trade_rejects_when_one_share_risks_too_much() -> None:
    small = AccountView(cash=100.0, equity=100.0, gross_exposure=0.0)
    verdict = check_order(buy(quantity=1, price=1_000.0, stop=0.5), small, CALM,
                          rules=(RiskPerTrade(),))
    assert verdict.status == "rejected"


def test_symbol_weight_capped_at_30_percent() -> None:
    holding = AccountView(cash=750_000.0, equity=EQUITY, gross_exposure=250_000.0,
                          position_value={"AAA": 250_000.0},
                          position_quantity={"AAA": 2_500.0})
    verdict = check_order(buy(quantity=10_000, stop=0.01), holding, CALM,
                          rules=(SymbolConcentration(),))
    assert verdict.quantity == 500  # 300k cap less 250k held, at 100 a share
    assert "30%" in verdict.reason
    # the full chain ends at the same cap
    chained = check_order(buy(quantity=10_000, stop=0.01), holding, CALM)
    assert chained.quantity == 500
    assert 250_000 + chained.quantity * 100 <= 0.30 * EQUITY
    full = AccountView(cash=650_000.0, equity=EQUITY, gross_exposure=350_000.0,
                       position_value={"AAA": 350_000.0}, position_quantity={"AAA": 3_500})
    assert check_order(buy(), full, CALM).status == "rejected"
    # another symbol is not affected by AAA's weight
    assert check_order(buy(symbol="BBB"), full, CALM).status == "accepted"


def test_buys_never_spend_more_than_the_cash() -> None:
    low_cash = AccountView(cash=100_000.0, equity=EQUITY, gross_exposure=900_000.0,
                           position_value={"BBB": 900_000.0},
                           position_quantity={"BBB": 9_000.0})
    verdict = check_order(buy(quantity=2_000, stop=0.01), low_cash, CALM,
                          rules=(LeverageAndCash(),))
    assert verdict.quantity == 1_000
    assert "cash" in verdict.reason
    no_cash = AccountView(cash=50.0, equity=EQUITY, gross_exposure=EQUITY - 50)
    assert check_order(buy(), no_cash, CALM).status == "rejected"


def test_leverage_caps_gross_exposure() -> None:
    margin = AccountView(cash=500_000.0, equity=EQUITY, gross_exposure=1_400_000.0)
    verdict = check_order(buy(quantity=5_000, stop=0.01), margin, CALM,
                          rules=(LeverageAndCash(),))
    assert verdict.quantity == 1_000  # 1.5M cap less 1.4M gross, at 100 a share


def test_warning_when_cash_falls_below_10_percent() -> None:
    account = AccountView(cash=150_000.0, equity=EQUITY, gross_exposure=850_000.0,
                          position_value={"BBB": 850_000.0},
                          position_quantity={"BBB": 8_500.0})
    warned = check_order(buy(quantity=600, stop=0.01), account, CALM)
    assert warned.status == "accepted"
    assert len(warned.warnings) == 1 and "10%" in warned.warnings[0]
    fine = check_order(buy(quantity=400, stop=0.01), account, CALM)
    assert fine.status == "accepted" and fine.warnings == ()
    # selling raises cash; it is never warned about
    assert check_order(sell(), HOLDING, CALM).warnings == ()


def test_trims_are_reported_and_quantities_only_shrink() -> None:
    verdict = check_order(buy(quantity=1_000_000, price=100.0, stop=0.05), FLAT, CALM)
    assert verdict.status == "accepted"
    # risk: 50k / 5 = 10,000 shares; weight: 300k / 100 = 3,000 shares
    assert verdict.quantity == 3_000
    assert "risk per trade" in verdict.reason and "30%" in verdict.reason
