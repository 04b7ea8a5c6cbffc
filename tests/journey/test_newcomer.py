"""A newcomer tries every journey on a fresh data directory, as `make run` starts it.

`curbside init` then `curbside up` run in a subprocess exactly as the
Makefile runs them (only the ports are moved off the defaults, because other
services share this machine, and the operator allows one fax an hour to a
number). Scripted Matrix clients log in with the demo logins `up` printed —
nothing else is read from the project — and, within one five-minute deadline:

1. verify the new demo clinician, who first hears from the medical-information
   bot and the referral desk what to do (get verified): !verify in a DM with
   the gatekeeper, the three answers the screen gave, the demo verifier sees
   the evidence (!pending) in the credentialing room the gatekeeper made, and
   !approve; the newcomer's client then sends one message without sharing its
   room key (the gatekeeper cannot read it);
2. the demo internist creates a verified room, invites the cardiologist, who
   receives the invite, and finds colleagues by a two-word specialty;
3. the internist refers a patient (the form pasted in its thread) to the
   cardiologist, who accepts and sends a consult note: the loop closes;
4. the internist faxes a PDF to the cardiologist's demo fax number through the
   bridge: delivered, and received in the cardiologist's chat with the number;
   the office faxes the same number again with `curbside fax send`, which
   waits for the hourly limit;
5. the internist asks the demo sponsor a question; the demo MSL sees it as
   "a verified Internal Medicine clinician" and answers; the answer comes back;
   the internist adds that a patient broke out in hives on the product, which
   goes to the sponsor's pharmacovigilance team (unacknowledged yet);
6. curl of the metrics endpoint shows every family counted it (see
   :func:`metrics_counted`).

Over everything any bot said: no taxonomy code where a specialty belongs, and
no one-to-one chat with more than one thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nio
import pytest
import yaml

from curbside.homeserver import free_port
from curbside.matrix.files import upload_encrypted
from tests.support.documents import make_pdf
from tests.support.matrix_testkit import MatrixUser, Received, wait_for
from tests.support.metrics import Samples, labelled, scrape, total, value

pytestmark = pytest.mark.homeserver

CURBSIDE = [sys.executable, "-m", "curbside"]
READY = "Press Ctrl-C to stop."
DEADLINE = 300.0  # seconds for every journey together, as the issue promises a newcomer
WAIT = 90.0  # seconds for any one answer
SERVER = "curbside.localhost"
TAXONOMY_CODE = re.compile(r"\b[0-9]{3}[0-9A-Z]{6}X\b")
LOGIN = re.compile(r"^ {4}(demo-[a-z]+) +(\S+) {3}", re.M)
DEVICE = re.compile(r"bot (@\S+) on device (\S+)")
ANSWERS = re.compile(r"answer: NPI (\d{10}) · name (.+?) · licence (.+?); then")


@dataclass
class Screen:
    """What `curbside up` printed: the homeserver, the logins, the bots' devices."""

    project: Path
    url: str
    metrics: str
    logins: dict[str, str]
    devices: dict[str, str]
    npi: str
    name: str
    licence: str

    @classmethod
    def read(cls, project: Path, text: str) -> Screen:
        url = re.search(r"homeserver: +(http://\S+)", text)
        metrics = re.search(r"metrics: +(http://\S+)", text)
        answers = ANSWERS.search(text)
        assert url and metrics and answers, text
        return cls(project, url.group(1), metrics.group(1), dict(LOGIN.findall(text)),
                   dict(DEVICE.findall(text)), *answers.groups())


