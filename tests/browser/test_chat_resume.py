"""The demo page resumes a chat whose stream drops, in headless Chromium against `bff serve`.

The drop comes from Playwright's routing: the page's POST /chat/stream is answered
by this test, which relays the first ten events of the server's real stream (with
its `bff-stream-id`) and then ends the body, as a connection cut mid-answer would.
The page's resume (GET /chat/stream/{id}) reaches the server itself.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, Request, Route, expect

from bff.faults import chunk_text
from bff.testing.server import SimulatorServer
from tests.browser.conftest import ServeFactory, Shots
from tests.observe.helpers import Scrape, eventually

TEXT = " ".join(f"fog{i}" for i in range(80))
RELAYED = 10


def _first_events(url: str, body: bytes, count: int) -> tuple[str, str]:
    """The stream id and the first ``count`` events (as sent) of a real chat stream,
    whose connection is then closed."""
    headers = {"content-type": "application/json"}
    with httpx.stream("POST", f"{url}/chat/stream", content=body, headers=headers) as response:
        lines: list[str] = []
        events = 0
        for line in response.iter_lines():
            lines.append(line)
            events += line.startswith("data:")
            if events == count and line == "":
                break
        return response.headers["bff-stream-id"], "\r\n".join(lines) + "\r\n"


def test_a_dropped_chat_stream_resumes_without_repeating_text(
    page: Page, serve: ServeFactory, sim: SimulatorServer, shots: Shots
) -> None:
    url = serve(simulated=True, BFF_STREAM_RESUME_GRACE_S="30")
    # The upstream waits after 30 chunks until the test lets it go on.
    sim.simulator.add({"content": TEXT, "hold_after_chunks": 30})

    def cut_short(route: Route, request: Request) -> None:
        stream_id, events = _first_events(url, request.post_data_buffer or b"", RELAYED)
        headers = {"content-type": "text/event-stream", "bff-stream-id": stream_id}
        route.fulfill(status=200, headers=headers, body=events)

    page.route("**/chat/stream", cut_short)
    page.goto(url)
    page.wait_for_selector("body[data-ready]")
    page.fill("#chat-input", "Tell me about fog.")
    with page.expect_request(lambda r: "/chat/stream/" in r.url and r.method == "GET") as resumed:
        page.click("#chat-send")
    assert resumed.value.headers["last-event-id"] == str(RELAYED)
    reply = page.locator("#messages li.assistant")
    # Past the ten relayed events: what the run relayed after the drop, up to the hold.
    expect(reply.locator("[data-reply]")).to_contain_text("".join(chunk_text(TEXT)[: RELAYED + 5]))
    shots.take("chat-resumed-mid-answer")
    sim.simulator.release()
    expect(reply.locator(".note")).to_contain_text("sim/gpt-4o")
    expect(reply.locator("[data-reply]")).to_have_text(TEXT)  # every token, each once
    expect(reply).to_have_attribute("aria-busy", "false")
    expect(page.locator("#status")).to_have_text("Answer complete.")
    shots.take("chat-resumed")
    (record,) = sim.simulator.wait_until_settled()
    assert record.outcome == "completed"  # one upstream request, read to its end
    eventually(lambda: Scrape(url).value("bff_runs_total", task="chat", outcome="ok") == 1)
