"""Model routes: ``provider/model`` strings such as ``openai/gpt-4o`` or ``demo/heuristic``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


def parse_route(text: str) -> Route:
    """Split ``provider/model``; the model part may itself contain slashes."""
    provider, sep, model = text.strip().partition("/")
    if not sep or not provider or not model:
        raise ValueError(f"{text!r} is not a model route of the form provider/model")
    return Route(provider, model)
