"""The judge's checklist: after the debate, each decision passes the principles, the
parameters, the role weights and the allocation the reviews left in force
(``agent/reflection/changes.py``). The checklist only shrinks, drops or (within bounds)
scales a size; it never turns a dropped trade into one, and the risk engine still
disposes. Every item that touched a decision is named in its transcript and in
``changes_applied``, so a decision can be traced to the reviews behind it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from trade_pipelines.agent.execution.risk import RiskLimits
from trade_pipelines.agent.reflection.changes import (
    ALLOCATION,
    PARAMETER,
    PARAMETER_DEFAULTS,
    PRINCIPLE,
    ROLE_WEIGHT,
    Policy,
)

WEIGHTS = ("weight_aggressive", "weight_conservative", "weight_combined")


def risk_limits(policy: Policy) -> RiskLimits:
    """The risk engine's limits under ``policy`` (its defaults where no review moved them)."""
    return RiskLimits(max_risk_per_trade=policy.parameters["max_risk_per_trade"],
                      max_symbol_weight=policy.parameters["max_symbol_weight"])


def apply_checklist(decisions: Sequence[Mapping[str, Any]], policy: Policy, regime: str,
                    families: Mapping[str, str]) -> list[dict]:
    """The day's decision rows after the checklist (rows it leaves alone are unchanged
    apart from an empty ``changes_applied``)."""
    out = []
    for decision in decisions:
        row = dict(decision)
        row["changes_applied"] = "[]"
        if row["verdict"] not in ("execute", "adjust"):
            out.append(row)
            continue
        applied: list[str] = []
        notes: list[str] = []
        multiplier = 1.0

        def source(kind: str, target: str, applied: list[str] = applied) -> None:
            change = policy.sources.get((kind, target))
            if change is not None and change not in applied:
                applied.append(change)

        floor = policy.parameters["min_confidence"]
        dropped = floor > PARAMETER_DEFAULTS["min_confidence"] and \
            float(row["confidence"]) < floor
        if dropped:
            source(PARAMETER, "min_confidence")
            notes.append(f"confidence {float(row['confidence']):.0%} is below the minimum "
                         f"{floor:.0%} a review set: dropped")
        else:
            if policy.framework.get("principles_enabled", True):
                family = families.get(str(row["strategy_id"]), "")
                for target, principle in sorted(policy.principles.items()):
                    if principle.matches(family, regime):
                        multiplier *= principle.size_multiplier
                        source(PRINCIPLE, target)
                        notes.append(f"principle '{principle.text}' sizes by "
                                     f"{principle.size_multiplier:g}")
            allocation = policy.allocation.get(str(row["strategy_id"]))
            if allocation is not None and allocation != 1.0:
                multiplier *= allocation
                source(ALLOCATION, str(row["strategy_id"]))
                notes.append(f"allocation of {row['strategy_id']} x{allocation:g}")
            scale = policy.parameters["exposure_scale"]
            if scale != PARAMETER_DEFAULTS["exposure_scale"]:
                multiplier *= scale
                source(PARAMETER, "exposure_scale")
                notes.append(f"exposure scale x{scale:g}")
        # a role weight is the debate's: a decision nobody debated has none
        role = policy.role_weights.get(regime) if int(row.get("rounds", 1)) > 0 else None
        role = None if role == 1.0 else role  # a weight of one changes nothing
        if not notes and role is None:
            out.append(row)
            continue
        for column in WEIGHTS:
            row[column] = 0.0 if dropped else round(float(row[column]) * multiplier, 4)
        if role is not None and not dropped:
            row["weight_combined"] = round(float(row["weight_combined"]) * role, 4)
            source(ROLE_WEIGHT, regime)
            notes.append(f"the combined account's role weight in a {regime} market x{role:g}")
        if dropped or all(float(row[c]) <= 0 for c in WEIGHTS):
            row["verdict"] = "drop"
        transcript = json.loads(row["transcript"]) if row.get("transcript") else []
        last_round = max((int(t["round"]) for t in transcript), default=1)
        text = "Checklist: " + "; ".join(notes) + (
            f". Sizes now aggressive {float(row['weight_aggressive']):.1%}, conservative "
            f"{float(row['weight_conservative']):.1%}, combined "
            f"{float(row['weight_combined']):.1%}; verdict {row['verdict'].upper()}.")
        transcript.append({"round": last_round, "role": "judge", "text": text})
        row["transcript"] = json.dumps(transcript)
        row["summary"] = f"{row['summary']} {text}"
        row["changes_applied"] = json.dumps(applied)
        out.append(row)
    return out
