"""Board lots a user supplies as data: ``board_lots.csv`` in the project home.

Hong Kong lots differ per stock, and an order of a stock whose lot is not on record is
refused (``agent/markets.py``). The built-in ``HK_BOARD_LOTS`` covers the built-in
universe; any other stock's lot goes in this file, two columns::

    symbol,lot
    9988.HK,100
    0005.HK,400

Its rows are merged over the built-in lots (a row for a built-in stock replaces its
lot) in the market rules a run trades under (``resources.MarketDataResource.rules``).
A bad file is refused as a whole, with the row that is wrong: an order sized on a lot
misread is worse than no order.

``trade-pipelines set-board-lot SYMBOL LOT`` writes a row.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from trade_pipelines.agent.markets import MarketRules, market_of_symbol

FILE_NAME = "board_lots.csv"
COLUMNS = ("symbol", "lot")


class BoardLotsError(ValueError):
    """A board-lots file that cannot be used, saying where and why."""


def read_board_lots(path: Path) -> dict[str, float]:
    """The lots of ``path`` by symbol (none when there is no file); a BoardLotsError
    names the file and the line of the first bad row."""
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise BoardLotsError(f"{path}: cannot be read ({error})") from error
    return parse_board_lots(text, str(path))


def parse_board_lots(text: str, source: str = FILE_NAME) -> dict[str, float]:
    """``read_board_lots`` of a file's text; ``source`` names it in the errors."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    lots: dict[str, float] = {}
    first_row: dict[str, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # a blank line
        if header is None:
            header = [v.strip().lower() for v in values]
            if sorted(header) != sorted(COLUMNS):
                unknown = [c for c in header if c not in COLUMNS]
                missing = [c for c in COLUMNS if c not in header]
                raise BoardLotsError(
                    f"{source} line {line}: the header must be exactly the columns "
                    f"symbol,lot (got {','.join(header)}"
                    + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                    + (f"; missing: {', '.join(missing)}" if missing else "") + ")")
            continue
        if len(values) != len(header):
            raise BoardLotsError(f"{source} line {line}: {len(values)} values, expected "
                                 f"{len(header)} (symbol,lot): {','.join(values)}")
        row = dict(zip(header, (v.strip() for v in values), strict=True))
        symbol = check_symbol(row["symbol"], f"{source} line {line}")
        lot = check_lot(row["lot"], f"{source} line {line}: {symbol}")
        if symbol in first_row:
            raise BoardLotsError(f"{source} line {line}: {symbol} is listed twice (also "
                                 f"on line {first_row[symbol]})")
        first_row[symbol] = line
        lots[symbol] = lot
    return lots


def check_symbol(text: str, where: str) -> str:
    """``text`` as a Hong Kong stock's ticker (upper case), or a BoardLotsError."""
    symbol = text.strip().upper()
    if not symbol:
        raise BoardLotsError(f"{where}: the symbol is empty")
    if symbol.startswith("^") or market_of_symbol(symbol) != "hk":
        raise BoardLotsError(f"{where}: {symbol} is not a Hong Kong stock (a ticker such "
                             "as 0700.HK): only Hong Kong lots differ per stock")
    return symbol


def check_lot(text: str, where: str) -> float:
    """``text`` as a board lot (a positive whole number of shares), or a BoardLotsError."""
    try:
        lot = int(text.strip())
    except ValueError:
        raise BoardLotsError(f"{where}: the lot {text.strip()!r} is not a whole number of "
                             "shares (such as 500)") from None
    if lot <= 0:
        raise BoardLotsError(f"{where}: the lot {lot} is not positive")
    return float(lot)


def with_board_lots(rules: MarketRules, path: Path) -> MarketRules:
    """``rules`` with the lots of ``path`` merged over its own, for a market whose lots
    differ per stock (the others are returned as they are, the file unread)."""
    if not rules.lot_required:
        return rules
    lots = read_board_lots(path)
    if not lots:
        return rules
    return replace(rules, lot_sizes=MappingProxyType({**rules.lot_sizes, **lots}))


def set_board_lot(path: Path, symbol: str, lot: str | int) -> float | None:
    """Record ``lot`` for ``symbol`` in ``path`` (created when missing; its other rows
    kept, sorted by symbol); the lot it had there before, or None."""
    symbol = check_symbol(symbol, "set-board-lot")
    value = check_lot(str(lot), f"set-board-lot: {symbol}")
    lots = read_board_lots(path)
    before = lots.get(symbol)
    lots[symbol] = value
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for name in sorted(lots):
        writer.writerow([name, f"{lots[name]:.0f}"])
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(out.getvalue(), encoding="utf-8")
    os.replace(partial, path)
    return before

