"""The HTML report in Debian's Chromium: its charts render, nothing is fetched, nothing
fails, and the hostile markup in a case shows as text instead of running."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request

from bff.testing.server import SimulatorServer
from tests.browser.conftest import Shots
from tests.evals.eval_helpers import ROUTE, answer, plan, sim_config
from tests.evals.eval_helpers import write_dataset as write
from tests.processes import BFF, clean_env

SCRIPT_IN_INPUT = "<script>window.__pwned = 1</script>"
SCRIPT_IN_EXPECTED = "</pre><script>window.__pwned = 2</script>"
IMG_IN_OUTPUT = '<img src=x onerror="window.__pwned = 3">'


def bff(*argv: str | Path) -> int:
    """`bff` in a process of its own: Playwright's event loop runs on this thread."""
    command = [*BFF, *map(str, argv)]
    return subprocess.run(command, env=clean_env(), capture_output=True, timeout=60).returncode


@pytest.fixture
def reports(tmp_path: Path, sim: SimulatorServer) -> Path:
    """Two runs of a dataset full of markup (the second regresses), and their reports."""
    dataset = write(tmp_path / "d.jsonl", [
        {"id": "<b>bold-id</b>", "input": {"text": f"Call Bob. {SCRIPT_IN_INPUT}"},
         "expected": plan(("call", 1, f"Call Bob {SCRIPT_IN_EXPECTED}")), "tags": ["<i>x</i>"]},
        {"id": "plain", "input": {"text": "Email Ann."},
         "expected": plan(("email", 2, "Email Ann"))},
    ])  # fmt: skip
    config = sim_config(tmp_path, sim)
    sim.simulator.add(
        answer(plan(("call", 1, f"Call Bob {IMG_IN_OUTPUT}"))),
        answer(plan(("email", 2, "Email Ann"))),
        answer(plan(("call", 1, f"Call Bob {IMG_IN_OUTPUT}"))),
        answer(plan(("email", 5, "Email Ann"))),
    )
    for name in ("base", "new"):
        assert bff("eval", "extractActionPlan", "--route", ROUTE, "--dataset", dataset,
                   "--config", config, "--concurrency", "1", "--out", tmp_path / f"{name}.json",
                   "--html", tmp_path / f"{name}.html") == 0  # fmt: skip
    base, new = tmp_path / "base.json", tmp_path / "new.json"
    assert bff("eval", "compare", base, new, "--html", tmp_path / "both.html") == 1
    return tmp_path


def _open(page: Page, path: Path) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    fetched: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            errors.append(message.text)

    def request(sent: Request) -> None:
        fetched.append(sent.url)

    page.on("console", console)
    page.on("request", request)
    page.goto(path.as_uri())
    return errors, fetched


def _charts_render(page: Page, least: int) -> None:
    charts = page.locator("svg")
    assert charts.count() >= least
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 20
    bars = page.locator("svg rect.bar")
    assert bars.count() > 0
    sizes = [bars.nth(i).bounding_box() for i in range(bars.count())]
    assert all(b is not None and b["width"] > 0 and b["height"] > 0 for b in sizes)


def _markup_stayed_text(page: Page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    worst = page.locator("#worst").inner_text()
    assert SCRIPT_IN_INPUT.replace('"', '\\"') in worst
    assert SCRIPT_IN_EXPECTED in worst and "onerror" in worst


def test_one_run(page: Page, shots: Shots, reports: Path) -> None:
    errors, fetched = _open(page, reports / "base.html")
    _charts_render(page, least=3)
    _markup_stayed_text(page)
    assert page.locator("#fields svg rect.bar").count() == 1  # the one field: actions
    assert "<b>bold-id</b>" in page.locator("#worst h3").first.inner_text()
    assert "<i>x</i>" in page.locator("#tags").inner_text()
    shots.take("one-run")
    assert errors == [] and fetched == [(reports / "base.html").as_uri()]


def test_two_runs_side_by_side(page: Page, shots: Shots, reports: Path) -> None:
    errors, fetched = _open(page, reports / "both.html")
    _charts_render(page, least=3)
    _markup_stayed_text(page)
    assert page.locator("#fields svg rect.bar").count() == 2  # base and new
    assert page.locator("#verdict").inner_text().startswith("Regression")
    changes = page.locator("#changes").inner_text()
    assert "regressed (fails now)" in changes and "plain" in changes
    assert page.locator("#overview th", has_text="delta").count() == 1
    assert "got in the base run" in page.locator("#worst").inner_text()
    shots.take("two-runs")
    assert errors == [] and fetched == [(reports / "both.html").as_uri()]
