"""Structured logs of a real `bff serve`: JSON lines with request and run ids, one summary
per run, and no PII from requests that carried some."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import httpx

from bff.testing.server import free_port
from tests.api.helpers import operation
from tests.processes import BFF, clean_env, running

PII = {
    "email": "jane.doe@example.com",
    "phone": "+44 20 7946 0958",
    "card": "4111 1111 1111 1111",
    "ssn": "078-05-1120",
    "key": "sk-proj-abcdefghijklmnopqrstuvwx",
}
TEXT = (
    f"Email {PII['email']} today, call {PII['phone']}, refund card {PII['card']}, "
    f"check SSN {PII['ssn']} and rotate {PII['key']}."
)


def test_json_lines_with_ids_and_no_pii() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_env(
        BFF_LOG_LEVEL="debug",
        BFF_DEMO_CHUNK_DELAY_S="0",
        BFF_DEMO_FAULT_RATE="1",
        BFF_DEMO_FAULT_KINDS="malformed,drift",
        BFF_RETRY_BASE_S="0.01",
    )
    argv = [*BFF, "serve", "--port", str(port)]
    with running(argv, ready_url=f"{url}/healthz", env=env) as process:
        for name in ("ExtractActionPlan", "SummarizeTicket"):
            response = httpx.post(
                f"{url}/graphql",
                json={"query": operation(name), "variables": {"text": TEXT}},
                headers={"x-request-id": f"req-{name}"},
                timeout=30,
            )
            assert response.status_code == 200
            assert response.headers["x-request-id"] == f"req-{name}"
        chat = {"messages": [{"role": "user", "content": TEXT}]}
        assert httpx.post(f"{url}/chat/stream", json=chat, timeout=30).status_code == 200
        # PII in a query string: the access line logs the path only.
        httpx.get(f"{url}/graphql", params={"query": "{ health { status } }", "v": TEXT})
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=15)

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines, output
    for secret in PII.values():
        assert secret not in output
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)

    summaries = [line for line in lines if line["message"] == "run finished"]
    assert [s["task"] for s in summaries] == ["extractActionPlan", "summarizeTicket", "chat"]
    for summary in summaries:
        assert summary["run_id"] and summary["request_id"]
        assert {"route", "attempts", "outcome", "prompt_tokens", "latency_ms"} <= summary.keys()
        assert summary["redactions"]["EMAIL"] == 1
        # every line logged during the run carries the run's ids
        run_lines = [line for line in lines if line.get("run_id") == summary["run_id"]]
        assert {line["request_id"] for line in run_lines} == {summary["request_id"]}
    first = summaries[0]
    assert first["request_id"] == "req-ExtractActionPlan"
    access: list[dict[str, Any]] = [line for line in lines if line.get("event") == "access"]
    assert {"method", "path", "status", "duration_ms"} <= access[0].keys()
    assert any(a["path"] == "/graphql" and a["method"] == "GET" for a in access)
    assert any(line["message"].startswith("attempt failed") for line in lines), (
        "the fault profile should have failed some attempt"
    )
