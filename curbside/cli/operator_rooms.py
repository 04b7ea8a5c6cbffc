"""The operator's two rooms on the embedded homeserver, made once and kept in the config.

    `curbside up`, embedded homeserver, operator.room or .fax_inbox_room unset
        ─► the operator account (password kept in data_dir/operator.txt, like the
           demo clinician's) ─► an encrypted private room for each unset one,
           every bot invited (they join at their first sync)
        ─► the ids written into the config file in place (its comments kept)

The rooms need the homeserver running, which `curbside init` does not start
(it writes files and migrates the database only), so the first `up` makes
them — before any bot starts, so each bot starts with the ids. With an
external homeserver the operator creates the rooms and fills in the keys.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from pathlib import Path

import nio

from curbside.cli.context import AppContext
from curbside.homeserver import UserExists, register_user
from curbside.matrix.rooms import create_encrypted_room

OPERATOR_LOCALPART = "operator"
ROOMS = {"room": "Curbside operator notices", "fax_inbox_room": "Curbside fax inbox"}


def operator_password_path(app: AppContext) -> Path:
    return app.settings.data_dir / "operator.txt"


async def _operator_password(app: AppContext) -> str:
    path = operator_password_path(app)
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    hs = app.settings.homeserver
    with contextlib.suppress(UserExists):
        await register_user(hs.url, hs.registration_shared_secret, OPERATOR_LOCALPART,
                            password, displayname="Curbside Operator")
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def with_operator_rooms(text: str, rooms: dict[str, str]) -> str:
    """The config text with ``operator.<key>: <room id>`` set for each of ``rooms``.

    Edits the lines of the top-level ``operator:`` block in place (so the
    comments stay); a config without one gets the block appended.
    """
    block = re.search(r"^operator:[ \t]*\n((?:[ \t]+.*\n|[ \t]*\n)*)", text, re.M)
    if block is None:
        lines = "".join(f"  {key}: '{room}'\n" for key, room in rooms.items())
        return text.rstrip("\n") + "\n\noperator:\n" + lines
    body = block.group(1)
    for key, room in rooms.items():
        line = re.compile(rf"^([ \t]+{key}:)[ \t]*\S*[ \t]*$", re.M)
        body = line.sub(lambda m, r=room: f"{m.group(1)} '{r}'", body, count=1) \
            if line.search(body) else f"  {key}: '{room}'\n" + body
    return text[:block.start(1)] + body + text[block.end(1):]


async def ensure_operator_rooms(app: AppContext) -> dict[str, str]:
    """Create the unset operator rooms (embedded homeserver only); the ids made."""
    settings = app.settings
    current = settings.operator
    missing = {key: name for key, name in ROOMS.items() if getattr(current, key) is None}
    if settings.homeserver.mode != "embedded" or not missing:
        return {}
    password = await _operator_password(app)
    user_id = f"@{OPERATOR_LOCALPART}:{settings.homeserver.server_name}"
    client = nio.AsyncClient(settings.homeserver.url, user_id)
    try:
        login = await client.login(password, device_name="curbside up (operator rooms)")
        if not isinstance(login, nio.LoginResponse):
            raise RuntimeError(f"the operator account cannot log in: {login.message}")
        bots = [settings.bot_user_id(name) for name in settings.bots]
        made = {key: await create_encrypted_room(client, name=name, invite=bots)
                for key, name in missing.items()}
        await client.logout()
    finally:
        await client.close()
    app.config_path.write_text(with_operator_rooms(app.config_path.read_text(), made))
    app.reload_settings()
    return made
