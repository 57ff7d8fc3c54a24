"""Live bars from an ordered chain of sources per market, scored, with failover and a cache.

Each market has its sources in order of preference (:data:`CHAINS`): US stocks and crypto
from yfinance; A-shares from akshare, then tushare; Hong Kong from akshare, then yfinance.
For each symbol the chain asks the first source that handles it and scores the answer
(:func:`score_bars`, 0 to 1):

- gaps: sessions of the market's calendar in the window (closed by now) with no bar,
  as a share of those sessions, plus bars dated on days that are no session;
- staleness: closed sessions after the last bar (one is tolerated at a small cost:
  a source may publish late; two fall below the threshold);
- latency beyond a budget;
- disagreement: the last overlapping closes of a second source compared, the share
  differing by more than a tolerance;
- jumps that betray an unadjusted split or dividend (:func:`unadjusted_jumps`): a move
  beyond the market's daily price limit, or one matching a split ratio.

A jump left in the chosen answer is never traded on: the bars before it (on the old
share basis) are set aside (``ChainResult.set_aside``, quarantined by the loader with
the reason) and only the bars from the jump on are served.

A source that raises, or scores below the threshold, is followed by the next one; the
best answer wins (the earlier source on a tie). When a second source is available its
answer is the cross-check; a disagreement lowers both scores and is reported (which one
is right cannot be told from two). A source that cannot be reached at all
(``SourceUnreachable``: no network, a time-out, no token) is not asked again for the
other symbols of the same fetch, so an outage costs one time-out, not one per symbol.

Every answer that is chosen is written to a local cache (parquet under the home,
``cache/<source>/<symbol>.parquet``). When every source fails for a symbol the cached
bars serve, with a warning, and the result says "served from cache"; only a symbol with
neither a source nor a cache is unavailable. A bar of a session that has not closed yet
(a live quote dressed as a daily bar) is dropped: it is not a bar until the close.

Dagster-free; the scoring functions are pure and take the clock as an argument.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from trade_pipelines.agent.markets import market_rules
from trade_pipelines.agent.perception.validation import REASON_IMPLAUSIBLE, split_suspects
from trade_pipelines.market_data import bars_available_at
from trade_pipelines.market_data.calendar import exchange_sessions
from trade_pipelines.market_data.errors import DataSourceUnavailable, SourceUnreachable

# Sources in order of preference, per market.
CHAINS: dict[str, tuple[str, ...]] = {
    "us": ("yfinance",),
    "cn": ("akshare", "tushare"),
    "hk": ("akshare", "yfinance"),
    "crypto": ("yfinance",),
}
QUALITY_COLUMNS = ["fetched_at", "as_of", "market", "symbol", "source", "rank", "outcome",
                   "score", "latency_s", "rows", "expected", "gaps", "off_calendar",
                   "stale_sessions", "jumps", "compared", "disagreements", "max_deviation",
                   "error"]
# What became of a source's answer in one fetch.
ACTIVE, STANDBY, CROSS_CHECK, FAILED, CACHE = "active", "standby", "cross-check", "failed", \
    "cache"


class BarSource(Protocol):
    """A live source: ``fetch`` returns canonical bars plus ``source`` or raises
    ``DataSourceUnavailable``."""

    def fetch(self, symbols: list[str], start: date, end: date) -> pd.DataFrame: ...


@dataclass(frozen=True)
class QualityPolicy:
    """How answers are scored, and what is good enough."""

    threshold: float = 0.75
    latency_budget_s: float = 5.0
    latency_weight: float = 0.2  # the most latency can cost
    stale_penalty: float = 0.15  # per closed session after the last bar
    stale_cap: float = 0.6
    jump_penalty: float = 0.3  # per suspected unadjusted split or dividend
    disagreement_tolerance: float = 0.02  # relative difference of two closes
    disagreement_weight: float = 0.5
    compare_last: int = 20  # overlapping closes compared (the latest: adjustments agree best)
    cross_check: bool = True


@dataclass(frozen=True)
class SourceQuality:
    """One source's answer for one symbol in one fetch, and its score."""

    source: str
    symbol: str
    rank: int  # the source's place in the chain, from 1
    outcome: str
    score: float | None = None
    latency_s: float | None = None
    rows: int = 0
    expected: int = 0
    gaps: int = 0
    off_calendar: int = 0
    stale_sessions: int = 0
    jumps: int = 0
    compared: int = 0
    disagreements: int = 0
    max_deviation: float | None = None
    error: str | None = None


