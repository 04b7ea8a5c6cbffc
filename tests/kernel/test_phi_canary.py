"""Seed the PHI canary through the paths PHI takes, so the end-of-run scan
(tests/conftest.py) proves none of them logs it.

Paths: a PHI field encrypted and decrypted; a developer's mistaken log call
with a decrypted value; an E2EE message carrying the canary to a bot, which
handles it (and fails to parse it as a command) without logging its body.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from curbside import redaction
from curbside.homeserver import EmbeddedSynapse
from curbside.matrix.bot import Bot
from curbside.phi import FieldCipher, decode_master_key, new_master_key
from tests.support.matrix_testkit import MatrixUser, bot_setup, wait_for
from tests.support.phi_canary import CANARY_MRN, CANARY_NAME

log = logging.getLogger("tests.phi_canary")


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """Lines as the service's handlers write them: through the PHI filter."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    redaction.install(handler)
    log.addHandler(handler)
    yield lines
    log.removeHandler(handler)


def test_decrypted_value_logged_by_mistake_is_masked(logged: list[str]) -> None:
    """Reading a PHI field is what teaches the filter its value.

    The name is new to this process and sealed without being remembered, so
    only ``decrypt_text`` can have told the filter about it.
    """
    master = decode_master_key(new_master_key())
    name = f"{CANARY_NAME} {uuid.uuid4().hex[:8]}"
    token = FieldCipher(keys={"k": master}, primary_key_id="k").encrypt_bytes(
        name.encode(), b"patient.name"
    )
    reader = FieldCipher(keys={"k": master}, primary_key_id="k")
    assert reader.decrypt_text(token, b"patient.name") == name
    log.error("could not route referral for %s (MRN %s)", name, CANARY_MRN)
    assert logged == [f"could not route referral for {redaction.MASK} ({redaction.MASK})"]


async def test_bot_handles_canary_message_without_logging_it(
    homeserver: EmbeddedSynapse, tmp_path: Path, unique: str
) -> None:
    setup = await bot_setup(homeserver, tmp_path, f"canarybot{unique}")
    bot = Bot(setup.account, setup.config)
    await bot.start()
    user = await MatrixUser.create(homeserver, f"canaryuser{unique}")
    try:
        room_id = await user.create_encrypted_room([setup.account.user_id])
        await user.wait_joined(room_id, setup.account.user_id, str(bot.client.device_id))
        sent = await user.send(room_id, f"!pnig {CANARY_NAME} MRN {CANARY_MRN}")
        await wait_for(lambda: user.replies_to(sent, setup.account.user_id), what="bot reply")
        assert "unknown command" in user.replies_to(sent, setup.account.user_id)[0].body
    finally:
        await user.close()
        await bot.stop()
