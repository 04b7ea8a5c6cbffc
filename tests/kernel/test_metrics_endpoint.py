"""`curbside up` serves Prometheus metrics on loopback, and they count real traffic.

A clinician DMs the gatekeeper (an event handled, a handler timed), sends an
event encrypted with a session the bot never got (an undecryptable event),
and two faxes go out on the loopback line with a rate limit of one per hour
to that number: the first is delivered (pages sent, and received again on our
own inbox: an inbound fax routed to the referral desk), the second waits for
the limit (a retry). Everything is read with curl from the endpoint, as an
operator's Prometheus would.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from curbside.homeserver import register_user
from tests.support.documents import make_pdf
from tests.support.matrix_testkit import MatrixUser, wait_for
from tests.support.metrics import Samples, scrape, value
from tests.support.service import curbside, init_project, start_up

FAX_TO = "+16175550134"


@dataclass
class _Homeserver:
    """What :class:`MatrixUser` needs of a homeserver: its URL and registration."""

    url: str
    shared_secret: str

    async def register_user(self, localpart: str, password: str) -> str:
        return await register_user(self.url, self.shared_secret, localpart, password)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    config = init_project(tmp_path, fax={"rate_limit": {"count": 1, "per_seconds": 3600}})
    process, lines = start_up(tmp_path)
    try:
        yield config, "".join(lines)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


async def _clinician_traffic(hs: _Homeserver, gatekeeper: str, device: str) -> None:
    """A !help the gatekeeper answers, then an event it has no key for."""
    user = await MatrixUser.create(hs, f"metrics-{secrets.token_hex(4)}")
    try:
        room_id = await user.create_encrypted_room([gatekeeper])
        await user.wait_joined(room_id, gatekeeper, device)
        asked = await user.send(room_id, "!help")
        await wait_for(lambda: user.replies_to(asked, gatekeeper), timeout=60,
                       what="the gatekeeper's answer")
        await user.send_without_key(room_id)
    finally:
        await user.close()


def test_metrics_count_events_faxes_and_retries(
    tmp_path: Path, service: tuple[dict[str, Any], str]
) -> None:
    config, output = service
    metrics = config["metrics"]
    url = f"http://127.0.0.1:{metrics['port']}/metrics"
    assert f"metrics: {url}" in output
    devices = dict(re.findall(r"bot (@\S+) on device (\S+)", output))
    gatekeeper = next(user for user in devices if user.startswith("@gatekeeper:"))
    homeserver = config["homeserver"]
    hs = _Homeserver(homeserver["url"], homeserver["registration_shared_secret"])

    before = scrape(url)
    asyncio.run(_clinician_traffic(hs, gatekeeper, devices[gatekeeper]))
    for letter in ("first", "second"):  # two pages each: either may get the one slot
        document = tmp_path / f"{letter}.pdf"
        document.write_bytes(make_pdf(2, text=f"The {letter} letter"))
        sent = curbside(tmp_path, "fax", "send", "--to", FAX_TO, "--no-wait", str(document))
        assert sent.returncode == 0, sent.stderr

    def settled() -> Samples | None:
        samples = scrape(url)
        done = (value(samples, "curbside_fax_jobs", state="delivered") == 1
                and value(samples, "curbside_retries_total", kind="fax_rate_limit") >= 1
                and value(samples, "curbside_undecryptable_events_total", bot=gatekeeper) >= 1)
        return samples if done else None

    after = asyncio.run(wait_for(settled, timeout=180, what="the faxes and the undecryptable"))

    # The demo's set-up at start gives the gatekeeper events too: the !help adds to them.
    ok = {"bot": gatekeeper, "outcome": "ok"}
    assert (value(after, "curbside_events_handled_total", **ok)
            > value(before, "curbside_events_handled_total", **ok))
    assert (value(after, "curbside_handler_seconds_count", bot=gatekeeper)
            > value(before, "curbside_handler_seconds_count", bot=gatekeeper))
    waiting = sum(
        value(after, "curbside_fax_jobs", state=state)
        for state in ("queued", "rendering", "sending")
    )
    assert waiting == 1  # the second waits for the limit
    assert value(after, "curbside_fax_pages_sent_total") == 2
    assert value(after, "curbside_inbound_faxes_total", routed_to="referral_desk") == 1
    assert ("curbside_outbox_depth", frozenset({("account", gatekeeper)})) in after
    for due in ("overdue", "within_4h", "within_24h", "later", "no_due_time"):
        assert ("curbside_medinfo_open_requests", frozenset({("due", due)})) in after
