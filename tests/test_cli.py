from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx

from bff.testing.server import free_port
from tests.processes import BFF, clean_env, running


def test_serve_answers_healthz_and_stops_on_sigterm() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([*BFF, "serve", "--port", str(port)], ready_url=f"{url}/healthz") as process:
        response = httpx.get(f"{url}/healthz")
        assert response.headers["content-type"] == "application/json"
        assert response.json()["status"] == "ok"
        assert response.json()["model"] == "demo/heuristic"
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        # uvicorn finishes the lifespan, then re-raises the signal it caught.
        assert process.wait(timeout=10) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 5
        log = process.stdout.read()  # type: ignore[union-attr]
        assert "Application shutdown complete." in log


def test_bad_setting_exits_2_with_one_line() -> None:
    result = subprocess.run(
        [*BFF, "serve", "--port", str(free_port())],
        env=clean_env(BFF_MAX_ATTEMPTS="lots"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bff: invalid setting BFF_MAX_ATTEMPTS:")
    assert "'lots'" in lines[0]


def test_every_bad_setting_gets_its_line() -> None:
    result = subprocess.run(
        [*BFF, "serve", "--port", str(free_port())],
        env=clean_env(BFF_MAX_ATTEMPTS="lots", BFF_RATE_LIMIT="lots"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "invalid setting BFF_MAX_ATTEMPTS",
        "invalid setting BFF_RATE_LIMIT",
    ]


def test_missing_config_file_exits_2() -> None:
    result = subprocess.run(
        [*BFF, "serve", "--config", "/nonexistent/bff.toml"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "bff: invalid setting --config: "
        "cannot read /nonexistent/bff.toml: No such file or directory"
    )


def test_usage_errors_exit_2() -> None:
    result = subprocess.run([*BFF], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "usage: bff" in result.stderr
    result = subprocess.run(
        [*BFF, "serve", "--port", "x"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2 and "invalid int value" in result.stderr


def test_simulate_serves_the_openai_api() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/models"
    with running([*BFF, "simulate", "--port", str(port)], ready_url=url):
        assert httpx.get(url).json()["object"] == "list"


def test_serve_user_tasks(tmp_path: Path) -> None:
    (tmp_path / "shop_tasks.py").write_text(
        "from pydantic import BaseModel, Field\n"
        "from bff.tasks import Task\n"
        "class Query(BaseModel):\n    question: str\n"
        "class Answer(BaseModel):\n    answer: str = Field(max_length=200)\n"
        "TASKS = [Task(name='answerQuestion', description='Answer.', input_model=Query,\n"
        "              output_model=Answer, system_prompt='Answer briefly.')]\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    env = clean_env(PYTHONPATH=str(tmp_path))
    argv = [*BFF, "serve", "--port", str(port), "--tasks", "shop_tasks:TASKS"]
    with running(argv, ready_url=url, env=env):
        assert httpx.get(url).json()["tasks"] == ["answerQuestion"]
    result = subprocess.run(
        [*BFF, "serve", "--tasks", "shop_tasks:NOPE"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr == ("bff: invalid setting --tasks: 'shop_tasks' has no attribute 'NOPE'\n")
