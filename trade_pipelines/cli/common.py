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

    # Dagster's public accessors only: ``all_events`` and ``is_step_failure``; the
    # failure's error is read defensively from the event's data.
    for event in result.all_events:  # type: ignore[attr-defined]
        if not event.is_step_failure:
            continue
        error = getattr(event.event_specific_data, "error", None)
        while getattr(error, "cause", None) is not None:
            error = error.cause  # the root cause says what went wrong
        message = getattr(error, "message", None)
        if message:
            print(f"FAILED in {event.step_key}: {message.strip()}", file=sys.stderr)
