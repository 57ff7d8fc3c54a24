"""Which layers of the agent run. The full agent runs them all; an ablation switches one
off so the scoreboard can say what that layer earns, through the same engine and costs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgentVariant:
    # False: the gene pool stays the seeded genomes (no mutation, crossover or wild births).
    evolution: bool = True
    # False: the debate recalls no memories.
    memory: bool = True
    # False: each proposal goes straight to the risk engine at the proposer's size.
    debate: bool = True
    # False: the weekly, monthly and quarterly reviews report and record their changes,
    # but none of them changes what the agent does.
    reflection: bool = True


FULL_AGENT = AgentVariant()
ABLATIONS: dict[str, AgentVariant] = {
    "no_evolution": AgentVariant(evolution=False),
    "no_memory": AgentVariant(memory=False),
    "no_debate": AgentVariant(debate=False),
    "no_reflection": AgentVariant(reflection=False),
}
