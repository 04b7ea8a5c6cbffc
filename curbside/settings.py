"""Settings: one YAML file, validated at load, older files still accepted.

    shipped example (all defaults) ◀── deep-merge ── user's YAML ── ${ENV} expansion
                                          │
                                   pydantic validation ──> Settings (frozen)

Loading merges the user's keys into the commented example shipped in
``config/curbside.example.yaml`` (the mautrix way), so a key added in a later
version takes its default and a config written by an older version keeps
loading. Every error names the key path and what is wrong. Secrets may be
written as ``${NAME}`` to come from the environment.

Relative paths (``data_dir``, a SQLite database file) are resolved against the
project directory: the parent of the folder that holds the config file.
"""

from __future__ import annotations

import copy
import os
import re
import secrets
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from curbside.phi import decode_master_key

EXAMPLE_PATH = Path(__file__).resolve().parent.parent / "config" / "curbside.example.yaml"
GENERATE = "generate"
CURRENT_CONFIG_VERSION = 1
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SettingsError(Exception):
    """The configuration cannot be used; the message says which key and why."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HomeserverSettings(_Section):
    mode: Literal["embedded", "external"]
    server_name: str = Field(min_length=1)
    url: str
    registration_shared_secret: str = Field(min_length=16)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def port(self) -> int:
        tail = self.url.rsplit(":", 1)[-1].split("/")[0]
        return int(tail) if tail.isdigit() else (443 if self.url.startswith("https") else 80)


class DatabaseSettings(_Section):
    url: str

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value


class SecretSettings(_Section):
    master_key: str
    audit_key: str = Field(min_length=16)
    pickle_key: str = Field(min_length=16)

    @field_validator("master_key")
    @classmethod
    def _master_key_shape(cls, value: str) -> str:
        decode_master_key(value)
        return value

    @property
    def master_key_bytes(self) -> bytes:
        return decode_master_key(self.master_key)


class BotSettings(_Section):
    localpart: str = Field(pattern=r"^[a-z0-9._=/-]+$")
    display_name: str
    password: str = Field(min_length=12)
    # The bot's own options, validated by the bot's package when it starts.
    options: dict[str, Any] = Field(default_factory=dict)


class BridgeSettings(_Section):
    sender_localpart: str = Field(pattern=r"^[a-z0-9._=/-]+$")
    as_token: str = Field(min_length=16)
    hs_token: str = Field(min_length=16)
    port: int = Field(ge=1, le=65535)


class DemoSettings(_Section):
    """The demo `curbside init` and `curbside up` set up (embedded homeserver only)."""

    enabled: bool


class AuditSettings(_Section):
    """Where the signed audit checkpoints go (curbside/audit_anchor.py) and how often."""

    checkpoint_file: Path
    checkpoint_every_seconds: float = Field(gt=0)


class OperatorSettings(_Section):
    """Where the people running Curbside hear from it (room ids, ``!…``).

    ``room``: notices from every bot's supervisor (work it gave up on).
    ``fax_inbox_room``: faxes nobody on Matrix can receive (a number without an
    owner, an owner without a portal or who left it), with their numbers and pages.
    ``curbside init`` creates both, encrypted, on the embedded homeserver.
    """

    room: str | None = Field(default=None, pattern=r"^!\S+$")
    fax_inbox_room: str | None = Field(default=None, pattern=r"^!\S+$")


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class MetricsSettings(_Section):
    """The Prometheus endpoint of `curbside up` (docs/operations.md)."""

    enabled: bool
    host: Literal["127.0.0.1", "::1", "localhost"]
    port: int = Field(ge=1, le=65535)


class Settings(_Section):
    config_version: int
    data_dir: Path
    homeserver: HomeserverSettings
    database: DatabaseSettings
    secrets: SecretSettings
    bots: dict[str, BotSettings]
    bridge: BridgeSettings
    operator: OperatorSettings = OperatorSettings()
    logging: LoggingSettings
    demo: DemoSettings
    audit: AuditSettings
    metrics: MetricsSettings
    # Sections owned by other packages, validated by them when they start
    # (the kernel imports none of them): fax → fax_gateway.gateway.FaxSettings.
    fax: dict[str, Any] = Field(default_factory=dict)

    def bot_user_id(self, name: str) -> str:
        return f"@{self.bots[name].localpart}:{self.homeserver.server_name}"

    @property
    def demo_enabled(self) -> bool:
        """The demo runs only on the embedded homeserver, never on a real one."""
        return self.demo.enabled and self.homeserver.mode == "embedded"


def example_text() -> str:
    return EXAMPLE_PATH.read_text()


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _expand_env(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise SettingsError(f"{path}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REFERENCE.sub(lookup, value)
    return value


def _unfilled_secrets(data: Any, path: str = "") -> list[str]:
    if isinstance(data, dict):
        return [
            p for k, v in data.items() for p in _unfilled_secrets(v, f"{path}.{k}" if path else k)
        ]
    return [path] if data == GENERATE else []


def _resolve_paths(data: dict[str, Any], project_dir: Path) -> None:
    data_dir = Path(data["data_dir"])
    data["data_dir"] = data_dir if data_dir.is_absolute() else project_dir / data_dir
    audit = data.get("audit")
    if isinstance(audit, dict) and "checkpoint_file" in audit:
        checkpoints = Path(audit["checkpoint_file"])
        audit["checkpoint_file"] = checkpoints if checkpoints.is_absolute() else (
            project_dir / checkpoints
        )
    url = str(data["database"]["url"])
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        data["database"]["url"] = f"sqlite:///{project_dir / url.removeprefix('sqlite:///')}"


def parse_settings(raw: dict[str, Any], project_dir: Path) -> Settings:
    """Validate a config mapping (already read from YAML) into Settings."""
    defaults = yaml.safe_load(example_text())
    data = _expand_env(_deep_merge(defaults, raw), "")
    if data.get("config_version", 0) > CURRENT_CONFIG_VERSION:
        raise SettingsError(
            f"config_version: {data['config_version']} is newer than this Curbside understands "
            f"({CURRENT_CONFIG_VERSION}); upgrade Curbside"
        )
    unfilled = _unfilled_secrets(data)
    if unfilled:
        raise SettingsError(
            f"{', '.join(unfilled)}: still '{GENERATE}' — run `curbside init` to create secrets"
        )
    _resolve_paths(data, project_dir)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None


def load_settings(path: Path) -> Settings:
    """Read and validate a config file; errors name the file and the key."""
    if not path.exists():
        raise SettingsError(f"{path}: no such config file — run `curbside init` first")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: the top level must be a mapping of keys")
    try:
        return parse_settings(raw, path.resolve().parent.parent)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None


def render_new_config(example: str | None = None) -> str:
    """The example text with every ``generate`` placeholder given a fresh secret.

    Working on the text (not re-dumping YAML) keeps the example's comments.
    """
    from curbside.phi import new_master_key

    def fill(match: re.Match[str]) -> str:
        key = match.group(2)
        if key == "master_key":
            value = new_master_key()
        elif key == "sender_localpart":
            value = "faxbridge_" + secrets.token_hex(4)
        else:
            value = secrets.token_urlsafe(32)
        return match.group(1) + value

    pattern = rf"^([ \t]*(\w+):[ \t]*){GENERATE}[ \t]*$"
    return re.sub(pattern, fill, example or example_text(), flags=re.M)
