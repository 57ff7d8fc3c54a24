"""Jumps a person has reviewed and accepted as real moves, so the checks stop flagging them.

Two lists, merged wherever the split/bad-print detector (``split_suspects``) or the jump
warning (``suspicious_jumps``) is told what was accepted: the built-in ones
(``BUILTIN_KNOWN_JUMPS``, ``BUILTIN_SPLIT_LIKE_MOVES``: moves in the bundled data) and
the user's table, ``accepted_jumps.csv`` in the project home (``Paths.accepted_jumps``),
with the columns ``symbol,as_of,reason``, one row per (symbol, day). ``trade-pipelines
accept-jump SYMBOL DATE --reason TEXT`` adds a row (or replaces the reason of one); the
file may also be edited by hand. A reason is required: an accepted jump is a decision a
person can be asked about later.

A row that cannot be read (no symbol, a day that is not ``YYYY-MM-DD``, no reason) is
an ``AcceptedJumpsError`` naming the file and line, never skipped: a silently dropped
acceptance would block bars its author believes accepted.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd

from trade_pipelines.settings import Paths

COLUMNS = ["symbol", "as_of", "reason"]


class AcceptedJumpsError(ValueError):
    """The user's table of accepted jumps cannot be read, or a row is incomplete."""


def read_accepted_jumps(path: Path | str) -> pd.DataFrame:
    """The user's accepted jumps (symbol upper-cased, ``as_of`` a date), or no rows when
    the file does not exist."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=COLUMNS)
    except Exception as error:
        raise AcceptedJumpsError(f"cannot read {path}: {error}") from error
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise AcceptedJumpsError(f"{path} lacks the column(s) {', '.join(missing)} "
                                 f"(expected {','.join(COLUMNS)})")
    rows = []
    for line, (symbol, day, reason) in enumerate(
            zip(raw["symbol"], raw["as_of"], raw["reason"], strict=True), start=2):
        symbol, reason = symbol.strip().upper(), reason.strip()
        try:
            as_of = date.fromisoformat(day.strip())
        except ValueError:
            raise AcceptedJumpsError(
                f"{path}, line {line}: {day!r} is not a day (YYYY-MM-DD)") from None
        if not symbol:
            raise AcceptedJumpsError(f"{path}, line {line}: no symbol")
        if not reason:
            raise AcceptedJumpsError(f"{path}, line {line}: {symbol} {as_of} has no "
                                     "reason; say why the move is real")
        rows.append((symbol, as_of, reason))
    return pd.DataFrame(rows, columns=COLUMNS)


def accepted_jumps(home: Path | str | None = None) -> frozenset[tuple[str, date]]:
    """Every accepted (symbol, day): the built-in ones and those of ``home``'s table
    (the configured home's when None)."""
    from trade_pipelines.market_data.builtin import BUILTIN_KNOWN_JUMPS, BUILTIN_SPLIT_LIKE_MOVES
    from trade_pipelines.settings import home_dir

    table = read_accepted_jumps(Paths(Path(home) if home is not None else home_dir())
                                .accepted_jumps)
    user = {(s, d) for s, d in zip(table["symbol"], table["as_of"], strict=True)}
    return BUILTIN_KNOWN_JUMPS | BUILTIN_SPLIT_LIKE_MOVES | frozenset(user)


def accept_jump(path: Path | str, symbol: str, day: date, reason: str) -> bool:
    """Record (symbol, day) as a real move in the table at ``path``; True when it is new,
    False when it was there and only its reason is replaced."""
    symbol, reason = symbol.strip().upper(), " ".join(reason.split())
    if not symbol:
        raise AcceptedJumpsError("no symbol given")
    if not reason:
        raise AcceptedJumpsError(f"{symbol} {day}: a reason is required (why is the move "
                                 "real?)")
    path = Path(path)
    table = read_accepted_jumps(path)
    same = (table["symbol"] == symbol) & (table["as_of"] == day)
    new = not bool(same.any())
    table = pd.concat([table[~same], pd.DataFrame([(symbol, day, reason)], columns=COLUMNS)],
                      ignore_index=True).sort_values(["symbol", "as_of"], kind="stable")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    table.assign(as_of=[d.isoformat() for d in table["as_of"]]).to_csv(partial, index=False)
    os.replace(partial, path)  # a reader never sees half a file
    return new
