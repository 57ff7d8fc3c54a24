"""What each role must answer, as pydantic structures parsed from the model's JSON.

The model argues; it never computes: figures come in the prompt, and sizes it names are
clipped downstream to the proposer's size.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Fraction = Field(ge=0.0, le=1.0)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AggressiveCase(Answer):
    """The proposer's case for the trade."""

    thesis: str = Field(min_length=1, max_length=1200)
    expected_return: float = Field(ge=-1.0, le=1.0,
                                   description="expected return of the trade, a fraction")
    size: float = Field(ge=0.0, le=1.0, description="fraction of equity wanted")


class ObjectionItem(Answer):
    topic: str = Field(min_length=1, max_length=40)
    severity: float = Fraction
    text: str = Field(min_length=1, max_length=800)


class ConservativeObjections(Answer):
    """Exactly five objections: the sharpest risks of the trade."""

    objections: list[ObjectionItem] = Field(min_length=5, max_length=5)


class QuantReading(Answer):
    """The quant's reading of the computed figures (never new figures)."""

    reading: str = Field(min_length=1, max_length=1200)
    assessment: Literal["supportive", "neutral", "unsupportive"]


class Reply(Answer):
    objection: int = Field(ge=1, le=5)
    action: Literal["concede", "rebut"]
    size: float = Field(ge=0.0, le=1.0, description="size after this reply")
    text: str = Field(min_length=1, max_length=800)


class RoundReplies(Answer):
    """The proposer's answer to each open objection in one round."""

    replies: list[Reply] = Field(min_length=1, max_length=5)


class Standing(Answer):
    objection: int = Field(ge=1, le=5)
    severity: float = Fraction
    resolved: bool


class RoundAssessment(Answer):
    """The conservative's view of each open objection after the replies."""

    objections: list[Standing] = Field(min_length=1, max_length=5)
    text: str = Field(min_length=1, max_length=800)


class Verdict(Answer):
    verdict: Literal["execute", "adjust", "drop"]
    size: float = Field(ge=0.0, le=1.0, description="fraction of equity")
    confidence: float = Fraction
    reason: str = Field(min_length=1, max_length=800)

    @field_validator("verdict", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower().strip() if isinstance(value, str) else value


class RecalledClose(Answer):
    """The recall probe's question: a close the model should not know."""

    close: float | None = Field(default=None, description="the closing price, or null "
                                                          "when not known")


class InvalidAnswer(ValueError):
    """The model's text is not the structure asked for; the message goes back to it."""


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse(schema: type[Answer], text: str) -> Answer:
    """The model's JSON (a ```json fence allowed) as ``schema``."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1)
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as error:
        raise InvalidAnswer(f"not valid JSON: {error}") from None
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise InvalidAnswer(f"does not match the schema: {error}") from None


def schema_json(schema: type[Answer]) -> str:
    """The JSON schema the prompt shows and the cache key includes."""
    return json.dumps(schema.model_json_schema(), sort_keys=True, separators=(",", ":"))
