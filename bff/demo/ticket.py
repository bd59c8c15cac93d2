"""The second reference task: a support ticket squeezed into a tight, typed summary."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

HEADLINE_MAX = 60
POINT_MAX = 80
MAX_POINTS = 3


class Sentiment(StrEnum):
    """How the customer feels."""

    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class Category(StrEnum):
    """What the ticket is about."""

    BILLING = "billing"
    BUG = "bug"
    FEATURE_REQUEST = "feature_request"
    ACCOUNT = "account"
    OTHER = "other"


class TicketSummary(BaseModel):
    """A support ticket in one headline, two labels, a flag and at most three points."""

    model_config = ConfigDict(extra="forbid")

    headline: str = Field(
        min_length=1, max_length=HEADLINE_MAX, description="The gist, in a few words."
    )
    sentiment: Sentiment = Field(description="How the customer feels.")
    category: Category = Field(description="What the ticket is about.")
    urgent: bool = Field(description="True when the customer is blocked or losing money.")
    key_points: list[str] = Field(
        max_length=MAX_POINTS, description="The facts a support agent needs, one line each."
    )


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_NEGATIVE = re.compile(
    r"\b(?:angry|annoyed|broken|crash\w*|disappointed|error|fail\w*|frustrat\w*|"
    r"never|terrible|unacceptable|worst|wrong|can't|cannot|doesn't|won't)\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"\b(?:great|love|thanks?|thank you|happy|excellent|awesome|appreciate\w*)\b", re.IGNORECASE
)
_URGENT = re.compile(
    r"\b(?:urgent\w*|asap|immediately|blocked|outage|down|production|losing|critical)\b",
    re.IGNORECASE,
)
_CATEGORIES: tuple[tuple[Category, re.Pattern[str]], ...] = tuple(
    (category, re.compile(pattern, re.IGNORECASE))
    for category, pattern in (
        (Category.BILLING, r"\b(?:invoice|bill\w*|charg\w*|refund|payment|price|subscription)\b"),
        (Category.BUG, r"\b(?:bug|crash\w*|error|broken|fail\w*|exception|doesn't work)\b"),
        (Category.ACCOUNT, r"\b(?:login|log in|password|account|sign in|2fa|locked)\b"),
        (Category.FEATURE_REQUEST, r"\b(?:feature|would be nice|wish|could you add|request)\b"),
    )
)


def summarize_ticket(text: str) -> TicketSummary:
    """Label and condense ``text`` with keyword rules."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    headline = _fit(sentences[0] if sentences else "Empty ticket", HEADLINE_MAX) or "Ticket"
    negative, positive = len(_NEGATIVE.findall(text)), len(_POSITIVE.findall(text))
    if negative > positive:
        sentiment = Sentiment.NEGATIVE
    elif positive > negative:
        sentiment = Sentiment.POSITIVE
    else:
        sentiment = Sentiment.NEUTRAL
    category = next((c for c, p in _CATEGORIES if p.search(text)), Category.OTHER)
    points = [_fit(s, POINT_MAX) for s in sentences[1 : 1 + MAX_POINTS]]
    return TicketSummary(
        headline=headline,
        sentiment=sentiment,
        category=category,
        urgent=bool(_URGENT.search(text)),
        key_points=[p for p in points if p],
    )


def _fit(sentence: str, limit: int) -> str:
    sentence = " ".join(sentence.split()).rstrip(".!?;,")
    if len(sentence) <= limit:
        return sentence
    return sentence[: limit - 1].rsplit(" ", 1)[0].rstrip(".,;:") + "\u2026"
