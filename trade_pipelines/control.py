"""The supervisor's pause switch: a small JSON file beside the warehouse.

It lives outside DuckDB so the supervisor can flip it while a replay holds the
warehouse, and the order step reads it before every trading day.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class PauseState:
    paused: bool
    reason: str = ""
    changed_by: str = ""
    changed_at: str = ""


def _pause_file(control_dir: Path) -> Path:
    return control_dir / "pause.json"


def read_pause_state(control_dir: Path) -> PauseState:
    path = _pause_file(control_dir)
    if not path.exists():
        return PauseState(paused=False)
    data = json.loads(path.read_text())
    return PauseState(**{k: data.get(k, "") for k in ("reason", "changed_by", "changed_at")},
                      paused=bool(data.get("paused", False)))


def set_paused(control_dir: Path, paused: bool, reason: str, changed_by: str) -> PauseState:
    """Write the switch atomically (write a temp file, then rename over the old one)."""
    control_dir.mkdir(parents=True, exist_ok=True)
    state = PauseState(paused=paused, reason=reason, changed_by=changed_by,
                       changed_at=datetime.now(UTC).isoformat(timespec="seconds"))
    fd, temp = tempfile.mkstemp(dir=control_dir, prefix=".pause-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(state), handle)
    os.replace(temp, _pause_file(control_dir))
    return state
