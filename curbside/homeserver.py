"""The embedded homeserver: Synapse on loopback with SQLite.

    write_config() ─> homeserver.yaml + signing key + log config (once)
    EmbeddedSynapse.start() ─> `python -m synapse.app.homeserver` subprocess
                           ─> wait for /health ─> ready
    register_user() ─> shared-secret admin API (no open registration)

`curbside up` uses this when no external homeserver is configured, and the
test fixtures use it on a free port in a temporary directory. Rate limits are
lifted because every client here is on loopback and ours; registration is
closed to the public and done through the shared secret only.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml
from signedjson.key import generate_signing_key, write_signing_keys

from curbside.lifecycle import die_with_parent

_UNLIMITED = {"per_second": 10_000, "burst_count": 100_000}


class HomeserverError(RuntimeError):
    """The homeserver could not be started or did not answer as expected."""


class UserExists(HomeserverError):
    """Registration refused because the account already exists."""


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class HomeserverLayout:
    """Where an embedded homeserver keeps its files, and how it listens."""

    data_dir: Path
    server_name: str
    port: int
    registration_shared_secret: str
    modules: tuple[dict[str, Any], ...] = ()
    app_service_config_files: tuple[Path, ...] = ()
    # Synapse's own log file (rotated); `curbside up --verbose` raises it to INFO.
    log_level: str = "WARNING"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.data_dir / "homeserver.yaml"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "homeserver.log"


def write_config(layout: HomeserverLayout) -> Path:
    """Write (or rewrite) the homeserver config; keeps an existing signing key."""
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    signing_key = layout.data_dir / "signing.key"
    if not signing_key.exists():
        with signing_key.open("w") as handle:
            write_signing_keys(handle, [generate_signing_key("a_curb")])
    log_config = layout.data_dir / "log.config.yaml"
    log_config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "formatters": {
                    "precise": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
                },
                "handlers": {
                    "file": {
                        "class": "logging.handlers.RotatingFileHandler",
                        "formatter": "precise",
                        "filename": str(layout.log_path),
                        "maxBytes": 10_000_000,
                        "backupCount": 3,
                    }
                },
                "root": {"level": layout.log_level, "handlers": ["file"]},
                "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
                "disable_existing_loggers": False,
            }
        )
    )
    config: dict[str, Any] = {
        "server_name": layout.server_name,
        "pid_file": str(layout.data_dir / "homeserver.pid"),
        "public_baseurl": layout.url + "/",
        "listeners": [
            {
                "port": layout.port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {
            "name": "sqlite3",
            "args": {"database": str(layout.data_dir / "homeserver.db")},
        },
        "log_config": str(log_config),
        "media_store_path": str(layout.data_dir / "media_store"),
        "signing_key_path": str(signing_key),
        "registration_shared_secret": layout.registration_shared_secret,
        "enable_registration": False,
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "allow_public_rooms_over_federation": False,
        "encryption_enabled_by_default_for_room_type": "all",
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "enable_metrics": False,
        "rc_message": _UNLIMITED,
        "rc_registration": _UNLIMITED,
        "rc_login": {"address": _UNLIMITED, "account": _UNLIMITED, "failed_attempts": _UNLIMITED},
        "rc_admin_redaction": _UNLIMITED,
        "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
        "rc_joins_per_room": _UNLIMITED,
        "rc_invites": {"per_room": _UNLIMITED, "per_user": _UNLIMITED, "per_issuer": _UNLIMITED},
        "rc_3pid_validation": _UNLIMITED,
        "rc_key_requests": _UNLIMITED,
        "rc_media_create": _UNLIMITED,
        "rc_delayed_event_mgmt": _UNLIMITED,
        "modules": list(layout.modules),
        "app_service_config_files": [str(p) for p in layout.app_service_config_files],
        **layout.extra,
    }
    layout.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return layout.config_path


class EmbeddedSynapse:
    """Start, stop and restart one Synapse process for a layout."""

    def __init__(self, layout: HomeserverLayout, *, python: str = sys.executable) -> None:
        self.layout = layout
        self._python = python
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.layout.url

    @property
    def server_name(self) -> str:
        return self.layout.server_name

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        """Launch Synapse and block until /health answers (or raise with the log tail).

        Synapse gets its own session (a Ctrl-C in the terminal reaches only us,
        and we stop it in order) and dies with this process however it ends.
        """
        if self.running:
            return
        write_config(self.layout)
        env = {**os.environ, "SYNAPSE_ASYNC_IO_REACTOR": "1"}
        stderr_path = self.layout.data_dir / "homeserver.stderr"
        with stderr_path.open("ab") as stderr:
            self._process = subprocess.Popen(
                [self._python, "-m", "synapse.app.homeserver", "-c", str(self.layout.config_path)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise HomeserverError(
                    f"Synapse exited with code {self._process.returncode}:\n{self._log_tail()}"
                )
            if self._healthy():
                return
            time.sleep(0.1)
        self.stop()
        raise HomeserverError(
            f"Synapse did not answer /health within {timeout:.0f}s:\n{self._log_tail()}"
        )

    def stop(self, timeout: float = 20.0) -> None:
        """Stop gracefully (SIGTERM), killing it if it does not exit in time."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _healthy(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.layout.port), timeout=0.5) as sock:
                sock.sendall(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
                return b" 200 " in sock.recv(64)
        except OSError:
            return False

    def _log_tail(self, lines: int = 40) -> str:
        chunks: list[str] = []
        for path in (self.layout.data_dir / "homeserver.stderr", self.layout.log_path):
            if path.exists():
                chunks.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(chunks)

    async def register_user(
        self, localpart: str, password: str, *, admin: bool = False, displayname: str | None = None
    ) -> str:
        """Create an account through the shared-secret admin API; returns the user id."""
        return await register_user(
            self.url,
            self.layout.registration_shared_secret,
            localpart,
            password,
            admin=admin,
            displayname=displayname,
        )


async def register_user(
    url: str,
    shared_secret: str,
    localpart: str,
    password: str,
    *,
    admin: bool = False,
    displayname: str | None = None,
) -> str:
    """Register a user with Synapse's shared-secret admin API.

    Returns the full user id. An account that already exists is an error
    (``HomeserverError`` naming it) so callers decide whether that is fine.
    """
    endpoint = f"{url}/_synapse/admin/v1/register"
    async with aiohttp.ClientSession() as http:
        async with http.get(endpoint) as response:
            nonce = (await response.json())["nonce"]
        fields = (nonce, localpart, password, "admin" if admin else "notadmin")
        mac = hmac.new(shared_secret.encode(), b"\x00".join(f.encode() for f in fields), "sha1")
        body: dict[str, Any] = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        if displayname:
            body["displayname"] = displayname
        async with http.post(endpoint, json=body) as response:
            payload = await response.json()
            if payload.get("errcode") == "M_USER_IN_USE":
                raise UserExists(f"registering {localpart!r} failed: the account already exists")
            if response.status != 200:
                reason = f"{payload.get('errcode')} {payload.get('error')}"
                raise HomeserverError(f"registering {localpart!r} failed: {reason}")
            return str(payload["user_id"])


async def existing_accounts(url: str, user_ids: Collection[str]) -> set[str]:
    """Which of ``user_ids`` have an account on the homeserver at ``url``.

    Asks the client-server profile endpoint, which answers 404 for a user the
    server does not know and needs no token (Synapse's admin user API would
    need an admin's access token, which Curbside does not hold). Raises
    ``OSError``/``aiohttp.ClientError`` when the homeserver cannot be reached.
    """
    found: set[str] = set()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for user_id in user_ids:
            async with http.get(f"{url}/_matrix/client/v3/profile/{quote(user_id)}") as response:
                if response.status == 200:
                    found.add(user_id)
                elif response.status != 404:
                    raise HomeserverError(
                        f"looking up {user_id} failed: HTTP {response.status} "
                        f"{(await response.text())[:200]}"
                    )
    return found


async def wait_until_healthy(url: str, timeout: float = 30.0) -> None:
    """Poll /health of any homeserver (embedded or external) until it answers 200."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{url}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise HomeserverError(
                    f"homeserver at {url} did not become healthy in {timeout:.0f}s"
                )
            await asyncio.sleep(0.2)
