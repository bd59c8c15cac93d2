"""The demo page in headless Chromium: each panel against the app served on loopback."""

from __future__ import annotations

import json

import httpx
from playwright.sync_api import ConsoleMessage, Page, Request, Response, Route, expect

from bff.testing.server import SimulatorServer
from tests.api.helpers import operation
from tests.browser.conftest import ServeFactory, Shots
from tests.observe.helpers import Scrape, eventually

XSS = "<img src=x onerror=alert(1)>"


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#status")).to_have_text("Ready.")


def _meta(page: Page, task: str, name: str) -> str:
    return page.locator(f"[data-result={task}] [data-meta='{name}']").inner_text()


def _sentences(url: str) -> dict[str, str]:
    """Each error code's sentence, as the API words it."""
    answer = httpx.post(f"{url}/graphql", json={"query": operation("ErrorCodes")}).json()
    return {e["code"]: e["message"] for e in answer["data"]["errorCodes"]}


def _shown(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]


def _operation_ids(url: str) -> dict[str, str]:
    return {name: op["id"] for name, op in httpx.get(f"{url}/operations.json").json().items()}


def _sends(request: Request, document_id: str) -> bool:
    return (
        request.method == "POST"
        and request.url.endswith("/graphql")
        and (request.post_data_json or {}).get("documentId") == document_id
    )


def _chat_stream(page: Page, body: str) -> None:
    """Answer the page's chat requests with ``body``, as a server-sent event stream."""
    page.route(
        "**/chat/stream",
        lambda route: route.fulfill(
            status=200, headers={"content-type": "text/event-stream"}, body=body
        ),
    )


def _chat(page: Page, message: str) -> None:
    page.fill("#chat-input", message)
    page.click("#chat-send")


def _refresh_operations(page: Page) -> None:
    """Fire the operations panel's 5 s refresh now, on the page's fake clock."""
    page.clock.fast_forward(5000)


def _switch_faults(page: Page, route: str, kind: str, percent: int) -> None:
    page.select_option(f"[data-fault-kind='{route}']", kind)
    page.fill(f"[data-fault-rate='{route}']", str(percent))
    page.click(f"[data-fault-apply='{route}']")
    expect(page.locator("#status")).to_contain_text(f"{route}: {kind} on {percent}%")


def test_a_task_run_reaches_the_validated_table(
    page: Page, serve: ServeFactory, shots: Shots
) -> None:
    _open(page, serve())
    shots.take("ready")
    page.click("[data-run=extractActionPlan]")
    result = page.locator("[data-result=extractActionPlan]")
    expect(result.locator("table tbody tr")).to_have_count(3)
    expect(result).to_have_attribute("data-typename", "ActionPlanResult")
    rows = result.locator("table tbody tr").all_inner_texts()
    assert rows[0].split("\t")[:2] == ["call", "1"] and "Call Bob today" in rows[0]
    assert _meta(page, "extractActionPlan", "model") == "demo/heuristic"
    assert _meta(page, "extractActionPlan", "attempts") == "1"
    assert _meta(page, "extractActionPlan", "fallback") == "NONE"
    expect(page.locator("[data-progress=extractActionPlan] [data-counter]")).to_have_text(
        "Validated."
    )
    expect(page.locator("#status")).to_have_text("extractActionPlan: validated result ready.")
    # the tool-using task answers through its lookup
    page.click("[data-run=briefCountry]")
    brief = page.locator("[data-result=briefCountry]")
    expect(brief.locator("dl.card")).to_contain_text("Tokyo")
    assert _meta(page, "briefCountry", "tool calls") == "1"
    steps = page.locator("[data-progress=briefCountry] li").all_inner_texts()
    assert steps == ["Called lookup_country (attempt 1 on demo/heuristic)"]
    shots.take("validated")


def test_faults_show_retries_and_a_fallback_then_validated_data(
    page: Page, serve: ServeFactory, shots: Shots
) -> None:
    _open(page, serve(BFF_FALLBACK_MODELS="demo/backup"))
    _switch_faults(page, "demo/heuristic", "malformed", 100)
    page.click("[data-run=summarizeTicket]")
    result = page.locator("[data-result=summarizeTicket]")
    expect(result).to_have_attribute("data-typename", "TicketSummaryResult")
    steps = page.locator("[data-progress=summarizeTicket] li")
    texts = steps.all_inner_texts()
    assert [t.split(" ")[0] for t in texts] == ["Retrying", "Retrying", "Falling"], texts
    assert "after malformed" in texts[0]
    assert "from demo/heuristic to demo/backup" in texts[2]
    assert _meta(page, "summarizeTicket", "model") == "demo/backup"
    assert _meta(page, "summarizeTicket", "attempts") == "4"
    assert _meta(page, "summarizeTicket", "fallback") == "MODEL"
    expect(result.locator("dl.card")).to_contain_text("Headline")
    shots.take("retried-then-validated")


