"""Headless Chromium (Debian's, driven by Playwright) against `bff serve` on loopback."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from bff.testing.server import SimulatorServer, free_port
from tests.processes import BFF, clean_env, running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Debian's Chromium as root, on a machine with no outside network: no sandbox, no GPU,
# and none of the background connections it would try at start.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API runs an event loop on this thread while it is
    # open, and the async tests that follow need the thread without one.
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class Shots:
    """Screenshots of a test's states, kept in test-artifacts/screenshots/."""

    def __init__(self, page: Page, test: str) -> None:
        self._page = page
        self._test = re.sub(r"\W+", "-", test).strip("-")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(self, state: str) -> Path:
        path = ARTIFACTS / f"{self._test}--{state}.png"
        self._page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1300, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    page.problems = problems  # type: ignore[attr-defined]
    yield page
    context.close()
    assert problems == [], problems


@pytest.fixture
def shots(page: Page, request: pytest.FixtureRequest) -> Shots:
    return Shots(page, request.node.name)


ServeFactory = Callable[..., str]


@pytest.fixture
def serve(tmp_path: Path, sim: SimulatorServer) -> Iterator[ServeFactory]:
    """Start `bff serve` (demo model by default, or ``simulated=True`` routed to the
    loopback simulator) with extra settings; returns its URL."""
    with ExitStack() as stack:

        def start(*, simulated: bool = False, **settings: str) -> str:
            port = free_port()
            env = clean_env(BFF_DEMO_CHUNK_DELAY_S="0.001", BFF_RETRY_BASE_S="0.05",
                            BFF_LOG_LEVEL="warning", **settings)  # fmt: skip
            argv = [*BFF, "serve", "--port", str(port)]
            if simulated:
                config = tmp_path / f"sim-{port}.toml"
                config.write_text(
                    f'model = "sim/gpt-4o"\n[endpoints.sim]\nbase_url = "{sim.base_url}"\n'
                )
                argv += ["--config", str(config)]
            url = f"http://127.0.0.1:{port}"
            stack.enter_context(running(argv, ready_url=f"{url}/healthz", env=env))
            return url

        yield start
