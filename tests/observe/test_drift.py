"""The drift monitor: alone, and end to end from good output to drifted output and back."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from bff.observe.drift import DriftMonitor, DriftPolicy, DriftStatus
from bff.testing.server import SimulatorServer
from tests.api.helpers import mutate
from tests.conftest import BffFactory
from tests.observe.helpers import Scrape

TEXT = "Please call Bob today. Review the Q3 budget next week."
MODELS = """{ models { route breakerState recentRequests validationFailureRate
  baselineFailureRate drifting tasks { task recentRequests validationFailureRate drifting } } }"""


def test_an_alert_raises_past_the_threshold_and_clears_below_half_of_it() -> None:
    changes: list[DriftStatus] = []
    monitor = DriftMonitor(DriftPolicy(window=10, min_samples=5, threshold=0.4,
                                       expected_rate=0.0), changes.append)  # fmt: skip

    def add(failed: bool, times: int = 1) -> list[bool]:
        for _ in range(times):
            monitor.record("t", "r", failed=failed)
        return [c.drifting for c in changes]

    assert add(False, 5) == [] and add(True, 3) == []  # 3 of 8: under 0.4
    assert add(True) == [True]  # 4 of 9
    assert changes[0].failure_rate == pytest.approx(4 / 9) and changes[0].baseline == 0.0
    # Good samples push the old good ones out first, then the bad ones; the alert holds
    # while the rate stays at half the threshold or more (0.4, 0.4, 0.3, 0.2).
    assert add(False, 6) == [True] and add(False) == [True] and add(False) == [True]
    assert add(False) == [True, False]  # 0.1
    (status,) = monitor.statuses()
    assert status.failure_rate == pytest.approx(0.1) and not status.drifting


def test_without_an_expected_rate_the_baseline_is_the_long_run_rate() -> None:
    monitor = DriftMonitor(DriftPolicy(window=4, min_samples=4, threshold=0.5))
    for _ in range(4):
        monitor.record("t", "r", failed=False)
    assert monitor.statuses()[0].baseline is None  # nothing has left the window yet
    for _ in range(4):
        monitor.record("t", "r", failed=True)
    (status,) = monitor.statuses()
    assert (status.baseline, status.failure_rate, status.drifting) == (0.0, 1.0, True)
    for _ in range(20):  # a drift that lasts becomes the long-run rate, and the alert clears
        monitor.record("t", "r", failed=True)
    assert monitor.statuses()[0].drifting is False


def _models(url: str) -> list[dict[str, Any]]:
    response = httpx.post(f"{url}/graphql", json={"query": MODELS}, timeout=10)
    models: list[dict[str, Any]] = response.json()["data"]["models"]
    return models


def _route(url: str) -> dict[str, Any]:
    (route,) = [m for m in _models(url) if m["route"] == "sim/gpt-4o"]
    return route


def test_drifted_output_raises_the_alert_and_recovery_clears_it(
    bff: BffFactory, sim: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bff.observe.hub")
    drift = {"drift_window": 6, "drift_min_samples": 4, "drift_threshold": 0.5}
    url = bff(max_attempts=1, breaker_threshold=10, drift_expected_rate=0.0, **drift).url
    for _ in range(4):
        mutate(url, "ExtractActionPlan", text=TEXT)
    route = _route(url)
    assert (route["recentRequests"], route["validationFailureRate"]) == (4, 0.0)
    assert route["drifting"] is False and route["baselineFailureRate"] == 0.0
    assert route["breakerState"] == "CLOSED"

    # The provider's model changes: a chatty suffix overflows the summary's 120 characters.
    sim.simulator.add({"fault": "drift", "repeat": 3})
    for _ in range(3):
        payload = mutate(url, "ExtractActionPlan", text=TEXT)["extractActionPlan"]
        assert payload["meta"]["fallback"] == "SAFE_RESPONSE"  # users still get valid data
    route = _route(url)
    assert route["drifting"] is True and route["validationFailureRate"] == 0.5
    (task,) = route["tasks"]
    assert task == {"task": "extractActionPlan", "recentRequests": 6,
                    "validationFailureRate": 0.5, "drifting": True}  # fmt: skip
    metrics = Scrape(url)
    assert metrics.value("bff_drift_alert", task="extractActionPlan", route="sim/gpt-4o") == 1
    assert metrics.value("bff_drift_alerts_total", route="sim/gpt-4o") == 1
    raised = [r for r in caplog.records if r.getMessage() == "drift alert raised"]
    assert len(raised) == 1 and raised[0].levelno == logging.WARNING
    assert raised[0].fields["route"] == "sim/gpt-4o"  # type: ignore[attr-defined]

    for _ in range(6):  # the provider fixes it
        mutate(url, "ExtractActionPlan", text=TEXT)
    route = _route(url)
    assert route["drifting"] is False and route["validationFailureRate"] == 0.0
    assert Scrape(url).value("bff_drift_alert", route="sim/gpt-4o") == 0
    drift = [
        (r.getMessage(), r.levelname)
        for r in caplog.records
        if getattr(r, "fields", {}).get("event") in ("drift_alert", "drift_cleared")
    ]
    assert drift == [("drift alert raised", "WARNING"), ("drift alert cleared", "INFO")]


def test_models_lists_every_configured_route(bff: BffFactory, sim: SimulatorServer) -> None:
    url = bff(fallback_models=["sim/gpt-4o-mini"]).url
    routes = [m["route"] for m in _models(url)]
    assert routes == ["sim/gpt-4o", "sim/gpt-4o-mini"]
    assert all(m["recentRequests"] == 0 and m["baselineFailureRate"] is None
               for m in _models(url))  # fmt: skip
