"""Settings: the one place that reads the environment.

Sources, strongest first: keyword arguments, environment variables (``BFF_``
prefix, plus ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` and each endpoint's key
variable), a ``.env`` file and secrets directory when configured, the optional
TOML config file (pydantic-settings' own TOML source), then defaults. A bad
setting raises one ``ConfigError`` that lists every problem.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Collection
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from phonenumbers import SUPPORTED_REGIONS
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from bff.budget import Price
from bff.clients import ClientSettings, api_key_digest, parse_rate_limit
from bff.context.corpus import DEMO_CORPUS
from bff.context.retriever import ContextBudget
from bff.exceptions import ConfigError
from bff.observe.drift import DriftPolicy
from bff.pii import BUILT_IN_KINDS, Recognizer, Scanner, build_scanner
from bff.pii.phones import DEFAULT_REGIONS
from bff.pii.plugins import load_recognizers
from bff.resilience.backoff import RetryPolicy
from bff.routes import Route, parse_route
from bff.vocabulary import DEMO_FAULTS, DemoFault

BUILTIN_PROVIDERS = ("demo", "openai")
_config_file: ContextVar[Path | None] = ContextVar("bff_config_file", default=None)
MIN_JWT_SECRET_BYTES = 32
DEFAULT_MODEL = "demo/heuristic"


class SettingError(ValueError):
    """A check across settings failed; ``setting`` names the one to change."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting, self.message = setting, message


class EndpointSettings(BaseModel):
    """An extra OpenAI-compatible endpoint, named in the config file."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable holding the key."
    )
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A resolved OpenAI-compatible endpoint: where to send, with which key."""

    base_url: str | None
    api_key: str | None
    max_tokens_field: str = "max_tokens"