def closed_sessions(start: date, end: date, market: str, now: datetime,
                    symbol: str | None = None) -> list[date]:
    """Sessions of ``market``'s calendar in [start, end] whose bar (``symbol``'s: the
    volatility index's is final later) is known at ``now`` (naive UTC): the ones a
    source should have."""
    sessions = exchange_sessions(start, end, market_rules(market).calendar)
    if not sessions:
        return []
    known = bars_available_at(pd.Series(sessions), market, None if symbol is None
                              else pd.Series([symbol] * len(sessions))) <= pd.Timestamp(now)
    return [day for day, ok in zip(sessions, known.to_numpy(), strict=True) if ok]


def score_bars(bars: pd.DataFrame, expected: Sequence[date], sessions: Sequence[date],
               latency_s: float, policy: QualityPolicy) -> dict[str, Any]:
    """The parts of a score and the score (before any disagreement): ``expected`` are the
    closed sessions a source should deliver, ``sessions`` every session of the window."""
    days = set(bars.loc[bars["close"].notna(), "as_of"])
    expected_set = set(expected)
    gaps = len(expected_set - days)
    off_calendar = len(days - set(sessions))
    last = max(days) if days else None
    stale = sum(1 for d in expected if last is None or d > last)
    # Staleness is counted apart from gaps: the sessions after the last bar are not gaps.
    gaps -= stale
    share = (gaps + off_calendar) / max(1, len(expected))
    latency = policy.latency_weight * min(
        1.0, max(0.0, latency_s - policy.latency_budget_s) / policy.latency_budget_s)
    score = 1.0 - min(1.0, share) - min(policy.stale_cap, policy.stale_penalty * stale) \
        - latency
    return {"rows": len(days), "expected": len(expected), "gaps": gaps,
            "off_calendar": off_calendar, "stale_sessions": stale,
            "latency_s": round(latency_s, 3), "score": round(max(0.0, score), 4)}


def unadjusted_jumps(bars: pd.DataFrame, market: str, window_start: date | None = None,
                     accepted_jumps: Collection[tuple[str, date]] = ()) -> pd.DataFrame:
    """Close-to-close moves that betray an unadjusted split, bonus issue or dividend
    (``split_suspects``: beyond the market's daily price limit, or at a split ratio).
    ``window_start`` is the first session the bars were asked for: a symbol whose first
    bar is on it was cut by the window, so its first bars are no new listing's (which
    trade without a limit); one whose first bar comes later is taken as listed then.
    ``accepted_jumps`` are (symbol, day) pairs a person accepted as real moves.
    Columns ``symbol``, ``as_of`` (the day of the jump), ``move`` and ``reason``."""
    cut: dict[str, date] = {}
    if window_start is not None and not bars.empty:
        firsts = bars.groupby("symbol")["as_of"].min()
        cut = {str(s): date.min for s, first in firsts.items()
               if pd.Timestamp(first).date() <= window_start}
    suspects = split_suspects(bars, market=market, history_starts=cut,
                              accepted_jumps=accepted_jumps)
    # A bad print is one bad bar, not a change of share basis: it must not set history
    # aside (the blocking check downstream stops it).
    suspects = suspects[~suspects["reason"].str.startswith(REASON_IMPLAUSIBLE)]
    return pd.DataFrame({"symbol": suspects["symbol"], "as_of": suspects["as_of"],
                         "move": suspects["ratio"].astype(float) - 1,
                         "reason": suspects["reason"]},
                        columns=["symbol", "as_of", "move", "reason"])


def compare_closes(first: pd.DataFrame, second: pd.DataFrame,
                   policy: QualityPolicy) -> tuple[int, int, float | None]:
    """(closes compared, closes differing beyond the tolerance, the largest relative
    difference) over the last ``compare_last`` days both sources have."""
    a = first.dropna(subset=["close"]).set_index("as_of")["close"]
    b = second.dropna(subset=["close"]).set_index("as_of")["close"]
    common = sorted(set(a.index) & set(b.index))[-policy.compare_last:]
    if not common:
        return 0, 0, None
    x, y = a.loc[common].to_numpy(float), b.loc[common].to_numpy(float)
    deviation = np.abs(x - y) / np.maximum(np.abs(y), 1e-12)
    return len(common), int((deviation > policy.disagreement_tolerance).sum()), \
        round(float(deviation.max()), 6)


