"""One way to read a trading day out of the values rows carry (dates, datetimes, pandas
timestamps, numpy datetimes, ISO strings)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd


def day_of(value: object) -> date:
    """The calendar day of ``value``."""
    if isinstance(value, datetime):  # also pandas' Timestamp: check before date
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()