def test_a_task_error_is_a_clear_message(page: Page, serve: ServeFactory, shots: Shots) -> None:
    url = serve(BFF_CLIENT_DAILY_TOKENS="10")
    _open(page, url)
    page.click("[data-run=extractActionPlan]")
    error = page.locator("[data-result=extractActionPlan] [data-error-code]")
    expect(error).to_have_attribute("data-error-code", "BUDGET_EXCEEDED")
    sentence = _sentences(url)["BUDGET_EXCEEDED"]
    expect(error).to_have_text(f"{_shown(sentence)}.")
    expect(page.locator("[data-result=extractActionPlan] table")).to_have_count(0)
    shots.take("budget-exceeded")


def test_the_operations_panel_shows_an_open_breaker(
    page: Page, serve: ServeFactory, shots: Shots
) -> None:
    page.clock.install()  # time flows, and the test can jump it to the panel's refresh
    _open(page, serve())
    row = page.locator("tr[data-route='demo/heuristic']")
    expect(row.locator("[data-breaker]")).to_have_text("CLOSED")
    _switch_faults(page, "demo/heuristic", "server_error", 100)
    page.click("[data-run=extractActionPlan]")
    # three failed attempts open the circuit; the safe response still answers
    expect(page.locator("[data-result=extractActionPlan]")).to_have_attribute(
        "data-typename", "ActionPlanResult"
    )
    assert _meta(page, "extractActionPlan", "fallback") == "SAFE_RESPONSE"
    _refresh_operations(page)
    expect(row.locator("[data-breaker]")).to_have_text("OPEN")
    shots.take("breaker-open")


def test_drift_shows_in_the_operations_panel(page: Page, serve: ServeFactory) -> None:
    url = serve(BFF_DRIFT_WINDOW="4", BFF_DRIFT_MIN_SAMPLES="2", BFF_DRIFT_EXPECTED_RATE="0",
                BFF_BREAKER_THRESHOLD="50", BFF_MAX_ATTEMPTS="1")  # fmt: skip
    page.clock.install()  # time flows, and the test can jump it to the panel's refresh
    _open(page, url)
    _switch_faults(page, "demo/heuristic", "drift", 100)
    for _ in range(2):
        page.click("[data-run=extractActionPlan]")
        expect(page.locator("[data-run=extractActionPlan]")).to_be_enabled()
    row = page.locator("tr[data-route='demo/heuristic']")
    _refresh_operations(page)
    expect(row.locator("[data-drift]")).to_have_text("DRIFTING")


def test_chat_streams_and_stop_cancels_the_upstream_request(
    page: Page, serve: ServeFactory, sim: SimulatorServer, shots: Shots
) -> None:
    url = serve(simulated=True)
    # Mid-answer, the upstream waits for as long as the test runs: only Stop can end it.
    sim.simulator.add({"content": "fog " * 400, "hold_after_chunks": 40})
    _open(page, url)
    page.fill("#chat-input", "Tell me about fog.")
    page.click("#chat-send")
    reply = page.locator("#messages li.assistant [data-reply]")
    expect(reply).to_contain_text("fog fog fog")
    shots.take("chat-streaming")
    page.click("#chat-stop")
    expect(page.locator("#messages li.assistant .note")).to_have_text("Stopped.")
    expect(page.locator("#chat-send")).to_be_enabled()
    (record,) = sim.simulator.wait_until_settled()
    assert record.hung_up and record.chunks_sent == 40 < record.chunks_total
    eventually(lambda: Scrape(url).value("bff_runs_total", task="chat", outcome="cancelled") == 1)
    assert Scrape(url).value("bff_open_streams", kind="sse") == 0
    shots.take("chat-stopped")
    # a failure after the first token shows inline
    sim.simulator.add({"fault": "drop", "fault_after_chunks": 5})
    page.click("#chat-send")
    error = page.locator("#messages li.assistant").nth(1).locator("[data-error-code]")
    expect(error).to_have_attribute("data-error-code", "PROVIDER_UNAVAILABLE")
    expect(error).to_contain_text(_shown(_sentences(url)["PROVIDER_UNAVAILABLE"]))
    shots.take("chat-error")


