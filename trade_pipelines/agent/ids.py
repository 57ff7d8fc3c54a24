"""Deterministic identifiers: the same inputs always give the same id, so re-runs never
duplicate a row."""

from __future__ import annotations

import hashlib


def stable_id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]
    return f"{prefix}-{digest}"
