"""Reading /metrics the way Prometheus does."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """One scrape of ``/metrics``: sample values by name and labels."""

    def __init__(self, url: str) -> None:
        response = httpx.get(f"{url}/metrics", timeout=10)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        self.text = response.text
        self.samples = [
            sample
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        ]

    @classmethod
    def value_of(cls, url: str, name: str, **labels: str) -> float:
        """One fresh scrape's :meth:`value`."""
        return cls(url).value(name, **labels)

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels``."""
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def label_values(self) -> set[str]:
        return {value for s in self.samples for value in s.labels.values()}


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for ``check()`` to hold, scraping again each 20 ms: for what the server records
    as a request unwinds, after the client has its answer and with no message to say so.
    ``timeout`` only bounds a failure; it is never what a passing test waits for."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"still false after {timeout:.0f}s: {check}"
        time.sleep(0.02)