def test_stop_cancels_a_task_run_and_its_upstream_request(
    page: Page, serve: ServeFactory, sim: SimulatorServer
) -> None:
    url = serve(simulated=True)
    plan = {"actions": [{"action_type": "call", "priority": 1, "summary": "Call Bob " * 30}]}
    # Mid-answer, the upstream waits for as long as the test runs: only Stop can end it.
    sim.simulator.add({"content": json.dumps(plan), "hold_after_chunks": 20})
    _open(page, url)
    page.click("[data-run=extractActionPlan]")
    counter = page.locator("[data-progress=extractActionPlan] [data-counter]")
    expect(counter).to_contain_text("tokens received")
    page.click("[data-stop=extractActionPlan]")
    result = page.locator("[data-result=extractActionPlan]")
    expect(result.locator("[data-stopped]")).to_have_text("Stopped: the run was cancelled.")
    expect(result.locator("[role=alert]")).to_have_count(0)
    expect(counter).to_have_text("Stopped.")
    expect(page.locator("#status")).to_have_text("extractActionPlan: stopped.")
    expect(page.locator("[data-run=extractActionPlan]")).to_be_enabled()
    (record,) = sim.simulator.wait_until_settled()
    assert record.hung_up and record.chunks_sent == 20 < record.chunks_total


def test_the_error_sentences_are_the_apis(page: Page, serve: ServeFactory) -> None:
    """The page words each error code as `Query.errorCodes` does: change the answer and
    the page follows."""
    url = serve(BFF_CLIENT_DAILY_TOKENS="10")
    ids = _operation_ids(url)
    codes = [{"code": c, "message": f"{c.lower()} in the API's words"} for c in _sentences(url)]

    def graphql(route: Route, request: Request) -> None:
        if _sends(request, ids["ErrorCodes"]):
            route.fulfill(json={"data": {"errorCodes": codes}})
        else:
            route.continue_()

    page.route("**/graphql", graphql)
    _open(page, url)
    page.click("[data-run=extractActionPlan]")
    error = page.locator("[data-result=extractActionPlan] [data-error-code]")
    expect(error).to_have_text("Budget_exceeded in the API's words.")
    _chat_stream(page, 'event: error\ndata: {"code":"REFUSED","message":"no"}\n\n')
    _chat(page, "Tell me about tides.")
    expect(page.locator("#messages [data-error-code=REFUSED]")).to_have_text(
        "Refused in the API's words: no"
    )


def test_a_chat_stream_without_a_terminal_event_is_an_error(
    page: Page, serve: ServeFactory, shots: Shots
) -> None:
    """The BFF ends every stream with `done` or `error` (an upstream cut becomes an
    `error` event), so this stream comes from the browser's side: one that just stops,
    as behind a proxy that cut it, is an incomplete answer, and the page says so."""
    _open(page, serve())
    tokens = 'event: token\ndata: {"text":"Half an"}\n\nevent: token\ndata: {"text":" answer"}\n\n'
    _chat_stream(page, tokens)
    _chat(page, "Tell me about tides.")
    reply = page.locator("#messages li.assistant").last
    expect(reply.locator("[data-failed]")).to_have_text(
        "The request failed: the stream ended before the answer was complete"
    )
    expect(reply.locator("[data-reply]")).to_have_text("Half an answer")
    expect(reply).to_have_attribute("aria-busy", "false")
    expect(page.locator("#status")).to_have_text("The request failed.")
    expect(page.locator("#chat-send")).to_be_enabled()
    shots.take("chat-no-terminal-event")
    # a frame that is not JSON is an error too, shown in the reply (the page fixture
    # fails the test on any uncaught exception)
    _chat_stream(page, 'event: token\ndata: {"text":"fine"}\n\nevent: token\ndata: {"text":\n\n')
    _chat(page, "Again.")
    reply = page.locator("#messages li.assistant").last
    expect(reply.locator("[data-failed]")).to_have_text(
        "The request failed: the server sent a token event whose data is not a JSON object"
    )
    expect(reply.locator("[data-reply]")).to_have_text("fine")


