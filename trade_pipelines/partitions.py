"""The replay grain.

Dagster's bookkeeping writes two events per asset-partition of a run (planned, then
materialised), about 10 ms each on a 2-core machine, so the trading assets are
partitioned by calendar year: ten years are 10 x 15 asset-partitions, a few seconds of
bookkeeping, where monthly partitions cost half a minute. Each run loops over the
trading days inside its window, and the long steps commit month by month inside it
(``warehouse/checkpoints.py``), so the evening run of the year in progress recomputes
only the month that changed. See the README's "Partitioning" section.
"""

from __future__ import annotations

import warnings

from dagster import BackfillPolicy, BetaWarning, TimeWindowPartitionsDefinition

# Single-run backfill policies are marked beta; we rely on them deliberately.
warnings.filterwarnings("ignore", category=BetaWarning)

FIRST_DAY = "1990-01-01"

# end_offset=1: the year in progress is a partition too, so the live daily cycle
# re-materialises it up to each session.
trading_years = TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1 *", start=FIRST_DAY,
                                               fmt="%Y-%m-%d", end_offset=1)
single_run = BackfillPolicy.single_run()


def year_partition(day: object) -> str:
    """The key of the partition holding ``day`` (a date)."""
    return f"{day:%Y}-01-01"
