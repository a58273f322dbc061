"""Config: one typed, frozen object built once from ``conf/config.ini`` and the environment.

Precedence: the ini file's documented defaults, then ``PRODUCTDEMO_<SECTION>_<KEY>``.
No other module reads the environment; tests build the ``Config`` they need with
:func:`load_config` (``overrides=``) or by constructing the sections directly.
"""

from __future__ import annotations

import configparser
import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from productdemo.errors import ConfigError

DEFAULT_CONFIG_FILE = Path("conf/config.ini")
PLACEHOLDER_SECRET = "dev-insecure-change-me"
ENV_PREFIX = "PRODUCTDEMO_"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    client_dir: Path = Path("client/dist")
    instance_id: str = Field("", max_length=64)
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    head_timeout: float = Field(10.0, gt=0)
    max_head_size: int = Field(65_536, ge=8192)
    max_half_open_per_address: int = Field(256, ge=1)
    max_json_body: int = Field(65_536, ge=1024)

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerSettings:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile must be set together")
        return self


class StorageSettings(_Section):
    data_dir: Path = Path("var")


class DatabaseSettings(_Section):
    url: str = ""
    # PostgreSQL's connection pool per instance (SQLite ignores them).
    pool_size: int = Field(10, ge=1, le=1000)
    max_overflow: int = Field(20, ge=0, le=1000)
    pool_timeout: float = Field(30.0, gt=0, le=600)


class SecuritySettings(_Section):
    allowed_origins: tuple[str, ...] = ()
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    secret_key_file: Path | None = None
    session_lifetime: int = Field(1_209_600, ge=1)
    session_revalidate_interval: float = Field(30.0, gt=0)
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    login_max_failures: int = Field(5, ge=1)
    login_window: int = Field(300, ge=1)
    environment: Literal["development", "production"] = "development"
    argon2_time_cost: int = Field(3, ge=1, le=20)
    argon2_memory_kib: int = Field(65536, ge=1024, le=4_194_304)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/").lower() for o in value.split(",") if o.strip())
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if not _is_origin(origin):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return value


def _is_origin(text: str) -> bool:
    """True for ``http(s)://host[:port]`` and nothing more (no path, query, user or empty host)."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and text == f"{parts.scheme}://{parts.netloc}"
    )


class RealtimeSettings(_Section):
    heartbeat_interval: float = Field(25.0, gt=0)
    max_message_size: int = Field(65_536, ge=256)
    rate_limit: float = Field(20.0, gt=0)
    rate_burst: int = Field(40, ge=1)
    rate_abuse_threshold: int = Field(40, ge=1)
    send_queue_max: int = Field(1024, ge=8)
    history_size: int = Field(1000, ge=0)
    history_ttl: float = Field(600.0, ge=0)
    debug_frames: bool = False
    max_fragments: int = Field(64, ge=1)
    fragment_timeout: float = Field(10.0, gt=0)
    max_sockets_per_user: int = Field(50, ge=1)
    max_sockets_per_address: int = Field(10_000, ge=1)


class BrokerSettings(_Section):
    url: str = ""
    prefix: str = "productdemo"


class DocumentSettings(_Section):
    max_upload_size: int = Field(26_214_400, ge=1)
    concurrency: int = Field(2, ge=1, le=64)
    lease_seconds: float = Field(30.0, gt=0)
    poll_interval: float = Field(1.0, gt=0)
    max_attempts: int = Field(3, ge=1, le=100)


class LlmSettings(_Section):
    provider: Literal["extractive", "llama", "openai"] = "extractive"
    sources: int = Field(6, ge=1, le=20)
    max_tokens: int = Field(400, ge=16, le=8192)
    temperature: float = Field(0.2, ge=0, le=2)
    flush_interval: float = Field(0.05, gt=0, le=1)
    stall_timeout: float = Field(30.0, gt=0)
    connect_timeout: float = Field(10.0, gt=0)
    lease_seconds: float = Field(15.0, gt=0)
    history_chars: int = Field(6000, ge=0, le=200_000)
    max_starting: int = Field(8, ge=1, le=1000)
    openai_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    openai_api_key: SecretStr = SecretStr("")
    openai_api_key_file: Path | None = None
    llama_model_path: Path | None = None
    llama_threads: int = Field(2, ge=1, le=64)
    llama_context: int = Field(4096, ge=512, le=131_072)

    def api_key(self) -> str:
        """The OpenAI-compatible endpoint's key: from the key file when one is set, else the value."""
        if self.openai_api_key_file is not None:
            return self.openai_api_key_file.read_text(encoding="utf-8").strip()
        return self.openai_api_key.get_secret_value()


