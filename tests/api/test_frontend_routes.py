"""The page's routes: the static files with their headers, the operations, the fault switch."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bff.api.frontend import CSP
from bff.testing.server import SimulatorServer
from tests.api.helpers import operation
from tests.conftest import BffFactory


def test_the_page_is_served_with_a_strict_policy(bff: BffFactory) -> None:
    url = bff().url
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/main.js">' in page.text
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    script = httpx.get(f"{url}/js/tasks.js")
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "innerHTML" not in script.text
    assert httpx.get(f"{url}/nope.js").status_code == 404
    # Paths no route has are the page's: other methods on them are 404, while a
    # route's own path keeps its 405.
    assert httpx.put(f"{url}/index.html").status_code == 404
    assert httpx.post(f"{url}/nope").json()["error"]["code"] == "NOT_FOUND"
    refused = httpx.post(f"{url}/healthz")
    assert refused.status_code == 405
    assert set(refused.headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_operations_json_carries_each_operation_with_its_fragments(bff: BffFactory) -> None:
    operations = httpx.get(f"{bff().url}/operations.json").json()
    watch = operations["WatchActionPlan"]
    assert (watch["kind"], watch["field"]) == ("subscription", "extractActionPlan")
    assert watch["document"].startswith("subscription WatchActionPlan")
    assert "fragment RunMetaFields on RunMeta" in watch["document"]
    assert operations["Models"]["kind"] == "query"
    assert operations["ExtractActionPlan"]["document"] == operation("ExtractActionPlan")


def _switch(url: str, body: Any) -> httpx.Response:
    return httpx.put(f"{url}/demo/faults", json=body, timeout=10)


def test_the_fault_switch_changes_one_demo_route(bff: BffFactory) -> None:
    url = bff(model="demo/heuristic", fallback_models=["demo/backup"]).url
    state = httpx.get(f"{url}/demo/faults").json()
    assert [r["route"] for r in state["routes"]] == ["demo/heuristic", "demo/backup"]
    assert "drift" in state["kinds"] and all(r["rate"] == 0 for r in state["routes"])
    answer = _switch(url, {"route": "demo/heuristic", "rate": 1, "kinds": ["server_error"]})
    assert answer.status_code == 200
    heuristic, backup = answer.json()["routes"]
    assert (heuristic["rate"], heuristic["kinds"]) == (1, ["server_error"])
    assert backup["rate"] == 0
    query = {"query": operation("ExtractActionPlan"), "variables": {"text": "Call Bob."}}
    payload = httpx.post(f"{url}/graphql", json=query, timeout=30).json()
    meta = payload["data"]["extractActionPlan"]["meta"]
    assert (meta["model"], meta["fallback"]) == ("demo/backup", "MODEL")
    assert {e["kind"] for e in meta["errors"]} == {"server_error"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"route": "demo/other", "rate": 1, "kinds": ["drift"]}, "not a demo route"),
        ({"route": "demo/heuristic", "rate": 2, "kinds": ["drift"]}, "rate"),
        ({"route": "demo/heuristic", "rate": 1, "kinds": ["meteor"]}, "kinds"),
        ({"route": "demo/heuristic", "rate": 1, "kinds": []}, "kinds"),
        ("not an object", "Input should be"),
    ],
)
def test_a_bad_fault_switch_changes_nothing(bff: BffFactory, body: Any, message: str) -> None:
    url = bff(model="demo/heuristic").url
    answer = _switch(url, body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "INPUT_REJECTED"
    assert message in answer.json()["error"]["message"]
    assert httpx.get(f"{url}/demo/faults").json()["routes"][0]["rate"] == 0


def test_no_fault_switch_without_a_demo_route(bff: BffFactory, sim: SimulatorServer) -> None:
    url = bff().url  # routed to the simulator only
    assert httpx.get(f"{url}/demo/faults").status_code == 404
    assert _switch(url, {"route": "demo/heuristic", "rate": 1, "kinds": ["drift"]}).status_code in (
        404,
        405,
    )
