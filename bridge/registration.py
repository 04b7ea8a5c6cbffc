"""The fax bridge's application-service registration.

Synapse reads this file to know which users the bridge owns: the bridge bot
and every fax puppet ``@fax_<E.164 digits>:<server>``, exclusively, so nobody
else can register a name that looks like a fax number.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

PUPPET_PREFIX = "fax_"
REGISTRATION_ID = "curbside-fax"


def registration(
    *, server_name: str, sender_localpart: str, as_token: str, hs_token: str, port: int
) -> dict[str, Any]:
    """The registration mapping as the Matrix application-service API defines it."""
    server = re.escape(server_name)
    return {
        "id": REGISTRATION_ID,
        "url": f"http://127.0.0.1:{port}",
        "as_token": as_token,
        "hs_token": hs_token,
        "sender_localpart": sender_localpart,
        "rate_limited": False,
        "namespaces": {
            "users": [
                {"exclusive": True, "regex": rf"@{PUPPET_PREFIX}[0-9]{{8,15}}:{server}"},
                {"exclusive": True, "regex": rf"@{re.escape(sender_localpart)}:{server}"},
            ],
            "aliases": [],
            "rooms": [],
        },
    }


def write_registration(path: Path, **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Fax bridge application-service registration, written by `curbside init`.\n"
        "# Install on an existing Synapse by listing this file under\n"
        "# app_service_config_files in homeserver.yaml, then restart Synapse.\n"
        + yaml.safe_dump(registration(**kwargs), sort_keys=False)
    )
    path.chmod(0o600)
    return path
