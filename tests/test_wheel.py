"""`pip install .` serves the demo page too: the wheel carries the page and the operations
(and the demo handbook that context is retrieved from)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from bff.testing.server import free_port
from tests.processes import BFF, clean_env, running

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_serves_the_page_and_its_operations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("llm_bff-*.whl")
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(target)
    assert "bff/_static/frontend/index.html" in names
    assert "bff/_static/operations/WatchActionPlan.graphql" in names
    assert "bff/demo/data/countries.csv" in names
    assert "bff/context/demo_corpus/billing/refunds.md" in names
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The unpacked wheel comes first on the path, away from the source tree.
    env = clean_env(PYTHONPATH=str(target), BFF_LOG_LEVEL="warning")
    check = [sys.executable, "-c", "import bff.api.frontend as f; print(f.asset_dir('frontend'))"]
    where = subprocess.run(check, env=env, cwd=tmp_path, capture_output=True, text=True).stdout
    assert where.strip() == str(target / "bff" / "_static" / "frontend")
    check = [sys.executable, "-c", "import bff.config as c; print(c.Settings().corpus_path)"]
    corpus = subprocess.run(check, env=env, cwd=tmp_path, capture_output=True, text=True).stdout
    assert corpus.strip() == str(target / "bff" / "context" / "demo_corpus")
    with running([*BFF, "serve", "--port", str(port)], ready_url=f"{url}/healthz", env=env,
                 cwd=tmp_path):  # fmt: skip
        assert "js/main.js" in httpx.get(f"{url}/").text
        assert "WatchCountryBrief" in httpx.get(f"{url}/operations.json").json()
