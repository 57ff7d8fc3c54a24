"""What several commands share: date arguments and the project-local Dagster home."""

from __future__ import annotations

import argparse
import os
from datetime import date

from trade_pipelines.settings import paths


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from error


def dagster_env() -> None:
    os.environ["DAGSTER_HOME"] = str(paths().dagster_home)
