"""Where all state lives: one home folder, chosen by $TRADE_PIPELINES_HOME."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOME_ENV = "TRADE_PIPELINES_HOME"
# Where the agent's bars come from and which symbols it trades; read once, where the
# Definitions are built, so the values show as resource config in the Dagster UI.
SOURCE_ENV = "TRADE_PIPELINES_SOURCE"
SYMBOLS_ENV = "TRADE_PIPELINES_SYMBOLS"
# Which market (us, cn, hk, crypto); empty: the symbols decide (US by default).
MARKET_ENV = "TRADE_PIPELINES_MARKET"
DEFAULT_SOURCE = "builtin"
# Generated drill headlines join the news sentiment only when this is "1": a replay of
# real data never mixes them in by accident.
INCLUDE_DRILLS_ENV = "TRADE_PIPELINES_INCLUDE_DRILLS"
NEWS_FEEDS_ENV = "TRADE_PIPELINES_NEWS_FEEDS"

DAGSTER_YAML = """\
# Written by trade-pipelines. Telemetry off: this project runs offline.
telemetry:
  enabled: false
# DuckDB has one writer and ChromaDB's persistent client is not safe across processes, so
# every step that writes either runs in the "warehouse" pool, one step at a time across
# every run on this instance: the daemon's, a replay's, the UI's. A run whose writing step
# finds the slot taken waits for it (op granularity: each step claims the slot as it starts).
concurrency:
  pools:
    default_limit: 1
    granularity: op
"""


@dataclass(frozen=True)
class Paths:
    """Every file the project writes, derived from one home folder."""

    home: Path

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def memory_index(self) -> Path:
        return self.home / "memory_index"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    @property
    def cache(self) -> Path:
        """Bars last delivered by each live source (``cache/<source>/<symbol>.parquet``),
        served when every source is down."""
        return self.home / "cache"

    @property
    def market_file(self) -> Path:
        """The home's market code (``home_market.py``), readable without the warehouse
        (whose lock a running job may hold) when the definitions load."""
        return self.home / "market"

    @property
    def accepted_jumps(self) -> Path:
        """Jumps a person accepted as real moves (``symbol,as_of,reason``), which the
        split/bad-print checks then pass (``trade-pipelines accept-jump``)."""
        return self.home / "accepted_jumps.csv"

    @property
    def inbox(self) -> Path:
        """Drop bar files here; a sensor imports them (done ones move to inbox/imported)."""
        return self.home / "inbox"

    @property
    def llm_cache(self) -> Path:
        """Every LLM call's answer under a hash of its full input: a file apart from the
        warehouse, so a replay's rewind keeps it and a slow call holds no writer lock."""
        return self.home / "llm_cache.duckdb"

    @property
    def board_lots(self) -> Path:
        """Board lots a user adds (``symbol,lot``), merged over the built-in Hong Kong ones
        (``trade_pipelines/board_lots.py``)."""
        return self.home / "board_lots.csv"

    def ensure(self) -> Paths:
        for folder in (self.home, self.memory_index, self.reports, self.dagster_home,
                       self.inbox):
            folder.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        # Ours is rewritten when it is out of date (a home made by an older version would
        # miss the warehouse pool's limit); a file a user wrote is left alone.
        if not dagster_yaml.exists() or (
                dagster_yaml.read_text().startswith(DAGSTER_YAML.splitlines()[0])
                and dagster_yaml.read_text() != DAGSTER_YAML):
            dagster_yaml.write_text(DAGSTER_YAML)
        return self


def home_dir() -> Path:
    return Path(os.environ.get(HOME_ENV) or PROJECT_ROOT / "data").expanduser().resolve()


def source_setting() -> str:
    """The configured market-data source (``builtin`` unless $TRADE_PIPELINES_SOURCE says)."""
    return (os.environ.get(SOURCE_ENV) or DEFAULT_SOURCE).strip().lower()


def symbols_setting() -> str:
    """The configured comma-separated universe ("" means the built-in one)."""
    return (os.environ.get(SYMBOLS_ENV) or "").strip()


def market_setting() -> str:
    """The configured market ("" lets the symbols decide)."""
    return (os.environ.get(MARKET_ENV) or "").strip().lower()


def include_drills_setting() -> bool:
    """Whether generated drill headlines count in the news sentiment (off by default)."""
    return (os.environ.get(INCLUDE_DRILLS_ENV) or "").strip().lower() in ("1", "true", "yes")


def news_feeds_setting() -> str:
    """The RSS/Atom feeds the ``news_feeds`` sensor reads: ``[SYMBOLS=]URL[|Area/Zone]``
    entries separated by spaces or ';' (plain URLs also by commas)."""
    return (os.environ.get(NEWS_FEEDS_ENV) or "").strip()


def paths() -> Paths:
    """The current home's paths, created on first use."""
    return Paths(home_dir()).ensure()
