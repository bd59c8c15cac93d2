"""`make serve` on a fresh clone: creates its environment and serves the offline demo model."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from bff.testing.server import free_port
from tests.processes import clean_env, running

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_make_serve_from_a_clean_clone(tmp_path: Path) -> None:
    clone = tmp_path / "llm-bff"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=60)
    assert not (clone / ".venv").exists()
    port = free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    env = clean_env()
    env.pop("VIRTUAL_ENV", None)
    with running(["make", "serve", f"PORT={port}"], ready_url=url, cwd=clone, env=env, timeout=540):
        assert httpx.get(url).json()["model"] == "demo/heuristic"
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and "js/main.js" in page.text
    assert (clone / ".venv" / "bin" / "bff").exists()
