"""The browser tests' fixtures (Debian's Chromium through Playwright), for the report."""

from tests.browser.conftest import browser, page, shots  # noqa: F401
