"""Reading /metrics the way Prometheus does."""

from __future__ import annotations

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

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels``."""
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def label_values(self) -> set[str]:
        return {value for s in self.samples for value in s.labels.values()}