def test_chat_reads_server_sent_events_as_the_standard_says(
    page: Page, serve: ServeFactory
) -> None:
    _open(page, serve())
    # data over several lines, each kind of line end, comments, no space after a colon,
    # two spaces (the second is data), fields the page ignores
    stream = (
        ': a comment\r\nevent: token\r\nid: 1\r\ndata: {"text":\r\ndata:  "Fog "}\r\n\r\n'
        'event: token\rdata:{"text":\rdata:"rolls"\rdata: }\r\r'
        'event:token\nretry: 100\nwhatever: x\ndata:  {"text": " in."}\n:ping\n\n'
        'event: done\ndata: {"model":"sim/gpt-4o","completionTokens":3,\n'
        'data: "latencyMs":12.4}\n\n'
    )
    _chat_stream(page, stream)
    _chat(page, "Tell me about fog.")
    expect(page.locator("#messages .note")).to_have_text("sim/gpt-4o · 3 tokens · 12 ms")
    expect(page.locator("#messages [data-reply]")).to_have_text("Fog rolls in.")
    # the parser itself, on what JSON data cannot show (the lines of an event's data are
    # joined with a line feed; an event the stream ends inside is dropped), fed in two
    # pieces cut at every point
    results = page.evaluate(
        """async (text) => {
            const { EventStreamParser } = await import("/js/sse.js");
            const results = [];
            for (let cut = 0; cut <= text.length; cut++) {
                const parser = new EventStreamParser();
                results.push([...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))]);
            }
            return results;
        }""",
        "data: one\r\ndata:two\rdata\n\nevent: x\n\n: c\ndata:  3\r\revent: cut\ndata: lost",
    )
    expected = [{"type": "message", "data": "one\ntwo\n"}, {"type": "message", "data": " 3"}]
    assert all(events == expected for events in results), results


def test_without_a_demo_route_the_page_asks_for_no_fault_switch(
    page: Page, serve: ServeFactory
) -> None:
    url = serve(simulated=True)
    ids = _operation_ids(url)
    errors: list[str] = []
    requests: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", console)
    page.on("request", lambda request: requests.append(request.url))
    with page.expect_response(lambda r: _sends(r.request, ids["FaultSwitch"])) as answer:
        _open(page, url)
    response: Response = answer.value
    assert response.json() == {"data": {"health": {"faultSwitch": False}}}
    page.wait_for_load_state("networkidle")
    expect(page.locator("#routes tbody tr[data-route='sim/gpt-4o']")).to_have_count(1)
    expect(page.locator("#faults")).to_be_empty()
    assert [r for r in requests if "/demo/faults" in r] == []
    assert errors == []


def test_model_output_renders_as_text_and_runs_nothing(
    page: Page, serve: ServeFactory, sim: SimulatorServer, shots: Shots
) -> None:
    url = serve(simulated=True)
    plan = {"actions": [{"action_type": "call", "priority": 1, "summary": XSS}]}
    sim.simulator.add({"content": json.dumps(plan)}, {"content": f"Here: {XSS} done"})
    _open(page, url)
    page.click("[data-run=extractActionPlan]")
    cell = page.locator("[data-result=extractActionPlan] table tbody td").nth(2)
    expect(cell).to_have_text(XSS)
    page.fill("#chat-input", "Show me markup.")
    page.click("#chat-send")
    expect(page.locator("#messages [data-reply]")).to_have_text(f"Here: {XSS} done")
    expect(page.locator("#messages .note")).not_to_be_empty()
    assert page.locator("main img").count() == 0
    assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    shots.take("inert-markup")
    # the page is served with a policy that would block inline script anyway
    csp = httpx.get(url).headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_keyboard_alone_runs_a_task_and_the_status_region_tells(
    page: Page, serve: ServeFactory
) -> None:
    _open(page, serve())
    assert page.get_attribute("#status", "aria-live") == "polite"
    page.focus("#task-summarizeTicket-text")
    assert page.evaluate("document.activeElement.labels[0].textContent") == "Text"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.run") == "summarizeTicket"
    page.keyboard.press("Enter")
    expect(page.locator("[data-result=summarizeTicket]")).to_have_attribute(
        "data-typename", "TicketSummaryResult"
    )
    expect(page.locator("#status")).to_have_text("summarizeTicket: validated result ready.")


def test_behind_a_key_and_trusted_documents_the_page_asks_for_the_key(
    page: Page, serve: ServeFactory, shots: Shots
) -> None:
    """A server that wants a key and runs only trusted documents: the page says what is
    missing, and once the key is entered it works, sending operations by id."""
    key = "page-key-0123456789abcdef"
    url = serve(BFF_API_KEYS=key, BFF_TRUSTED_DOCUMENTS="only")
    page.goto(url)
    expect(page.locator("[role=alert]").first).to_contain_text("credentials are required")
    shots.take("no-key")
    page.fill("#api-key", key)
    page.locator("#api-key").dispatch_event("change")
    _open(page, url)  # the key is kept for the tab
    assert page.input_value("#api-key") == key
    page.click("[data-run=extractActionPlan]")
    result = page.locator("[data-result=extractActionPlan]")
    expect(result).to_have_attribute("data-typename", "ActionPlanResult")
    page.fill("#chat-input", "Tell me about tides.")
    page.click("#chat-send")
    expect(page.locator("#messages li.assistant .note")).to_contain_text("tokens")
    shots.take("with-key")
