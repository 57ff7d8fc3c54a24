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


def print_step_failures(result: object) -> None:
    """Each failed step of a Dagster run result with the root cause of its error."""
    import sys

    for event in result.get_step_failure_events():  # type: ignore[attr-defined]
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause  # the root cause says what went wrong
        if error is not None:
            print(f"FAILED in {event.step_key}: {error.message.strip()}", file=sys.stderr)
