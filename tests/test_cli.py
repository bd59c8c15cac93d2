from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bff.cli import main
from bff.testing.server import free_port
from tests.processes import BFF, clean_env, running


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bff`` in this process reads the environment ``clean_env`` gives a child."""
    for name in list(os.environ):
        if name.startswith(("BFF_", "OPENAI_")):
            monkeypatch.delenv(name)


def test_serve_answers_healthz_and_stops_on_sigterm() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Ten minutes to shut down gracefully: an idle server must not use them. Waiting them
    # out would outlast the 60 s wait below by far; stopping at once takes well under 1 s.
    env = clean_env(BFF_SHUTDOWN_TIMEOUT_S="600")
    argv = [*BFF, "serve", "--port", str(port)]
    with running(argv, ready_url=f"{url}/healthz", env=env) as process:
        response = httpx.get(f"{url}/healthz")
        assert response.headers["content-type"] == "application/json"
        assert response.json()["status"] == "ok"
        assert response.json()["model"] == "demo/heuristic"
        process.send_signal(signal.SIGTERM)
        # uvicorn finishes the lifespan, then re-raises the signal it caught.
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)
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


# The process's exit status and streams are checked above; the same main() in this
# process answers the other bad command lines.


def test_every_bad_setting_gets_its_line(
    clean_environ: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BFF_MAX_ATTEMPTS", "lots")
    monkeypatch.setenv("BFF_RATE_LIMIT", "lots")
    assert main(["serve", "--port", str(free_port())]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "invalid setting BFF_MAX_ATTEMPTS",
        "invalid setting BFF_RATE_LIMIT",
    ]


def test_missing_config_file_exits_2(
    clean_environ: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--config", "/nonexistent/bff.toml"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == (
        "bff: invalid setting --config: "
        "cannot read /nonexistent/bff.toml: No such file or directory"
    )


@pytest.mark.parametrize(
    ("argv", "message"), [([], "usage: bff"), (["serve", "--port", "x"], "invalid int value")]
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_simulate_serves_the_openai_api() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/models"
    with running([*BFF, "simulate", "--port", str(port)], ready_url=url):
        assert httpx.get(url).json()["object"] == "list"


def test_serve_user_tasks(
    tmp_path: Path,
    clean_environ: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
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
    monkeypatch.syspath_prepend(tmp_path)
    assert main(["serve", "--tasks", "shop_tasks:NOPE"]) == 2
    assert capsys.readouterr().err == (
        "bff: invalid setting --tasks: 'shop_tasks' has no attribute 'NOPE'\n"
    )
    sys.modules.pop("shop_tasks", None)  # imported by main() above