# Relative change of the closes on the days two deliveries share beyond which they are on
# different share bases (a dividend or bonus re-based the forward-adjusted history);
# below it, rounding.
BASIS_TOLERANCE = 0.002
# How far each day's ratio may stray from the median for the days to share one factor,
# over the last BASIS_DAYS common days (as many as the sources' cross-check compares).
BASIS_AGREEMENT = 0.01
BASIS_DAYS = 20
BASIS_MAJORITY = 2 / 3
PRICE_FIELDS = ("open", "high", "low", "close")


def basis_change(older: pd.DataFrame, fresh: pd.DataFrame,
                 last_days: int = BASIS_DAYS) -> float | None:
    """The factor that takes ``older`` bars of one symbol onto the basis of ``fresh``
    ones (the median ratio of their closes on the last ``last_days`` days both have),
    or None when they share a basis, have no day in common, or their ratios do not
    agree on one factor (then they disagree, which is the cross-check's business, not a
    new basis). The last days, because East Money subtracts a dividend rather than
    scaling by it: the ratio drifts with the price over a long overlap.
    Forward-adjusted sources re-base every earlier price at each dividend or bonus
    issue, so bars fetched before one and after it differ by about one factor."""
    if older.empty or fresh.empty:
        return None
    a = older.dropna(subset=["close"]).drop_duplicates("as_of", keep="last") \
        .set_index("as_of")["close"]
    b = fresh.dropna(subset=["close"]).drop_duplicates("as_of", keep="last") \
        .set_index("as_of")["close"]
    common = a.index.intersection(b.index).sort_values()[-last_days:]
    if common.empty:
        return None
    ratios = b.loc[common].to_numpy(float) / a.loc[common].to_numpy(float)
    factor = float(np.median(ratios))
    if not math.isfinite(factor) or factor <= 0 or abs(factor - 1) <= BASIS_TOLERANCE:
        return None
    # East Money subtracts a dividend rather than scaling by it, so the ratios of a true
    # re-basing drift a little with the price; beyond BASIS_AGREEMENT they are no factor.
    # A day the source revised is one outlier: two thirds of the days must agree.
    if np.mean(np.abs(ratios / factor - 1) <= BASIS_AGREEMENT) < BASIS_MAJORITY:
        return None
    return factor


def rebased(bars: pd.DataFrame, factor: float, volumes: bool = False) -> pd.DataFrame:
    """``bars`` with their prices multiplied by ``factor``; with ``volumes``, their
    volumes divided by it (the same trades counted in the other basis's shares)."""
    out = bars.copy()
    for column in PRICE_FIELDS:
        if column in out:
            out[column] = (out[column].astype(float) * factor).round(6)
    if volumes and "volume" in out:
        out["volume"] = (out["volume"].astype(float) / factor).round(3)
    return out


class BarCache:
    """Bars last delivered by each source, one parquet file per source and symbol."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, source: str, symbol: str) -> Path:
        return self.root / source / f"{symbol.replace('/', '_')}.parquet"

    def read(self, source: str, symbol: str) -> pd.DataFrame:
        path = self.path(source, symbol)
        if not path.exists():
            return pd.DataFrame()
        bars = pd.read_parquet(path)
        bars["as_of"] = pd.to_datetime(bars["as_of"]).dt.date
        return bars

    def store(self, source: str, bars: pd.DataFrame) -> None:
        """Merge ``bars`` into the cache: a re-delivered day replaces the cached one, and
        cached days on an older share basis are re-based onto the fresh one's."""
        for symbol, fresh in bars.groupby("symbol", sort=False):
            path = self.path(source, str(symbol))
            path.parent.mkdir(parents=True, exist_ok=True)
            cached = self.read(source, str(symbol))
            factor = basis_change(cached, fresh)
            if factor is not None:
                cached = rebased(cached, factor)
            merged = pd.concat([cached, fresh], ignore_index=True)
            merged = merged.drop_duplicates(["as_of"], keep="last").sort_values("as_of")
            partial = path.with_suffix(".parquet.partial")
            merged.reset_index(drop=True).to_parquet(partial, index=False)
            partial.replace(path)


