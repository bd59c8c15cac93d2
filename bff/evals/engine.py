"""The pipeline an eval runs through: the app's own, from the settings ``bff serve`` reads,
with the model route forced.

Sanitizing, guards, retries, fallbacks, tools and validation all apply as they do for a
request. Breakers and budgets stay in this process even when ``BFF_REDIS_URL`` is set:
an eval must not open the fleet's breakers or spend its clients' allowances.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bff.api.runtime import breaker_board, daily_ledger
from bff.config import Settings, load_settings
from bff.exceptions import ConfigError
from bff.pipeline import Pipeline
from bff.providers.registry import ProviderRegistry
from bff.retrieval import CorpusRetriever
from bff.tasks import Task


def eval_settings(config_file: Path | None, route: str, **overrides: Any) -> Settings:
    """The settings from the environment and ``config_file``, the primary route forced to
    ``route``; a bad route is a ConfigError naming ``--route``."""
    try:
        return load_settings(config_file, model=route, **overrides)
    except ConfigError as exc:
        problems = [
            ("--route" if name == "BFF_MODEL" else name, text) for name, text in exc.problems
        ]
        raise ConfigError(*problems[0], *problems[1:]) from None


def forced(task: Task[Any, Any], route: str, *, safe_response: bool = False) -> Task[Any, Any]:
    """``task`` answered first by ``route`` (its own route, if any, set aside). Without
    ``safe_response`` the task's safe response is set aside too: an eval scores what the
    routes answered, and a run they could not answer ends in its error code (a refusal
    is ``REFUSED``), not in the BFF's deterministic stand-in."""
    kept = task.safe_response if safe_response else None
    return dataclasses.replace(task, route=route, safe_response=kept)


@asynccontextmanager
async def eval_pipeline(settings: Settings) -> AsyncIterator[Pipeline]:
    """A pipeline over the configured providers, closed with them on exit."""
    registry = ProviderRegistry(settings)
    retriever = CorpusRetriever(settings)
    pipeline = Pipeline(
        registry.get,
        settings,
        board=breaker_board(settings, None),
        ledger=daily_ledger(settings, None, {}),
        retriever=retriever,
    )
    try:
        yield pipeline
    finally:
        await registry.aclose()
        retriever.close()
