"""Settings: the one place that reads the environment.

Sources, strongest first: keyword arguments, environment variables (``BFF_``
prefix, plus ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` and each endpoint's key
variable), the optional TOML config file, then defaults.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from bff.budget import Price
from bff.clients import ClientSettings, api_key_digest, parse_rate_limit
from bff.exceptions import ConfigError
from bff.observe.drift import DriftPolicy
from bff.resilience.backoff import RetryPolicy
from bff.routes import Route, parse_route
from bff.vocabulary import DEMO_FAULTS, DemoFault

BUILTIN_PROVIDERS = ("demo", "openai")
MIN_JWT_SECRET_BYTES = 32
DEFAULT_MODEL = "demo/heuristic"


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


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting of the BFF; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="BFF_", extra="forbid", populate_by_name=True)

    model: str = DEFAULT_MODEL
    fallback_models: Annotated[list[str], NoDecode] = []
    max_attempts: int = Field(default=3, ge=1, le=20)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    breaker_threshold: int = Field(default=3, ge=1)
    retry_base_s: float = Field(default=0.25, ge=0)
    retry_cap_s: float = Field(default=8.0, ge=0)
    retry_after_cap_s: float = Field(default=30.0, ge=0)
    request_timeout_s: float = Field(default=120.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    first_token_timeout_s: float = Field(default=30.0, gt=0)
    shutdown_timeout_s: float = Field(default=10.0, ge=0)
    keep_alive_s: float = Field(default=75.0, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    sse_ping_s: float = Field(default=15.0, gt=0)
    demo_chunk_delay_s: float = Field(default=0.012, ge=0, le=5)
    demo_fault_rate: float = Field(default=0.0, ge=0, le=1)
    demo_fault_kinds: Annotated[list[DemoFault], NoDecode] = list(DEMO_FAULTS)
    demo_fault_seed: int = 0
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )
    endpoints: dict[str, EndpointSettings] = {}
    max_tokens_cap: int = Field(default=4096, ge=1)
    chat_max_tokens: int = Field(default=1024, ge=1)
    request_token_budget: int = Field(default=50_000, ge=1)
    client_daily_tokens: int | None = Field(default=None, ge=1)
    client_daily_cost_usd: float | None = Field(default=None, gt=0)
    prices: dict[str, Price] = {}
    drift_window: int = Field(default=50, ge=2)
    drift_min_samples: int = Field(default=20, ge=1)
    drift_threshold: float = Field(default=0.2, gt=0, le=1)
    drift_expected_rate: float | None = Field(default=None, ge=0, le=1)
    # Facing the internet: identity, per-client limits, GraphQL cost, edge hygiene.
    env: Literal["development", "production"] | None = None
    allow_anonymous: bool = False
    api_keys: Annotated[list[SecretStr], NoDecode] = []
    clients: dict[str, ClientSettings] = {}
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    rate_limit: str | None = "120/minute"
    max_concurrent_runs: int = Field(default=8, ge=1)
    max_subscriptions: int = Field(default=8, ge=1)
    max_tasks_per_operation: int = Field(default=1, ge=1, le=50)
    max_aliases: int = Field(default=15, ge=0)
    max_depth: int = Field(default=20, ge=1)
    max_document_tokens: int = Field(default=500, ge=10)
    max_response_bytes: int = Field(default=1_048_576, ge=1024)
    trusted_documents: Literal["off", "only"] = "off"
    cors_origins: Annotated[list[str], NoDecode] = []
    chat_system_prompt: str | None = Field(default=None, max_length=32_000)
    chat_system_prompts: dict[str, Annotated[str, Field(max_length=32_000)]] = {}
    chat_allow_client_system: bool = False
    metrics_token: SecretStr | None = None
    admin_port: int | None = Field(default=None, ge=1, le=65535)
    admin_host: str = "127.0.0.1"
    max_connections: int = Field(default=1000, ge=1)
    header_timeout_s: float = Field(default=10.0, gt=0)
    body_timeout_s: float = Field(default=30.0, gt=0)

    _split = field_validator(
        "fallback_models", "demo_fault_kinds", "api_keys", "cors_origins", mode="before"
    )(_split_commas)

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
    def _key_syntax(cls, value: list[SecretStr]) -> list[SecretStr]:
        for key in value:
            api_key_digest(key.get_secret_value())
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_JWT_SECRET_BYTES:
            raise ConfigError(
                "BFF_JWT_SECRET", f"an HS256 secret needs at least {MIN_JWT_SECRET_BYTES} bytes"
            )
        return value

    @field_validator("jwt_jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", value):
            raise ConfigError("BFF_JWT_JWKS_URL", f"{value!r} is not an http(s) URL")
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
                raise ConfigError(
                    "BFF_CORS_ORIGINS", f"{origin!r} is not an origin (scheme://host[:port])"
                )
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
            raise ConfigError(
                "BFF_DRIFT_MIN_SAMPLES",
                f"{self.drift_min_samples} is more than BFF_DRIFT_WINDOW ({self.drift_window})",
            )
        return self

    @model_validator(mode="after")
    def _known_providers(self) -> Settings:
        clash = set(self.endpoints) & set(BUILTIN_PROVIDERS)
        if clash:
            raise ConfigError("endpoints", f"the names {sorted(clash)} are reserved")
        known = (*BUILTIN_PROVIDERS, *self.endpoints)
        for setting, routes in (
            ("BFF_MODEL", [self.model]),
            ("BFF_FALLBACK_MODELS", self.fallback_models),
        ):
            for route in map(parse_route, routes):
                if route.provider not in known:
                    raise ConfigError(
                        setting,
                        f"unknown provider {route.provider!r} in route '{route}' "
                        f"(known: {', '.join(known)})",
                    )
        return self

    @model_validator(mode="after")
    def _one_jwt_key_source(self) -> Settings:
        if self.jwt_secret is not None and self.jwt_jwks_url is not None:
            raise ConfigError("BFF_JWT_SECRET", "set BFF_JWT_SECRET or BFF_JWT_JWKS_URL, not both")
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
        return DriftPolicy(
            self.drift_window, self.drift_min_samples, self.drift_threshold,
            self.drift_expected_rate,
        )  # fmt: skip

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
        file_values = getattr(init_settings, "init_kwargs", {}).pop("_file_values", {})
        return (init_settings, env_settings, InitSettingsSource(settings_cls, file_values))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the settings; raise ConfigError naming the first bad one."""
    file_values = _read_toml(config_file) if config_file is not None else {}
    try:
        settings = Settings(_file_values=file_values, **overrides)  # type: ignore[call-arg]
        for provider in {route.provider for route in settings.routes} - {"demo"}:
            settings.endpoint(provider)
    except ValidationError as exc:
        raise _config_error(exc) from None
    except SettingsError as exc:  # a variable that should hold JSON does not
        field = re.search(r'field "(\w+)"', str(exc))
        name = "BFF_" + field.group(1).upper() if field else "settings"
        raise ConfigError(name, "is not valid JSON") from None
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from None


def _config_error(exc: ValidationError) -> ConfigError:
    error = exc.errors()[0]
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
    if "input" in error and not isinstance(error["input"], dict):
        message += f" (got {error['input']!r})"
    return ConfigError(name, message)