@dataclass
class ChainResult:
    """What a fetch delivered, from where, and how each source did."""

    market: str
    bars: pd.DataFrame
    qualities: list[SourceQuality] = field(default_factory=list)
    active: dict[str, SourceQuality] = field(default_factory=dict)  # symbol: chosen answer
    from_cache: dict[str, str] = field(default_factory=dict)  # symbol: what was served
    unavailable: dict[str, str] = field(default_factory=dict)  # symbol: why
    warnings: list[str] = field(default_factory=list)
    # Bars not served, with a ``reason``: on the share basis before an unadjusted jump.
    set_aside: pd.DataFrame = field(default_factory=pd.DataFrame)

    def quality_rows(self, fetched_at: datetime, as_of: date) -> pd.DataFrame:
        """The ``source_quality`` table's rows for this fetch."""
        rows = [{"fetched_at": fetched_at, "as_of": as_of, "market": self.market,
                 **{k: getattr(q, k) for k in QUALITY_COLUMNS[3:]}} for q in self.qualities]
        return pd.DataFrame(rows, columns=QUALITY_COLUMNS)

    def metadata(self) -> dict[str, Any]:
        """The active source(s) and score(s), cache use and warnings, for the asset."""
        by_source: dict[str, list[str]] = {}
        for symbol, quality in self.active.items():
            by_source.setdefault(quality.source, []).append(symbol)
        active = (next(iter(by_source)) if len(by_source) == 1 else "; ".join(
            f"{source} ({', '.join(symbols)})" for source, symbols in by_source.items()))
        scores = [q.score for q in self.active.values() if q.score is not None]
        return {
            "active_source": active or "none",
            "source_score": min(scores) if scores else 0.0,
            "served_from_cache": ("; ".join(f"{s}: {what}" for s, what in
                                            self.from_cache.items()) or "no"),
            "source_warnings": " | ".join(self.warnings) or "none",
        }

    def quality_markdown(self) -> str:
        columns = ["symbol", "source", "outcome", "score", "latency_s", "rows", "gaps",
                   "stale_sessions", "jumps", "disagreements", "error"]
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for q in self.qualities:
            values = [getattr(q, c) for c in columns]
            lines.append("| " + " | ".join("" if v is None else str(v)[:80]
                                           for v in values) + " |")
        return "\n".join(lines)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class SourceChain:
    """The market's sources in order, scored per symbol, with failover and a cache."""

    def __init__(self, market: str, sources: Sequence[tuple[str, BarSource]],
                 cache: BarCache | None = None, policy: QualityPolicy | None = None,
                 clock: Callable[[], datetime] = _now,
                 timer: Callable[[], float] = time.perf_counter,
                 accepted_jumps: Collection[tuple[str, date]] = ()) -> None:
        self.market = market_rules(market).code
        self.accepted_jumps = frozenset(accepted_jumps)
        self.sources = list(sources)
        self.cache = cache
        self.policy = policy or QualityPolicy()
        self.clock = clock
        self.timer = timer

    @staticmethod
    def _supports(source: BarSource, symbol: str) -> bool:
        supports = getattr(source, "supports", None)
        return True if supports is None else bool(supports(symbol))

    def fetch(self, symbols: Sequence[str], start: date, end: date) -> ChainResult:
        """Each symbol's bars for [start, end] from the best source that answers; see the
        module's docstring. Never raises for a source's failure: ``unavailable`` names
        the symbols no source and no cache could serve."""
        now = self.clock()
        rules = market_rules(self.market)
        sessions = exchange_sessions(start, end, rules.calendar)
        result = ChainResult(self.market, pd.DataFrame())
        down: dict[str, str] = {}
        parts: list[pd.DataFrame] = []
        for symbol in dict.fromkeys(s.strip().upper() for s in symbols if s.strip()):
            expected = closed_sessions(start, end, self.market, now, symbol)
            bars = self._fetch_symbol(symbol, start, end, now, sessions, expected, down,
                                      result)
            if bars is not None:
                parts.append(bars)
        if parts:
            result.bars = pd.concat(parts, ignore_index=True).sort_values(
                ["symbol", "as_of"], kind="stable").reset_index(drop=True)
        return result

    def _ask(self, name: str, source: BarSource, rank: int, symbol: str, start: date,
             end: date, now: datetime, sessions: list[date], expected: list[date],
             down: dict[str, str]) -> tuple[SourceQuality, pd.DataFrame | None]:
        began = self.timer()
        try:
            bars = source.fetch([symbol], start, end)
        except DataSourceUnavailable as error:
            if isinstance(error, SourceUnreachable):
                down[name] = str(error)
            return SourceQuality(name, symbol, rank, FAILED, latency_s=round(
                self.timer() - began, 3), error=str(error)), None
        latency = self.timer() - began
        bars = bars[bars["symbol"] == symbol]
        closed = bars_available_at(bars["as_of"], self.market, bars["symbol"]) \
            <= pd.Timestamp(now)
        bars = bars[closed.to_numpy()].reset_index(drop=True)
        parts = score_bars(bars, expected, sessions, latency, self.policy)
        jumps = len(unadjusted_jumps(bars, self.market, sessions[0] if sessions else None,
                                     self.accepted_jumps))
        if jumps:
            parts["score"] = round(max(0.0, parts["score"] - min(
                self.policy.stale_cap, self.policy.jump_penalty * jumps)), 4)
        return SourceQuality(name, symbol, rank, STANDBY, jumps=jumps, **parts), bars

    def _fetch_symbol(self, symbol: str, start: date, end: date, now: datetime,
                      sessions: list[date], expected: list[date], down: dict[str, str],
                      result: ChainResult) -> pd.DataFrame | None:
        policy = self.policy
        answers: list[tuple[SourceQuality, pd.DataFrame]] = []
        tried: set[str] = set()
        qualities: list[SourceQuality] = []
        ranked = [(rank, name, source) for rank, (name, source) in
                  enumerate(self.sources, start=1) if self._supports(source, symbol)]
        for rank, name, source in ranked:
            if name in down:
                continue
            tried.add(name)
            quality, bars = self._ask(name, source, rank, symbol, start, end, now, sessions,
                                      expected, down)
            qualities.append(quality)
            if bars is not None:
                answers.append((quality, bars))
                if quality.score is not None and quality.score >= policy.threshold:
                    break
        if answers and policy.cross_check and len(answers) == 1:
            for rank, name, source in ranked:
                if name in down or name in tried:
                    continue
                quality, bars = self._ask(name, source, rank, symbol, start, end, now,
                                          sessions, expected, down)
                if bars is not None:
                    answers.append((replace(quality, outcome=CROSS_CHECK), bars))
                    qualities.append(answers[-1][0])
                else:
                    qualities.append(replace(quality, outcome=CROSS_CHECK))
                break
        if len(answers) >= 2:
            answers = self._cross_check(symbol, answers, result)
            qualities = [next((q for q, _ in answers if (q.source, q.rank) ==
                               (old.source, old.rank)), old) for old in qualities]
        if not answers:
            result.qualities.extend(qualities)
            return self._from_cache(symbol, start, end, sessions, expected, qualities,
                                    down, result)
        best_quality, best_bars = max(answers, key=lambda a: (a[0].score or 0.0, -a[0].rank))
        if (best_quality.score or 0.0) < policy.threshold:
            result.warnings.append(
                f"{symbol}: the best source, {best_quality.source}, scored "
                f"{best_quality.score} (below {policy.threshold}: {best_quality.gaps} "
                f"gap(s), {best_quality.stale_sessions} stale session(s))")
        best_bars = self._set_aside_before_jumps(symbol, best_quality.source, best_bars,
                                                 result, sessions[0] if sessions else None)
        chosen = replace(best_quality, outcome=ACTIVE)
        qualities = [chosen if (q.source, q.rank) == (chosen.source, chosen.rank) else q
                     for q in qualities]
        result.qualities.extend(qualities)
        result.active[symbol] = chosen
        if self.cache is not None and not best_bars.empty:
            self.cache.store(chosen.source, best_bars)
        return best_bars

    def _set_aside_before_jumps(self, symbol: str, source: str, bars: pd.DataFrame,
                                result: ChainResult, window_start: date | None
                                ) -> pd.DataFrame:
        """The bars from the last unadjusted jump on; the earlier ones go to ``set_aside``."""
        jumps = unadjusted_jumps(bars, self.market, window_start, self.accepted_jumps)
        if jumps.empty:
            return bars
        last = jumps.iloc[-1]
        before = (bars["as_of"] < last["as_of"]).to_numpy()
        reason = (f"before an unadjusted split or dividend on {last['as_of']} "
                  f"({last['reason']}): another share basis")
        result.set_aside = pd.concat([result.set_aside, bars[before].assign(reason=reason)],
                                     ignore_index=True)
        result.warnings.append(f"{symbol}: {source}'s bars jump on {last['as_of']} "
                               f"({last['reason']}); {int(before.sum())} earlier bar(s) "
                               "set aside, never traded on")
        return bars[~before].reset_index(drop=True)

    def _cross_check(self, symbol: str, answers: list[tuple[SourceQuality, pd.DataFrame]],
                     result: ChainResult) -> list[tuple[SourceQuality, pd.DataFrame]]:
        """The first two answers compared; a disagreement lowers both scores."""
        (first, first_bars), (second, second_bars) = answers[0], answers[1]
        compared, disagreements, deviation = compare_closes(first_bars, second_bars,
                                                            self.policy)
        penalty = self.policy.disagreement_weight * disagreements / max(1, compared)
        if disagreements:
            result.warnings.append(
                f"{symbol}: {first.source} and {second.source} disagree on {disagreements} "
                f"of {compared} recent closes (up to {deviation:.1%}, tolerance "
                f"{self.policy.disagreement_tolerance:.0%})")
        checked = []
        for quality, bars in answers[:2]:
            checked.append((replace(
                quality, compared=compared, disagreements=disagreements,
                max_deviation=deviation,
                score=round(max(0.0, (quality.score or 0.0) - penalty), 4)), bars))
        return checked + answers[2:]

    def _from_cache(self, symbol: str, start: date, end: date, sessions: list[date],
                    expected: list[date], qualities: list[SourceQuality],
                    down: dict[str, str], result: ChainResult) -> pd.DataFrame | None:
        reasons = "; ".join(f"{q.source}: {q.error}" for q in qualities if q.error) or \
            "; ".join(f"{name} is down ({why})" for name, why in down.items()) or \
            "no source handles this symbol"
        if self.cache is not None:
            for rank, (name, _) in enumerate(self.sources, start=1):
                cached = self.cache.read(name, symbol)
                if cached.empty:
                    continue
                cached = cached[(cached["as_of"] >= start) & (cached["as_of"] <= end)]
                if cached.empty:
                    continue
                parts = score_bars(cached, expected, sessions, 0.0, self.policy)
                quality = SourceQuality(name, symbol, rank, CACHE, **parts)
                result.qualities.append(quality)
                result.active[symbol] = quality
                last = max(cached["as_of"])
                result.from_cache[symbol] = f"{len(cached)} cached {name} bar(s) up to {last}"
                result.warnings.append(f"{symbol}: every source failed ({reasons}); served "
                                       f"from cache: {len(cached)} {name} bar(s) up to {last}")
                return cached.reset_index(drop=True)
        result.unavailable[symbol] = reasons
        return None


