"""The replay grain.

Dagster's bookkeeping costs tens of milliseconds per asset-partition, so the trading
assets are partitioned by month and each run loops over the trading days inside; a day's
detail lives in the warehouse. See the README's "Partitioning" section.
"""

from __future__ import annotations

import warnings

from dagster import BackfillPolicy, BetaWarning, MonthlyPartitionsDefinition

# Single-run backfill policies are marked beta; we rely on them deliberately.
warnings.filterwarnings("ignore", category=BetaWarning)

FIRST_MONTH = "1990-01-01"

# end_offset=1: the month in progress is a partition too, so the live daily cycle
# re-materialises the current month each day.
trading_months = MonthlyPartitionsDefinition(start_date=FIRST_MONTH, end_offset=1)
single_run = BackfillPolicy.single_run()