def _known(names: list[str], known: Collection[str], listed: str) -> list[str]:
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"unknown: {', '.join(unknown)} (known: {listed})")
    return names


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting of the BFF; docs/configuration.md lists them (generated from the
    descriptions here by ``python -m bff.config_docs``)."""

    model_config = SettingsConfigDict(env_prefix="BFF_", extra="forbid", populate_by_name=True)

    model: str = Field(DEFAULT_MODEL, description="primary model route, `provider/model`")
    fallback_models: Annotated[list[str], NoDecode] = Field(
        [], description="comma-separated routes tried in order after it"
    )
    max_attempts: int = Field(3, ge=1, le=20, description="attempts per model per request")
    breaker_cooldown_s: float = Field(30.0, gt=0, description="how long an open circuit stays open")
    breaker_threshold: int = Field(
        3, ge=1, description="consecutive failed attempts that open a route's circuit"
    )
    retry_base_s: float = Field(
        0.25,
        ge=0,
        description="backoff base: attempt n waits up to base * 2^(n-1) (full jitter)",
    )
    retry_cap_s: float = Field(8.0, ge=0, description="longest backoff")
    retry_after_cap_s: float = Field(30.0, ge=0, description="longest `retry-after` honoured")
    request_timeout_s: float = Field(
        120.0,
        gt=0,
        description="overall deadline of one request, across attempts and fallbacks",
    )
    connect_timeout_s: float = Field(5.0, gt=0, description="seconds to connect to a provider")
    read_timeout_s: float = Field(
        60.0, gt=0, description="longest gap between two chunks of a stream"
    )
    first_token_timeout_s: float = Field(
        30.0, gt=0, description="longest wait for a call's first token"
    )
    shutdown_timeout_s: float = Field(
        10.0, ge=0, description="on SIGTERM, how long in-flight requests may finish"
    )
    keep_alive_s: float = Field(
        75.0, gt=0, description="how long an idle client connection stays open"
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="`debug`, `info`, `warning` or `error`"
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="larger request bodies get 413; larger WebSocket frames close the socket",
    )
    sse_ping_s: float = Field(15.0, gt=0, description="keep-alive comment interval on SSE streams")
    demo_chunk_delay_s: float = Field(
        0.012, ge=0, le=5, description="pause between the demo model's chunks"
    )
    demo_fault_rate: float = Field(
        0.0, ge=0, le=1, description="share of demo calls that fail on purpose (0 to 1)"
    )
    demo_fault_kinds: Annotated[list[DemoFault], NoDecode] = Field(
        list(DEMO_FAULTS),
        description="which faults: `" + ",".join(DEMO_FAULTS) + "`",
        json_schema_extra={"default_text": "all"},
    )
    demo_fault_seed: int = Field(
        0, description="seed of the fault draw, so a demo replays the same way"
    )
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"),
        description="key for the `openai` provider (required when a route uses it, unless "
        "`OPENAI_BASE_URL` is set)",
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url"),
        description="base URL for the `openai` provider",
        json_schema_extra={"default_text": "OpenAI"},
    )
    endpoints: dict[str, EndpointSettings] = Field(
        {},
        description="extra OpenAI-compatible endpoints: `base_url`, `api_key_env`, "
        "`max_tokens_field` (see below)",
    )
    max_tokens_cap: int = Field(
        4096, ge=1, description="the most `max_tokens` any call may carry (caps the task's own)"
    )
    chat_max_tokens: int = Field(1024, ge=1, description="`max_tokens` of a chat call")
    request_token_budget: int = Field(
        50_000,
        ge=1,
        description="tokens one request may use across all its calls (a task's "
        "`token_budget` overrides it)",
    )
    client_daily_tokens: int | None = Field(
        None, ge=1, description="tokens each client may use per UTC day"
    )
    client_daily_cost_usd: float | None = Field(
        None, gt=0, description="dollars each client may spend per UTC day, from `prices`"
    )
    prices: dict[str, Price] = Field(
        {},
        description="price per model route: `input_per_mtok`, `output_per_mtok` (USD per "
        "million tokens); unpriced routes cost 0",
    )
    drift_window: int = Field(
        50, ge=2, description="structured calls per (task, route) in the drift window"
    )
    drift_min_samples: int = Field(
        20, ge=1, description="calls the window needs before it can raise an alert"
    )
    drift_threshold: float = Field(
        0.2,
        gt=0,
        le=1,
        description="rise of the validation-failure rate over the baseline that raises an alert",
    )
    drift_expected_rate: float | None = Field(
        None, ge=0, le=1, description="the baseline failure rate; none: the long-run rate"
    )
    drift_baseline_file: Path | None = Field(
        None,
        description="a `bff eval` run file (RUN.json) whose validation-failure rate is the "
        "baseline failure rate, read at start-up (not with `BFF_DRIFT_EXPECTED_RATE`)",
    )
    _baseline_rate: float | None = PrivateAttr(None)
    _pii_own: tuple[Recognizer, ...] = PrivateAttr(())
    _pii_scanner: tuple[tuple[object, ...], Scanner] | None = PrivateAttr(None)
    # Facing the internet (docs/security.md): identity, per-client limits, GraphQL cost.
    env: Literal["development", "production"] | None = Field(
        None,
        description="`development` or `production`; unset: by the address served",
        json_schema_extra={"default_text": "by bind address"},
    )
    allow_anonymous: bool = Field(
        False,
        description="with credentials configured, serve callers without any as `anonymous`",
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        [], description="comma-separated API keys (16+ characters) or `sha256:<hex>` digests"
    )
    clients: dict[str, ClientSettings] = Field(
        {},
        description="clients with their own key digest and limits: `key_sha256`, "
        "`rate_limit`, `max_concurrent_runs`, `max_subscriptions`, `daily_tokens`, "
        "`daily_cost_usd`",
    )
    jwt_secret: SecretStr | None = Field(
        None, description="HS256 secret for JWT bearer tokens, 32+ bytes"
    )
    jwt_jwks_url: str | None = Field(
        None, description="JWKS key set for RS/ES/PS-signed JWTs (not with a secret)"
    )
    jwt_issuer: str | None = Field(None, description="the `iss` a JWT must carry")
    jwt_audience: str | None = Field(None, description="the `aud` a JWT must carry")
    rate_limit: str | None = Field(
        "120/minute",
        description="requests per client (`10/second`, `1000/hour`; `none`: no limit)",
    )
    max_concurrent_runs: int = Field(8, ge=1, description="runs in flight per client")
    max_subscriptions: int = Field(8, ge=1, description="open subscriptions per client")
    max_tasks_per_operation: int = Field(
        1, ge=1, le=50, description="task fields per GraphQL operation, aliases included"
    )
    max_aliases: int = Field(15, ge=0, description="aliases per GraphQL document")
    max_depth: int = Field(20, ge=1, description="field depth of a GraphQL document")
    max_document_tokens: int = Field(500, ge=10, description="lexical tokens per GraphQL document")
    max_response_bytes: int = Field(1_048_576, ge=1024, description="largest GraphQL response")
    trusted_documents: Literal["off", "only"] = Field(
        "off", description="`only`: run no GraphQL document but those in `graphql/operations/`"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        [], description="comma-separated origins allowed cross-site"
    )
    chat_system_prompt: str | None = Field(
        None, max_length=32_000, description="the chat's system prompt"
    )
    chat_system_prompts: dict[str, Annotated[str, Field(max_length=32_000)]] = Field(
        {}, description="the chat's system prompt per route, over `chat_system_prompt`"
    )
    chat_allow_client_system: bool = Field(
        False, description="pass clients' own `system` messages on"
    )
    metrics_token: SecretStr | None = Field(None, description="bearer token for `/metrics`")
    admin_port: int | None = Field(
        None, ge=1, le=65535, description="serve `/metrics` on this port, and only there"
    )
    admin_host: str = Field("127.0.0.1", description="the address of the admin port")
    max_connections: int = Field(1000, ge=1, description="open connections (503 past it)")
    header_timeout_s: float = Field(
        10.0, gt=0, description="time for a request's head to arrive (408 after)"
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="time for a request's body to arrive (408 after)"
    )
    # Several replicas (docs/deploy.md): state shared on Redis.
    redis_url: SecretStr | None = Field(
        None,
        description="`redis://`, `rediss://` or `unix://` URL of the Redis the replicas "
        "share breakers, budgets, limits, drift windows and chat streams on; unset: "
        "all of it stays in this process",
    )
    redis_timeout_s: float = Field(
        1.0,
        gt=0,
        le=10,
        description="the longest wait for one Redis command (it includes the time a busy "
        "event loop takes to read the answer)",
    )
    redis_prefix: str = Field(
        "bff",
        pattern=r"^[A-Za-z0-9_.-]{1,40}$",
        description="the prefix of every Redis key (one per fleet sharing a Redis)",
    )
    stream_retention_s: int = Field(
        300, ge=1, le=86_400, description="how long a chat stream's events can be resumed"
    )
    stream_resume_grace_s: float = Field(
        15.0,
        ge=0,
        le=600,
        description="how long a chat stream's upstream call runs on with no client attached",
    )
    # Lean context (docs/context.md): the corpus snippets are retrieved from.
    corpus_path: Path = Field(
        DEMO_CORPUS,
        description="the folder of Markdown and text files (`.md`, `.markdown`, `.txt`) that "
        "context snippets are retrieved from",
        json_schema_extra={"default_text": "the bundled demo handbook"},
    )
    context_index_path: Path | None = Field(
        None,
        description="the SQLite file of the corpus's search index, created when missing; "
        "unset: one file per corpus folder under `$XDG_CACHE_HOME/llm-bff/` (else "
        "`~/.cache/llm-bff/`)",
        json_schema_extra={"default_text": "in the cache folder"},
    )
    context_top_k: int = Field(
        4, ge=1, le=5, description="the most snippets the context of one call holds"
    )
    context_max_tokens: int = Field(
        1500,
        ge=256,
        le=16_000,
        description="the most tokens the snippets of one call's context may add up to",
    )
    # PII (docs/pii.md): what is redacted from text before it leaves for a provider.
    pii_kinds: Annotated[list[str], NoDecode] = Field(
        list(BUILT_IN_KINDS),
        description="comma-separated kinds of PII redacted, of "
        f"{', '.join(BUILT_IN_KINDS)}; empty: none",
        json_schema_extra={"default_text": "all of them"},
    )
    pii_phone_regions: Annotated[list[str], NoDecode] = Field(
        list(DEFAULT_REGIONS),
        description="comma-separated regions (ISO 3166 codes) whose national phone number "
        "formats are recognised; numbers written with `+` are recognised from anywhere",
        json_schema_extra={"default_text": f"{len(DEFAULT_REGIONS)} regions (docs/pii.md)"},
    )
    pii_recognizers: Annotated[list[str], NoDecode] = Field(
        [],
        description="comma-separated recognizers of your own, each `package.module:name` "
        "(a recognizer, or a callable returning one), or `presidio` for the Presidio "
        "adapter; they run after the built-in ones",
    )

    _split = field_validator(
        "fallback_models", "demo_fault_kinds", "api_keys", "cors_origins", "pii_kinds",
        "pii_phone_regions", "pii_recognizers", mode="before",
    )(_split_commas)  # fmt: skip

    @field_validator("pii_kinds")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        return _known([item.upper() for item in value], BUILT_IN_KINDS, ", ".join(BUILT_IN_KINDS))

    @field_validator("pii_phone_regions")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one region")
        return _known([item.upper() for item in value], SUPPORTED_REGIONS, "ISO 3166 codes")

    @field_validator("model")
    @classmethod
    def _route_syntax(cls, value: str) -> str:
        parse_route(value)
        return value.strip()

    @field_validator("fallback_models")
    @classmethod
    def _fallback_syntax(cls, value: list[str]) -> list[str]:
        return [str(parse_route(item)) for item in value]

    @field_validator("api_keys")
    @classmethod
    def _key_syntax(cls, value: list[SecretStr]) -> list[SecretStr]:  # ValueError when bad
        for key in value:
            api_key_digest(key.get_secret_value())
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(f"an HS256 secret needs at least {MIN_JWT_SECRET_BYTES} bytes")
        return value

    @field_validator("jwt_jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:  # never echoes it
        if value is not None and not re.fullmatch(
            r"(rediss?://[^/\s]+(/\d{1,2})?|unix:///\S+)", value.get_secret_value()
        ):
            raise ValueError("not a redis://, rediss:// or unix:// URL (value not shown)")
        return value

    @field_validator("corpus_path")
    @classmethod
    def _corpus_folder(cls, value: Path) -> Path:
        if not value.exists():
            raise ValueError("no such folder")
        if not value.is_dir():
            raise ValueError("not a folder")
        return value

    @field_validator("context_index_path")
    @classmethod
    def _index_file(cls, value: Path | None) -> Path | None:
        if value is not None and value.is_dir():
            raise ValueError("a folder: name the index file in it")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_syntax(cls, value: str | None) -> str | None:
        return None if parse_rate_limit(value) is None else value

    @field_validator("cors_origins")
    @classmethod
    def _origin_syntax(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
        return value

    @field_validator("chat_system_prompts")
    @classmethod
    def _prompt_routes(cls, value: dict[str, str]) -> dict[str, str]:
        return {str(parse_route(route)): prompt for route, prompt in value.items()}

    @field_validator("prices")
    @classmethod
    def _price_routes(cls, value: dict[str, Price]) -> dict[str, Price]:
        return {str(parse_route(route)): price for route, price in value.items()}

    @model_validator(mode="after")
    def _drift_samples(self) -> Settings:
        if self.drift_min_samples > self.drift_window:
            raise SettingError(
                "BFF_DRIFT_MIN_SAMPLES",
                f"{self.drift_min_samples} is more than BFF_DRIFT_WINDOW ({self.drift_window})",
            )
        return self

    @model_validator(mode="after")
    def _drift_baseline(self) -> Settings:
        if self.drift_baseline_file is None:
            return self
        if self.drift_expected_rate is not None:
            raise SettingError(
                "BFF_DRIFT_BASELINE_FILE",
                "set BFF_DRIFT_BASELINE_FILE or BFF_DRIFT_EXPECTED_RATE, not both",
            )
        try:
            self._baseline_rate = _run_file_rate(self.drift_baseline_file)
        except ValueError as exc:
            raise SettingError("BFF_DRIFT_BASELINE_FILE", str(exc)) from None
        return self

    @model_validator(mode="after")
    def _known_providers(self) -> Settings:
        clash = set(self.endpoints) & set(BUILTIN_PROVIDERS)
        if clash:
            raise SettingError("endpoints", f"the names {sorted(clash)} are reserved")
        known = (*BUILTIN_PROVIDERS, *self.endpoints)
        for setting, routes in (
            ("BFF_MODEL", [self.model]),
            ("BFF_FALLBACK_MODELS", self.fallback_models),
        ):
            for route in map(parse_route, routes):
                if route.provider not in known:
                    raise SettingError(
                        setting,
                        f"unknown provider {route.provider!r} in route '{route}' "
                        f"(known: {', '.join(known)})",
                    )
        return self

    @model_validator(mode="after")
    def _own_recognizers(self) -> Settings:
        try:
            self._pii_own = tuple(load_recognizers(self.pii_recognizers))
        except ValueError as exc:
            raise SettingError("BFF_PII_RECOGNIZERS", str(exc)) from None
        return self

    @model_validator(mode="after")
    def _one_jwt_key_source(self) -> Settings:
        if self.jwt_secret is not None and self.jwt_jwks_url is not None:
            raise SettingError("BFF_JWT_SECRET", "set BFF_JWT_SECRET or BFF_JWT_JWKS_URL, not both")
        return self

    @property
    def authentication_configured(self) -> bool:
        """Whether any credential (API key, client entry, JWT) is configured."""
        return bool(
            self.api_keys or self.clients or self.jwt_secret is not None or self.jwt_jwks_url
        )

    @property
    def production(self) -> bool:
        return self.env == "production"

    def for_host(self, host: str) -> Settings:
        """These settings for a server bound to ``host``: without ``BFF_ENV``, a loopback
        address means development and any other production. Production refuses to run
        without credentials unless anonymous callers are allowed on purpose."""
        env = self.env or ("development" if _is_loopback(host) else "production")
        if env == "production" and not (self.authentication_configured or self.allow_anonymous):
            raise ConfigError(
                "BFF_ENV",
                "production needs credentials: set BFF_API_KEYS, [clients.NAME] entries, "
                "BFF_JWT_SECRET or BFF_JWT_JWKS_URL (or BFF_ALLOW_ANONYMOUS=true on purpose)",
            )
        return self.model_copy(update={"env": env})

    @property
    def drift_policy(self) -> DriftPolicy:
        expected = self.drift_expected_rate
        return DriftPolicy(
            self.drift_window, self.drift_min_samples, self.drift_threshold,
            expected if expected is not None else self._baseline_rate,
        )  # fmt: skip

    @property
    def context_budget(self) -> ContextBudget:
        return ContextBudget(self.context_top_k, self.context_max_tokens)

    @property
    def context_index(self) -> Path:
        """The index file of the corpus: ``BFF_CONTEXT_INDEX_PATH``, else a file in the
        cache folder named after the corpus folder, so that two corpora never share one
        and the bundled corpus is never written beside (it may be read-only)."""
        if self.context_index_path is not None:
            return self.context_index_path
        return cached_index_file(self.corpus_path)

    @property
    def pii_scanner(self) -> Scanner:
        """The recognizers of the kinds switched on, the team's own (loaded when the
        settings were read) after them; built once for these settings."""
        key = (tuple(self.pii_kinds), tuple(self.pii_phone_regions), self._pii_own)
        if self._pii_scanner is None or self._pii_scanner[0] != key:
            self._pii_scanner = (key, build_scanner(*key))
        return self._pii_scanner[1]

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_base_s, self.retry_cap_s, self.retry_after_cap_s)

    @property
    def routes(self) -> list[Route]:
        """The primary route, then the fallbacks, in order."""
        return [parse_route(self.model), *(parse_route(r) for r in self.fallback_models)]

    def endpoint(self, provider: str) -> Endpoint:
        """Where ``provider``'s requests go; raises ConfigError when its key is missing."""
        if provider == "openai":
            key = self.openai_api_key.get_secret_value() if self.openai_api_key else None
            if key is None and self.openai_base_url is None:
                raise ConfigError(
                    "OPENAI_API_KEY", "not set, but a model route uses the openai provider"
                )
            return Endpoint(self.openai_base_url, key)
        spec = self.endpoints[provider]
        key = None
        if spec.api_key_env is not None:
            key = os.environ.get(spec.api_key_env)
            if not key:
                raise ConfigError(spec.api_key_env, f"not set, but endpoint {provider!r} needs it")
        return Endpoint(spec.base_url, key, spec.max_tokens_field)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings, dotenv_settings, file_secret_settings]
        config_file = _config_file.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _config_error(exc) from None
        except SettingsError as exc:  # a variable that should hold JSON does not
            field = re.search(r'field "(\w+)"', str(exc))
            name = "BFF_" + field.group(1).upper() if field else "settings"
            raise ConfigError(name, "is not valid JSON") from None


