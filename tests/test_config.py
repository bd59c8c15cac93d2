from __future__ import annotations

from pathlib import Path

import pytest

from bff.config import DEFAULT_MODEL, load_settings
from bff.exceptions import ConfigError
from bff.routes import Route, parse_route
from bff.vocabulary import DEMO_FAULTS


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("BFF_", "OPENAI_")):
            monkeypatch.delenv(name)


def test_defaults_run_offline() -> None:
    settings = load_settings()
    assert settings.model == DEFAULT_MODEL
    assert settings.routes == [Route("demo", "heuristic")]
    assert settings.max_attempts == 3
    assert settings.demo_fault_rate == 0
    assert tuple(settings.demo_fault_kinds) == DEMO_FAULTS


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BFF_MODEL", "openai/gpt-4o")
    monkeypatch.setenv("BFF_FALLBACK_MODELS", " openai/gpt-4o-mini ,demo/heuristic,")
    monkeypatch.setenv("BFF_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("BFF_BREAKER_COOLDOWN_S", "2.5")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    s = load_settings()
    assert [str(r) for r in s.routes] == ["openai/gpt-4o", "openai/gpt-4o-mini", "demo/heuristic"]
    assert (s.max_attempts, s.breaker_cooldown_s) == (5, 2.5)
    endpoint = s.endpoint("openai")
    assert (endpoint.api_key, endpoint.base_url) == ("sk-env", "http://127.0.0.1:9/v1")
    assert "sk-env" not in repr(s)


def test_config_file_and_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "bff.toml"
    config.write_text(
        'model = "ollama/llama3"\n'
        'fallback_models = ["demo/heuristic"]\n'
        "max_attempts = 4\n"
        "[endpoints.ollama]\n"
        'base_url = "http://127.0.0.1:11434/v1"\n'
        "[endpoints.azure]\n"
        'base_url = "https://example.invalid/openai/v1"\n'
        'api_key_env = "AZURE_KEY"\n'
        'max_tokens_field = "max_completion_tokens"\n'
    )
    monkeypatch.setenv("BFF_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AZURE_KEY", "az-secret")
    s = load_settings(config)
    assert s.max_attempts == 2  # the environment wins over the file
    assert s.routes[0] == Route("ollama", "llama3")
    assert s.endpoint("ollama").api_key is None
    azure = s.endpoint("azure")
    assert (azure.api_key, azure.max_tokens_field) == ("az-secret", "max_completion_tokens")


CaseList = list[tuple[dict[str, str], str, str]]
CORE_CASES: CaseList = [
    ({"BFF_MAX_ATTEMPTS": "abc"}, "BFF_MAX_ATTEMPTS", "valid integer"),
    ({"BFF_MAX_ATTEMPTS": "0"}, "BFF_MAX_ATTEMPTS", "greater than or equal to 1"),
    ({"BFF_BREAKER_COOLDOWN_S": "-1"}, "BFF_BREAKER_COOLDOWN_S", "greater than 0"),
    ({"BFF_MODEL": "gpt-4o"}, "BFF_MODEL", "not a model route"),
    ({"BFF_MODEL": "nowhere/x"}, "BFF_MODEL", "unknown provider 'nowhere'"),
    ({"BFF_FALLBACK_MODELS": "demo/a,bad"}, "BFF_FALLBACK_MODELS", "not a model route"),
    ({"BFF_FALLBACK_MODELS": "x/y"}, "BFF_FALLBACK_MODELS", "unknown provider 'x'"),
    ({"BFF_MODEL": "openai/gpt-4o"}, "OPENAI_API_KEY", "not set"),
    ({"BFF_DEMO_FAULT_KINDS": "rate_limit,meteor"}, "BFF_DEMO_FAULT_KINDS", "meteor"),
    ({"BFF_DEMO_FAULT_RATE": "2"}, "BFF_DEMO_FAULT_RATE", "less than or equal to 1"),
    ({"BFF_PRICES": "{bad"}, "BFF_PRICES", "not valid JSON"),
    (
        {"BFF_PRICES": '{"demo/x": {"input_per_mtok": -1, "output_per_mtok": 1}}'},
        "BFF_PRICES",
        "greater than or equal to 0",
    ),
    (
        {"BFF_PRICES": '{"x": {"input_per_mtok": 1, "output_per_mtok": 1}}'},
        "BFF_PRICES",
        "not a model route",
    ),
    ({"BFF_CLIENT_DAILY_TOKENS": "0"}, "BFF_CLIENT_DAILY_TOKENS", "greater than or equal"),
    ({"BFF_DRIFT_MIN_SAMPLES": "100"}, "BFF_DRIFT_MIN_SAMPLES", "more than BFF_DRIFT_WINDOW"),
    ({"BFF_DRIFT_THRESHOLD": "0"}, "BFF_DRIFT_THRESHOLD", "greater than 0"),
]


def test_bad_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("model = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("modle = 'demo/x'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(unknown)
    assert caught.value.setting == "modle"
    needs_key = tmp_path / "key.toml"
    needs_key.write_text(
        'model = "corp/m"\n[endpoints.corp]\nbase_url = "http://127.0.0.1:1/v1"\n'
        'api_key_env = "CORP_KEY_UNSET"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(needs_key)
    assert caught.value.setting == "CORP_KEY_UNSET"
    reserved = tmp_path / "reserved.toml"
    reserved.write_text('[endpoints.openai]\nbase_url = "http://127.0.0.1:1/v1"\n')
    with pytest.raises(ConfigError, match="reserved"):
        load_settings(reserved)


def test_routes_keep_slashes_in_model_names() -> None:
    assert parse_route("ollama/library/llama3:8b") == Route("ollama", "library/llama3:8b")
    with pytest.raises(ValueError):
        parse_route("/x")


def test_every_bad_setting_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BFF_MAX_ATTEMPTS", "0")
    monkeypatch.setenv("BFF_RATE_LIMIT", "lots")
    monkeypatch.setenv("BFF_CORS_ORIGINS", "evil")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    named = [setting for setting, _ in caught.value.problems]
    assert named == ["BFF_MAX_ATTEMPTS", "BFF_RATE_LIMIT", "BFF_CORS_ORIGINS"]
    assert "'lots' is not a rate such as 60/minute" in str(caught.value)


def test_settings_in_code_raise_the_same_error() -> None:
    from bff.config import Settings

    with pytest.raises(ConfigError) as caught:
        Settings(max_attempts=0, drift_min_samples=100)
    assert [s for s, _ in caught.value.problems] == ["BFF_MAX_ATTEMPTS"]
    with pytest.raises(ConfigError, match="more than BFF_DRIFT_WINDOW"):
        Settings(drift_min_samples=100)


EDGE_CASES: CaseList = [
    ({"BFF_API_KEYS": "short"}, "BFF_API_KEYS", "at least 16 characters"),
    ({"BFF_API_KEYS": "sha256:abc"}, "BFF_API_KEYS", "64 hex digits"),
    ({"BFF_JWT_SECRET": "too-short"}, "BFF_JWT_SECRET", "at least 32 bytes"),
    ({"BFF_JWT_JWKS_URL": "file:///etc/passwd"}, "BFF_JWT_JWKS_URL", "not an http(s) URL"),
    (
        {"BFF_JWT_SECRET": "s" * 32, "BFF_JWT_JWKS_URL": "https://id.example/jwks"},
        "BFF_JWT_SECRET",
        "not both",
    ),
    ({"BFF_CORS_ORIGINS": "https://ok.example,evil"}, "BFF_CORS_ORIGINS", "not an origin"),
    ({"BFF_RATE_LIMIT": "-5/minute"}, "BFF_RATE_LIMIT", "not a rate"),
    ({"BFF_ENV": "staging"}, "BFF_ENV", "'development' or 'production'"),
    ({"BFF_TRUSTED_DOCUMENTS": "some"}, "BFF_TRUSTED_DOCUMENTS", "'off' or 'only'"),
    ({"BFF_ADMIN_PORT": "70000"}, "BFF_ADMIN_PORT", "less than or equal to 65535"),
    ({"BFF_MAX_CONNECTIONS": "0"}, "BFF_MAX_CONNECTIONS", "greater than or equal to 1"),
    ({"BFF_HEADER_TIMEOUT_S": "0"}, "BFF_HEADER_TIMEOUT_S", "greater than 0"),
    ({"BFF_MAX_TASKS_PER_OPERATION": "0"}, "BFF_MAX_TASKS_PER_OPERATION", "greater than"),
    ({"BFF_MAX_DOCUMENT_TOKENS": "1"}, "BFF_MAX_DOCUMENT_TOKENS", "greater than"),
    ({"BFF_CHAT_SYSTEM_PROMPT": "x" * 32_001}, "BFF_CHAT_SYSTEM_PROMPT", "at most 32000"),
    ({"BFF_CLIENTS": "{bad"}, "BFF_CLIENTS", "not valid JSON"),
]
SHARED_CASES: CaseList = [
    (
        {"BFF_REDIS_URL": "http://user:secretpw@redis.example:6379"},
        "BFF_REDIS_URL",
        "not a redis://",
    ),
    ({"BFF_REDIS_URL": "redis://:secretpw@h/0 extra"}, "BFF_REDIS_URL", "value not shown"),
    ({"BFF_REDIS_PREFIX": "bff prod"}, "BFF_REDIS_PREFIX", "should match pattern"),
    ({"BFF_REDIS_PREFIX": "p" * 41}, "BFF_REDIS_PREFIX", "should match pattern"),
    ({"BFF_REDIS_TIMEOUT_S": "0"}, "BFF_REDIS_TIMEOUT_S", "greater than 0"),
    ({"BFF_REDIS_TIMEOUT_S": "3600"}, "BFF_REDIS_TIMEOUT_S", "less than or equal to 10"),
    ({"BFF_STREAM_RETENTION_S": "0"}, "BFF_STREAM_RETENTION_S", "greater than or equal to 1"),
    ({"BFF_STREAM_RESUME_GRACE_S": "-1"}, "BFF_STREAM_RESUME_GRACE_S", "greater than or"),
    ({"BFF_STREAM_RESUME_GRACE_S": "1e9"}, "BFF_STREAM_RESUME_GRACE_S", "less than or"),
]


CONTEXT_CASES: CaseList = [
    ({"BFF_CORPUS_PATH": "/no/such/corpus"}, "BFF_CORPUS_PATH", "no such folder"),
    ({"BFF_CORPUS_PATH": "/dev/null"}, "BFF_CORPUS_PATH", "not a folder"),
    ({"BFF_CONTEXT_INDEX_PATH": "/"}, "BFF_CONTEXT_INDEX_PATH", "a folder: name the index"),
    ({"BFF_CONTEXT_TOP_K": "0"}, "BFF_CONTEXT_TOP_K", "greater than or equal to 1"),
    ({"BFF_CONTEXT_TOP_K": "6"}, "BFF_CONTEXT_TOP_K", "less than or equal to 5"),
    ({"BFF_CONTEXT_TOP_K": "four"}, "BFF_CONTEXT_TOP_K", "valid integer"),
    ({"BFF_CONTEXT_MAX_TOKENS": "100"}, "BFF_CONTEXT_MAX_TOKENS", "greater than or equal to 256"),
    ({"BFF_CONTEXT_MAX_TOKENS": "1e6"}, "BFF_CONTEXT_MAX_TOKENS", "valid integer"),
    ({"BFF_CONTEXT_MAX_TOKENS": "20000"}, "BFF_CONTEXT_MAX_TOKENS", "less than or equal to 16000"),
]


@pytest.mark.parametrize(
    ("env", "setting", "fragment"), [*CORE_CASES, *EDGE_CASES, *SHARED_CASES, *CONTEXT_CASES]
)
def test_bad_settings_name_themselves(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], setting: str, fragment: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.setting.startswith(setting), caught.value
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)
    for secret in ("short", "too-short", "s" * 32):
        if setting in ("BFF_API_KEYS", "BFF_JWT_SECRET"):
            assert f"'{secret}'" not in str(caught.value)  # a secret is never repeated
    assert "secretpw" not in str(caught.value)  # nor a password inside a Redis URL


def test_bad_client_entries_and_prompt_routes_in_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bff.toml"
    config.write_text(
        '[clients.acme]\nkey_sha256 = "nothex"\nrate_limit = "fast"\n'
        '[chat_system_prompts]\n"no-slash" = "hello"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    named = [setting for setting, _ in caught.value.problems]
    assert named == [
        "BFF_CLIENTS (clients.acme.key_sha256)",
        "BFF_CLIENTS (clients.acme.rate_limit)",
        "BFF_CHAT_SYSTEM_PROMPTS",
    ], caught.value.problems


def test_context_defaults_and_the_index_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bff.context import DEMO_CORPUS, ContextBudget

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = load_settings()
    assert settings.corpus_path == DEMO_CORPUS and DEMO_CORPUS.is_dir()
    assert settings.context_budget == ContextBudget(top_k=4, max_tokens=1500)
    index = settings.context_index
    assert index.parent == tmp_path / "cache" / "llm-bff" and index.suffix == ".sqlite3"
    other = load_settings(corpus_path=tmp_path).context_index
    assert other.parent == index.parent and other != index  # one file per corpus folder
    monkeypatch.setenv("BFF_CONTEXT_INDEX_PATH", str(tmp_path / "mine.sqlite3"))
    assert load_settings().context_index == tmp_path / "mine.sqlite3"