@contextlib.contextmanager
def _curbside_up(project: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`curbside up` until it printed the screen; stopped with Ctrl-C (SIGINT) after."""
    process = subprocess.Popen([*CURBSIDE, "up"], cwd=project, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line)
            if READY in line:
                break
        yield process, "".join(lines)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Screen]:
    project = tmp_path / "project"
    project.mkdir()
    init = subprocess.run([*CURBSIDE, "init"], cwd=project, capture_output=True, text=True,
                          timeout=300, check=False)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "demo: synthetic registry" in init.stdout, init.stdout
    config_path = project / "config" / "curbside.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["homeserver"]["url"] = f"http://127.0.0.1:{free_port()}"
    config["fax"]["webhook_port"] = free_port()
    config["bridge"]["port"] = free_port()
    config["metrics"]["port"] = free_port()
    config["fax"]["rate_limit"] = {"count": 1, "per_seconds": 3600}  # one an hour to a number
    config_path.write_text(yaml.safe_dump(config))
    # As a second `make run` would: init again rewrites the files derived from the config.
    again = subprocess.run([*CURBSIDE, "init"], cwd=project, capture_output=True, text=True,
                           timeout=300, check=False)
    assert again.returncode == 0 and "demo: kept" in again.stdout, again.stdout + again.stderr
    with _curbside_up(project) as (process, printed):
        assert READY in printed, printed
        assert process.poll() is None, printed
        yield Screen.read(project, printed)


def uid(localpart: str) -> str:
    return f"@{localpart}:{SERVER}"


GATEKEEPER, DESK, MEDINFO = uid("gatekeeper"), uid("referral-desk"), uid("medinfo")
FAX = "+16175550142"
PUPPET = uid(f"fax_{FAX[1:]}")


async def says(user: MatrixUser, room: str, sender: str, text: str, *,
               since: int = 0) -> Received:
    """The first message from ``sender`` in ``room`` containing ``text`` (from ``since``)."""
    def found() -> Received | None:
        return next((r for r in user.received[since:] if r.room_id == room
                     and r.event.sender == sender and text in r.body), None)
    return await wait_for(found, timeout=WAIT, what=f"{sender} to say {text!r}")


async def say(user: MatrixUser, room: str, body: str, bot: str, expect: str, *,
              thread_root: str | None = None) -> Received:
    """Send ``body`` and wait for ``bot``'s message containing ``expect`` after it."""
    since = len(user.received)
    await user.send(room, body, thread_root=thread_root)
    return await says(user, room, bot, expect, since=since)


async def open_chat(user: MatrixUser, bot: str) -> str:
    """Start a one-to-one encrypted chat with ``bot`` (invited, as a client does)."""
    response = await user.client.room_create(
        invite=[bot], is_direct=True, preset=nio.RoomPreset.trusted_private_chat,
        initial_state=[{"type": "m.room.encryption", "state_key": "",
                        "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
    assert isinstance(response, nio.RoomCreateResponse), response
    room = str(response.room_id)
    await wait_for(lambda: room in user.client.rooms, what="the chat to sync")
    return room


async def chat_with(user: MatrixUser, bot: str, device: str | None = None) -> str:
    """A one-to-one encrypted chat with ``bot``, once it joined and its keys are known."""
    room = await open_chat(user, bot)
    await user.wait_joined(room, bot, device)
    return room


async def join_from(user: MatrixUser, inviter: str, room: str | None = None) -> str:
    """Accept the invite ``inviter`` sent (to ``room``, when given)."""
    def invited() -> str | None:
        return next((rid for rid, r in user.client.invited_rooms.items()
                     if (room is None or rid == room) and r.inviter == inviter), None)
    room_id = await wait_for(invited, timeout=WAIT, what=f"an invite from {inviter}")
    response = await user.client.join(room_id)
    assert isinstance(response, nio.JoinResponse), response
    await wait_for(lambda: room_id in user.client.rooms, what="the joined room")
    return str(room_id)


def thread_of(message: Received) -> str | None:
    relates = message.content.get("m.relates_to") or {}
    return str(relates["event_id"]) if relates.get("rel_type") == "m.thread" else None


async def verify_the_newcomer(screen: Screen, clinician: MatrixUser,
                              verifier: MatrixUser) -> None:
    room = await join_from(verifier, GATEKEEPER)  # the credentialing room it made
    await verifier.wait_joined(room, GATEKEEPER, screen.devices[GATEKEEPER])
    await say(verifier, room, "!pending", GATEKEEPER, "No verification requests are waiting")
    # Not verified yet: every bot says what to do next, none stays silent. The
    # medical-information desk says it in the chat it was invited to, then leaves.
    refused = await says(clinician, await open_chat(clinician, MEDINFO), MEDINFO,
                         "Only verified clinicians")
    assert f"start a direct chat with {GATEKEEPER} and send !verify" in refused.body
    desk_chat = await chat_with(clinician, DESK, screen.devices[DESK])
    answer = await say(clinician, desk_chat, "hello", DESK, "verified clinicians")
    assert "!verify" in answer.body, answer.body
    dm = await chat_with(clinician, GATEKEEPER, screen.devices[GATEKEEPER])
    await say(clinician, dm, "hello", GATEKEEPER, "Send !verify to start")
    await say(clinician, dm, "!verify", GATEKEEPER, "What is your NPI")
    await say(clinician, dm, screen.npi, GATEKEEPER, "What is your full legal name")
    await say(clinician, dm, screen.name, GATEKEEPER, "Which state licence")
    await say(clinician, dm, screen.licence, GATEKEEPER, "the licence matches the registry")
    evidence = await says(verifier, room, GATEKEEPER, f"from {clinician.user_id}")
    number = re.search(r"Verification request #(\d+)", evidence.body)
    assert number, evidence.body
    assert "Family Medicine" in evidence.body, evidence.body
    listed = await say(verifier, room, "!pending", GATEKEEPER, "waiting")
    assert f"#{number.group(1)} from {clinician.user_id}" in listed.body
    await say(verifier, room, f"!approve {number.group(1)} DEMO: ID checked by video",
              GATEKEEPER, f"Approved #{number.group(1)}")
    verified = await says(clinician, dm, GATEKEEPER, "You are verified")
    assert "Family Medicine" in verified.body, verified.body
    await clinician.send_without_key(dm)  # counted as undecryptable, see metrics_counted


async def verified_room(screen: Screen, internist: MatrixUser,
                        cardiologist: MatrixUser) -> None:
    dm = await chat_with(internist, GATEKEEPER, screen.devices[GATEKEEPER])
    created = await say(internist, dm, "!room create Heart team (DEMO)", GATEKEEPER,
                        "Created the verified room")
    room = re.search(r"\((![^)]+)\)", created.body)
    assert room, created.body
    await join_from(internist, GATEKEEPER, room.group(1))
    invited = await say(internist, dm, f"!invite {cardiologist.user_id} {room.group(1)}",
                        GATEKEEPER, "Invited")
    assert "Cardiovascular Disease" in invited.body, invited.body
    await join_from(cardiologist, GATEKEEPER, room.group(1))
    found = await say(internist, dm, "!find cardiovascular disease CO", GATEKEEPER,
                      "colleagues")
    assert "Cardiovascular Disease" in found.body and "too many" not in found.body


def referral_form(recipient: str) -> str:
    return "\n".join([
        "patient_name: Maria Q. Testpatient", "date_of_birth: 1957-03-14", "sex: female",
        "mrn: A-123456", "patient_phone: +1 617 555 0134", "payer: BCBS MA",
        "member_id: XJH123456789", f"recipient: {recipient}",
        "reason: New atrial fibrillation", "icd10_codes: I48.91, R00.2", "urgency: urgent",
        "clinical_question: Is anticoagulation indicated?",
        "referring_org_name: Demo Family Practice", "referring_org_phone: +1 617 555 0100",
        "referring_org_fax: +1 617 555 0101", "consent: yes",
    ])


async def closed_loop_referral(screen: Screen, internist: MatrixUser,
                               cardiologist: MatrixUser) -> None:
    dm = await chat_with(internist, DESK, screen.devices[DESK])
    since = len(internist.received)
    root = await internist.send(dm, "!referral new")
    first = await says(internist, dm, DESK, "Patient's full name?", since=since)
    assert thread_of(first) == root, "the form is one thread"
    draft = await say(internist, dm, referral_form(cardiologist.user_id), DESK, "Draft RF-",
                      thread_root=root)
    referral_id = draft.body.split("Draft ", 1)[1].split(" ", 1)[0]
    assert "Cardiovascular Disease" in draft.body, draft.body
    await say(internist, dm, "!send", DESK, f"{referral_id} sent to", thread_root=root)
    packet_dm = await join_from(cardiologist, DESK)
    packet = await says(cardiologist, packet_dm, DESK, f"Referral {referral_id}.pdf")
    packet_root = packet.event.event_id
    await cardiologist.wait_joined(packet_dm, DESK, screen.devices[DESK])
    await say(cardiologist, packet_dm, f"!accept {referral_id}", DESK, "was accepted",
              thread_root=packet_root)
    await say(cardiologist, packet_dm,
              f"!note {referral_id} Start apixaban 5 mg twice daily; echo in 3 months.",
              DESK, "is completed", thread_root=packet_root)
    await says(internist, dm, DESK, "is completed — the loop is closed")
    late = await say(cardiologist, packet_dm, f"!decline {referral_id} fully booked", DESK,
                     "cannot", thread_root=packet_root)
    assert "cannot become" not in late.body and "completed" in late.body, late.body


async def fax_through_the_bridge(internist: MatrixUser, cardiologist: MatrixUser) -> None:
    dm = await chat_with(internist, PUPPET)
    content = await upload_encrypted(internist.client, make_pdf(1, "DEMO fax"), "letter.pdf",
                                     "application/pdf")
    since = len(internist.received)
    response = await internist.client.room_send(dm, "m.room.message", content,
                                                ignore_unverified_devices=True)
    assert isinstance(response, nio.RoomSendResponse), response
    queued = await says(internist, dm, PUPPET, "Queued", since=since)
    assert "1 page." in queued.body, queued.body
    delivered = await says(internist, dm, PUPPET, "Delivered to +1 617 555 0142 — 1 page.",
                           since=since)
    assert thread_of(queued) == thread_of(delivered) == response.event_id, "one fax, one thread"
    inbound = await join_from(cardiologist, PUPPET)
    await says(cardiologist, inbound, PUPPET, "1 page")


def fax_again_from_the_office(screen: Screen) -> None:
    """The same number again from the command line: held for the hourly limit (a retry)."""
    document = screen.project / "follow-up.pdf"
    document.write_bytes(make_pdf(1, "DEMO follow-up fax"))
    sent = subprocess.run([*CURBSIDE, "fax", "send", "--to", FAX, "--no-wait", str(document)],
                          cwd=screen.project, capture_output=True, text=True, timeout=120,
                          check=False)
    assert sent.returncode == 0, sent.stdout + sent.stderr


async def ask_the_sponsor(screen: Screen, internist: MatrixUser, msl: MatrixUser) -> None:
    dm = await chat_with(internist, MEDINFO, screen.devices[MEDINFO])
    question = "Can Cardiovex be taken with grapefruit juice?"
    since = len(internist.received)
    root = await internist.send(
        dm, f"!medinfo urgency=routine response=chat consent=yes share=no {question}")
    await says(internist, dm, MEDINFO, "", since=since)  # the preview to confirm
    await say(internist, dm, "send", MEDINFO, "Sent to Demo Pharma (DEMO)", thread_root=root)
    team_room = next(rid for rid, r in msl.client.rooms.items() if "MSL team" in (r.name or ""))
    request = await says(msl, team_room, MEDINFO, question)
    assert "From: a verified Internal Medicine clinician in" in request.body, request.body
    answer = "DEMO: no interaction study with grapefruit juice; no change is expected."
    await msl.send(team_room, answer, thread_root=request.event.event_id)
    relayed = await says(internist, dm, MEDINFO, "no interaction study", since=since)
    assert thread_of(relayed) == root
    forwarded = await say(internist, dm,
                          "Also, one of my patients broke out in hives after starting Cardiovex.",
                          MEDINFO, "pharmacovigilance team (PV-", thread_root=root)
    assert "Demo Pharma" in forwarded.body and thread_of(forwarded) == root, forwarded.body


async def metrics_counted(screen: Screen) -> None:
    """curl of the endpoint shows every family above the journeys' traffic.

    The undecryptable event and the held fax are counted when the bot's sync
    and the fax worker get to them, so the scrape is repeated until they are.
    The outbox depth is a gauge of messages committed and not yet sent: it is
    served for each bot, may be above 0 while the last relays (to the sponsor's
    rooms, which no one here waits for) are on their way, and must come down to
    0 — nothing stuck.
    Catching it above 0 on purpose would be a race, so that is not asserted.
    """
    def counted() -> Samples | None:
        samples = scrape(screen.metrics)
        return samples if (
            value(samples, "curbside_undecryptable_events_total", bot=GATEKEEPER) >= 1
            and value(samples, "curbside_retries_total", kind="fax_rate_limit") >= 1
        ) else None

    samples = await wait_for(counted, timeout=WAIT, what="the undecryptable and the held fax")
    accounts = (GATEKEEPER, DESK, MEDINFO, PUPPET)
    for bot in accounts:
        assert value(samples, "curbside_events_handled_total", bot=bot, outcome="ok") > 0, bot
        assert value(samples, "curbside_handler_seconds_count", bot=bot) > 0, bot
        assert {"account": bot} in labelled(samples, "curbside_outbox_depth"), bot
    assert value(samples, "curbside_fax_jobs", state="delivered") == 1
    assert sum(value(samples, "curbside_fax_jobs", state=state)
               for state in ("queued", "rendering", "sending")) == 1  # the one held back
    assert value(samples, "curbside_fax_pages_sent_total") == 1
    assert total(samples, "curbside_inbound_faxes_total") >= 1
    assert total(samples, "curbside_medinfo_open_requests") >= 1
    assert total(samples, "curbside_pv_unacknowledged") >= 1
    print(f"curl {screen.metrics}", *sorted(
        f"{name}{{{','.join(f'{k}={v}' for k, v in sorted(labels))}}} {number:g}"
        for (name, labels), number in samples.items()
        if name.startswith("curbside_") and not name.endswith(("_bucket", "_created"))
        and (number or name == "curbside_outbox_depth")),
        sep="\n  ")

    def drained() -> bool:
        depth = scrape(screen.metrics)
        return all(value(depth, "curbside_outbox_depth", account=bot) == 0 for bot in accounts)

    await wait_for(drained, timeout=WAIT, what="every bot's outbox to drain")


def check_what_everyone_read(users: list[MatrixUser], bots: set[str]) -> None:
    for user in users:
        from_bots = [r for r in user.received if r.event.sender in bots
                     or r.event.sender.startswith("@fax_")]
        for message in from_bots:
            assert not TAXONOMY_CODE.search(message.body), (user.user_id, message.body)
        for room_id, room in user.client.rooms.items():
            if room.member_count != 2:
                continue
            threads = {thread_of(r) for r in from_bots if r.room_id == room_id} - {None}
            assert len(threads) <= 1, (user.user_id, room_id, threads)


async def journey(screen: Screen) -> float:
    started = time.monotonic()
    logins = {name: await MatrixUser.login(screen.url, uid(name), password)
              for name, password in screen.logins.items()}
    try:
        async with asyncio.timeout(DEADLINE):
            clinician, verifier = logins["demo-clinician"], logins["demo-verifier"]
            internist, cardiologist = logins["demo-internist"], logins["demo-cardiologist"]
            await verify_the_newcomer(screen, clinician, verifier)
            await verified_room(screen, internist, cardiologist)
            await closed_loop_referral(screen, internist, cardiologist)
            await fax_through_the_bridge(internist, cardiologist)
            await asyncio.to_thread(fax_again_from_the_office, screen)
            await ask_the_sponsor(screen, internist, logins["demo-msl"])
            await metrics_counted(screen)
        check_what_everyone_read(list(logins.values()), {GATEKEEPER, DESK, MEDINFO})
    finally:
        for user in logins.values():
            await user.close()
    return time.monotonic() - started


def test_a_newcomer_completes_every_journey_from_the_printed_demo(running: Screen) -> None:
    assert set(running.logins) == {"demo-clinician", "demo-internist", "demo-cardiologist",
                                   "demo-verifier", "demo-msl", "demo-pv"}
    took = asyncio.run(journey(running))
    print(f"every journey done {took:.0f} s after the demo logins were printed")