class PresenceSettings(_Section):
    ttl: float = Field(15.0, ge=1, le=300)
    tick: float = Field(0.25, gt=0, le=5)


class DashboardSettings(_Section):
    interval: float = Field(1.0, ge=0.05, le=60)


class NotificationSettings(_Section):
    page_max: int = Field(100, ge=1, le=1000)


class McpCatalogueEntry(_Section):
    """One installable MCP server, from ``mcp_server_name_N``, ``mcp_terminal_command_N`` and
    ``mcp_launch_command_N``."""

    id: str
    name: str
    install_command: str
    launch_command: str


# The numbered catalogue keys of [mcp]; N may be any positive number, from the file or the environment.
MCP_ENTRY_KEY = re.compile(r"^mcp_(server_name|terminal_command|launch_command)_([1-9][0-9]*)$")


class McpSettings(_Section):
    connect_timeout: float = Field(15.0, gt=0)
    install_timeout: float = Field(1800.0, gt=0)
    idle_timeout: float = Field(600.0, gt=0)
    verify_timeout: float = Field(60.0, gt=0)
    kill_grace: float = Field(5.0, ge=0)
    max_concurrent: int = Field(4, ge=1)
    lease_seconds: float = Field(30.0, gt=0)
    poll_interval: float = Field(1.0, gt=0)
    log_limit: int = Field(10_485_760, ge=4096)
    # The shipped entry: a published MCP server, pinned (conf/config.ini documents it as entry 1).
    catalogue: tuple[McpCatalogueEntry, ...] = (
        McpCatalogueEntry(
            id="1",
            name="Time (mcp-server-time 2026.10.19)",
            install_command="uv tool install --force mcp-server-time==2026.10.19",
            launch_command='"$HOME/.local/bin/mcp-server-time"',
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _collect_catalogue(cls, values: object) -> object:
        if not isinstance(values, dict) or "catalogue" in values:
            return values
        rest: dict[str, object] = {}
        entries: dict[int, dict[str, object]] = {}
        for key, value in values.items():
            match = MCP_ENTRY_KEY.match(key)
            if match is None:
                rest[key] = value
                continue
            entries.setdefault(int(match[2]), {})[match[1]] = value
        catalogue = []
        for number in sorted(entries):
            entry = entries[number]
            missing = [
                f"mcp_{k}_{number}"
                for k in ("server_name", "terminal_command", "launch_command")
                if not str(entry.get(k) or "").strip()
            ]
            if missing:
                raise ValueError(f"catalogue entry {number} lacks {', '.join(missing)}")
            catalogue.append(
                {
                    "id": str(number),
                    "name": entry["server_name"],
                    "install_command": entry["terminal_command"],
                    "launch_command": entry["launch_command"],
                }
            )
        if catalogue:
            rest["catalogue"] = tuple(catalogue)
        return rest


class RetrievalSettings(_Section):
    model: Literal["minilm", "hashing"] = "minilm"
    embed_workers: int = Field(1, ge=1, le=16)
    embed_threads: int = Field(1, ge=1, le=16)
    batch_size: int = Field(16, ge=1, le=256)
    candidates: int = Field(50, ge=1, le=1000)
    fusion: Literal["rrf", "relative"] = "rrf"
    rrf_k: int = Field(10, ge=1, le=1000)
    semantic_weight: float = Field(2.0, gt=0, le=100)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(_Section):
    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    database: DatabaseSettings = DatabaseSettings()
    security: SecuritySettings = SecuritySettings()
    realtime: RealtimeSettings = RealtimeSettings()
    broker: BrokerSettings = BrokerSettings()
    documents: DocumentSettings = DocumentSettings()
    presence: PresenceSettings = PresenceSettings()
    dashboard: DashboardSettings = DashboardSettings()
    notifications: NotificationSettings = NotificationSettings()
    llm: LlmSettings = LlmSettings()
    mcp: McpSettings = McpSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    logging: LoggingSettings = LoggingSettings()

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, defaulting to SQLite in the data directory."""
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.storage.data_dir / 'productdemo.db'}"

    @property
    def instance_id(self) -> str:
        """This instance's name among several sharing a database (stable across restarts)."""
        return self.server.instance_id or f"{socket.gethostname()}:{self.server.port}"

    def secret_key(self) -> bytes:
        """The cookie-signing key, read from the key file when one is configured."""
        sec = self.security
        if sec.secret_key_file is not None:
            return sec.secret_key_file.read_bytes().strip()
        return sec.secret_key.get_secret_value().encode()


def load_config(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> Config:
    """Build the Config from an ini file, the environment and explicit overrides.

    Args:
        path: the ini file; ``conf/config.ini`` when it exists, else built-in defaults.
        environ: the environment to read ``PRODUCTDEMO_*`` from (``os.environ`` by default).
        overrides: section -> key -> value, applied last (tests use this).

    Raises:
        ConfigError: unknown key, bad value, or a placeholder secret in production.
    """
    raw: dict[str, dict[str, object]] = {name: {} for name in Config.model_fields}
    parser = configparser.ConfigParser(interpolation=None)
    if path is None and DEFAULT_CONFIG_FILE.exists():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        parser.read(path, encoding="utf-8")
    for section in parser.sections():
        if section not in raw:
            raise ConfigError(f"{path}: unknown section [{section}]")
        raw[section].update(parser[section])
    env = os.environ if environ is None else environ
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in _NON_SETTING_VARS or name.startswith(_TEST_PREFIX):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if key not in _SETTING_NAMES.get(section, ()) and not (section == "mcp" and MCP_ENTRY_KEY.match(key)):
            raise ConfigError(f"environment variable {name} names no setting")
        raw[section][key] = value
    for section, values in (overrides or {}).items():
        raw[section].update(values)
    cleaned = {s: {k: v for k, v in values.items() if v != ""} for s, values in raw.items()}
    try:
        config = Config.model_validate(cleaned)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    _enforce_non_default_secrets(config)
    _check_secret_key_file(config)
    return config


# Variables with the prefix that configure the test/CI harness rather than the app.
_NON_SETTING_VARS = frozenset({"PRODUCTDEMO_REQUIRE_SERVICES"})
_TEST_PREFIX = "PRODUCTDEMO_TEST_"
# section -> its keys, so a misspelt variable is reported by its own name.
_SETTING_NAMES: dict[str, frozenset[str]] = {
    name: frozenset(type(getattr(Config(), name)).model_fields) for name in Config.model_fields
}


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        lines.append(f"[{where.replace('.', '] ', 1)}: {err['msg']}")
    return "invalid configuration: " + "; ".join(lines)


def _check_secret_key_file(config: Config) -> None:
    path = config.security.secret_key_file
    if path is None:
        return
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"[security] secret_key_file {path} cannot be read: {exc.strerror}") from None
    if not key:
        raise ConfigError(f"[security] secret_key_file {path} is empty")


def _enforce_non_default_secrets(config: Config) -> None:
    sec = config.security
    if sec.environment == "production" and sec.secret_key_file is None:
        if sec.secret_key.get_secret_value() == PLACEHOLDER_SECRET:
            raise ConfigError(
                "[security] secret_key is the development placeholder; set PRODUCTDEMO_SECURITY_SECRET_KEY "
                "or secret_key_file in production"
            )