def _run_file_rate(path: Path) -> float:
    """The validation-failure rate of a `bff eval` run file (``"format": 1``,
    ``aggregates.overall.validation_failure_rate``); ValueError says what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:  # not UTF-8, or not JSON
        raise ValueError(f"{path} is not JSON") from None
    rate: Any = None
    if isinstance(data, dict) and data.get("format") == 1:
        aggregates = data.get("aggregates")
        overall = aggregates.get("overall") if isinstance(aggregates, dict) else None
        rate = overall.get("validation_failure_rate") if isinstance(overall, dict) else None
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ValueError(
            f"{path} is not a `bff eval` run file (format 1) with a validation-failure rate"
        )
    return float(rate)


def cached_index_file(corpus: Path) -> Path:
    """The index file of the folder ``corpus`` in the user's cache folder
    (``$XDG_CACHE_HOME``, else ``~/.cache``): derived data, rebuilt when lost."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    digest = hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:16]
    return Path(cache) / "llm-bff" / f"context-{digest}.sqlite3"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the settings (``config_file`` is a TOML file under the environment); raise
    ConfigError listing every bad one."""
    if config_file is not None:
        try:
            config_file.open("rb").close()
        except OSError as exc:
            raise ConfigError("--config", f"cannot read {config_file}: {exc.strerror}") from None
    token = _config_file.set(config_file)
    try:
        settings = Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", f"{config_file} is not valid TOML: {exc}") from None
    finally:
        _config_file.reset(token)
    for provider in {route.provider for route in settings.routes} - {"demo"}:
        settings.endpoint(provider)
    return settings


def _config_error(exc: ValidationError) -> ConfigError:
    """Every problem of a validation, each named as the user spells the setting."""
    problems = [_problem(error) for error in exc.errors()]
    return ConfigError(*problems[0], *problems[1:])


def _problem(error: Any) -> tuple[str, str]:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, SettingError):
        return cause.setting, cause.message
    loc = [str(part) for part in error["loc"]]
    field = loc[0] if loc else "settings"
    info = Settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, AliasChoices):
        name = str(info.validation_alias.choices[0])
    elif field in Settings.model_fields:
        name = "BFF_" + field.upper()
    else:
        name = field
    if len(loc) > 1:
        name += " (" + ".".join(loc) + ")"
    message = error["msg"].removeprefix("Value error, ")
    secret = info is not None and "SecretStr" in str(info.annotation)
    if "input" in error and not isinstance(error["input"], dict) and not secret:
        message += f" (got {error['input']!r})"  # a secret's value is never repeated
    return name, message