def build_source(name: str, timeout_s: float = 10) -> BarSource:
    """A live source by name, with its time-out."""
    if name == "yfinance":
        from trade_pipelines.market_data.yfinance_source import YFinanceSource

        return YFinanceSource(timeout_s=timeout_s)
    if name == "akshare":
        from trade_pipelines.market_data.akshare_source import AkshareSource

        return AkshareSource(timeout_s=timeout_s)
    if name == "tushare":
        from trade_pipelines.market_data.tushare_source import TushareSource

        return TushareSource(timeout_s=timeout_s)
    raise ValueError(f"unknown live source {name!r}: use one of yfinance, akshare, tushare")


def market_chain(market: str, cache_root: Path | str | None, timeout_s: float = 10,
                 policy: QualityPolicy | None = None,
                 accepted_jumps: Collection[tuple[str, date]] = ()) -> SourceChain:
    """The chain of ``market`` (:data:`CHAINS`) with the cache under ``cache_root``;
    ``accepted_jumps`` are the moves a person accepted as real (not unadjusted)."""
    code = market_rules(market).code
    return SourceChain(code, [(name, build_source(name, timeout_s)) for name in CHAINS[code]],
                       BarCache(cache_root) if cache_root is not None else None, policy,
                       accepted_jumps=accepted_jumps)
