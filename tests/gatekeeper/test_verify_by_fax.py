"""Verification by fax: the code reaches the NPPES practice fax over a real fax line.

Real Synapse and E2EE; the gatekeeper has a fax gateway on the spandsp
loopback line. The clinician answers !verify, asks for !faxcode, and the
code goes out as a one-page fax in a real T.30 call. The test plays the
practice: it reads the code off the page as received — the inbound fax is
an image (the TIFF from the line, wrapped losslessly in a PDF), rendered
with poppler and read by tesseract OCR, so nothing but the fax page carries
the code to it — and types it back. A wrong and an expired code are refused;
the confirmation shows in the verifiers' room.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.gatekeeper.bot import GatekeeperBot
from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.fax_code import EVIDENCE, derive_code_key
from curbside.audit import AuditLog
from curbside.database import migrate
from curbside.phi import install_cipher
from fax_gateway import VERSIONS_DIR, FaxSettings, derive_pepper, open_gateway
from tests.gatekeeper.conftest import AUDIT_KEY
from tests.gatekeeper.registry_data import FRAN, load_registry
from tests.support.matrix_testkit import MatrixUser, bot_setup, wait_for

pytestmark = pytest.mark.homeserver


class Clock:
    """The gatekeeper's clock, which the test moves forward (codes expire)."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


def read_code(pdf: bytes, scratch: Path) -> str:
    """OCR the received page for the six-digit code printed on it."""
    (scratch / "fax.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "200", "-gray", "-png", "-f", "1", "-l", "1",
                    str(scratch / "fax.pdf"), str(scratch / "page")], check=True)
    [image] = sorted(scratch.glob("page*.png"))
    text = subprocess.run(["tesseract", str(image), "stdout"], check=True,
                          capture_output=True, text=True).stdout
    found = re.findall(r"(?<!\d)(\d{6})(?!\d)", text)
    assert len(found) == 1, text
    return found[0]


async def test_a_code_faxed_to_the_practice_and_typed_back_confirms_the_request(
    homeserver, tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    tag = uuid.uuid4().hex[:6]
    setup = await bot_setup(homeserver, tmp_path, f"gatekeeper{tag}")
    engine = setup.config.engine
    migrate(engine, [*GatekeeperBot.version_locations(), VERSIONS_DIR])
    load_registry(engine, tmp_path)
    install_cipher(setup.config.cipher)  # type: ignore[arg-type]
    gateway = open_gateway(FaxSettings(), engine=engine, cipher=setup.config.cipher,  # type: ignore[arg-type]
                           audit=AuditLog(AUDIT_KEY), pepper=derive_pepper(AUDIT_KEY),
                           documents_dir=tmp_path / "fax-documents")
    verifier = await MatrixUser.create(homeserver, f"verifier{tag}")
    fran = await MatrixUser.create(homeserver, f"fran{tag}")
    verifiers_room = await verifier.create_encrypted_room([setup.account.user_id])
    clock = Clock()
    bot = GatekeeperBot(setup.account, setup.config, audit=AuditLog(AUDIT_KEY),
                        settings=GatekeeperConfig(verifiers_room=verifiers_room,
                                                  fax_code_minutes=10),
                        gateway=gateway, fax_code_key=derive_code_key(AUDIT_KEY), clock=clock)
    await bot.start()
    stop = asyncio.Event()
    worker = asyncio.create_task(gateway.worker("verify-by-fax").run(stop, idle=0.1))
    bot_id = setup.account.user_id

    async def ask(text: str) -> str:
        sent = await fran.send(dm, text)
        replies = await wait_for(lambda: fran.replies_to(sent, bot_id), timeout=60,
                                 what=f"the answer to {text!r}")
        return str(replies[0].body)

    async def faxed_code(number: int) -> str:
        received = await wait_for(lambda: gateway.received_after(0)[number:], timeout=120,
                                  what="the code's fax at the practice")
        envelope = gateway.inbound_envelope(received[0].id)
        assert envelope.to_number == "+13125550142" and envelope.pages == 1
        pdf = gateway.inbound_document(received[0].id, actor="@practice:test",
                                       reason="the practice reads its fax")
        scratch = tmp_path / f"ocr{number}"
        scratch.mkdir()
        return read_code(pdf, scratch)

    try:
        await verifier.wait_joined(verifiers_room, bot_id, bot.client.device_id)
        dm = await fran.create_encrypted_room([bot_id])
        await fran.wait_joined(dm, bot_id, bot.client.device_id)
        assert "Verification request" in await ask("!verify")
        assert "active clinician" in await ask(FRAN)
        assert "name matches" in await ask("Frances Faxwell")
        assert "licence matches" in await ask("IL 036-123456")

        sending = await ask("!faxcode")
        assert sending.startswith(f"I am faxing a one-time code to the practice fax NPPES "
                                  f"lists for NPI {FRAN}: +1 312 555 0142.")
        code = await faxed_code(0)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        assert await ask(f"!code {wrong}") == "That is not the code I faxed. 4 tries left."

        # Ten minutes later the code has expired.
        clock.ahead = timedelta(minutes=10)
        assert await ask(f"!code {code}") == "That code has expired; !faxcode sends a new one."

        assert (await ask("!faxcode")).startswith("I am faxing a one-time code")
        fresh = await faxed_code(1)
        confirmed = await ask(f"!code {fresh}")
        assert confirmed.startswith("Thank you: the code matches")
        assert "already confirmed" in await ask("!faxcode")

        evidence = await wait_for(lambda: [r for r in verifier.received
                                           if r.room_id == verifiers_room
                                           and EVIDENCE in r.body], what="the evidence")
        assert evidence[0].event.decrypted and f"NPI {FRAN}" in evidence[0].body
        assert len(gateway.received_after(0)) == 2  # one fax per code, no more
    finally:
        stop.set()
        await worker
        await bot.stop()
        for user in (verifier, fran):
            await user.close()
        await gateway.close()
