"""Scenarios: clinicians prove who they are to the gatekeeper, verifiers attest.

One gatekeeper (real Synapse, real E2EE) serves every test of this module.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bots.gatekeeper.models import VerificationRequest
from curbside.audit import AuditEntry
from curbside.credentials import VerifiedCredential
from curbside.database import session_scope
from tests.gatekeeper.registry_data import (
    BAD_CHECK_DIGIT,
    BOB,
    DANA,
    DEACTIVATED,
    ORGANISATION,
    TECH,
)
from tests.gatekeeper.scenario import World, start_world
from tests.support.matrix_testkit import wait_for

pytestmark = pytest.mark.homeserver


@pytest.fixture(scope="module")
async def world(homeserver, tmp_path_factory):
    world = await start_world(homeserver, tmp_path_factory.mktemp("gatekeeper"),
                              uuid.uuid4().hex[:6])
    yield world
    await world.close()


async def _request_posted(world: World, user_id: str) -> tuple[int, str]:
    """The attestation request the verifiers see for ``user_id``: (id, text)."""
    posted = await wait_for(
        lambda: [b for b in world.notices(world.verifier, world.verifiers_room)
                 if b.startswith("Verification request") and user_id in b],
        what="the request in the verifiers' room",
    )
    found = re.search(r"#(\d+)", posted[-1])
    assert found is not None
    return int(found.group(1)), posted[-1]


def _actions(world: World, record_ids: set[str]) -> list[str]:
    with session_scope(world.engine) as session:
        return list(session.scalars(select(AuditEntry.action).where(
            AuditEntry.record_id.in_(record_ids)).order_by(AuditEntry.seq)))


async def test_a_clinician_is_verified_once_a_verifier_attests(world: World) -> None:
    dana = await world.user(f"dana{uuid.uuid4().hex[:6]}")
    dm = await world.dm(dana)

    assert "What is your NPI" in await world.ask(dana, dm, "!verify")
    assert "is an active clinician" in await world.ask(dana, dm, DANA)
    assert "the name matches" in await world.ask(dana, dm, "Dr. Dána J. Whitfield")
    done = await world.ask(dana, dm, "MA MD-123456")
    assert "the licence matches" in done and "credentialing team" in done

    request_id, evidence = await _request_posted(world, dana.user_id)
    assert DANA in evidence and "MA MD123456 — Cardiovascular Disease" in evidence
    assert "207RC0000X" not in evidence, "the specialty, not its code"
    checked = "government ID and licence checked by video, IAL2"
    approved = await world.ask(world.verifier, world.verifiers_room,
                               f"!approve {request_id} {checked}")
    assert approved.startswith(
        f"Approved #{request_id}: Dana Whitfield, MD ({dana.user_id}) is verified until")

    welcome = await wait_for(lambda: [b for b in world.notices(dana, dm)
                                      if b.startswith("You are verified")], what="the welcome")
    assert "Dana Whitfield, MD · Cardiovascular Disease" in welcome[0]
    assert "!room create" in welcome[0] and "!find" in welcome[0]
    with session_scope(world.engine) as session:
        row = session.get(VerifiedCredential, dana.user_id)
        assert row is not None
        assert (row.npi, row.licence_state, row.licence_number) == (DANA, "MA", "MD123456")
        assert (row.verified_by, row.evidence) == (world.verifier.user_id, checked)
        expires = row.expires_at.replace(tzinfo=UTC)
        assert abs(expires - datetime.now(UTC) - timedelta(days=365)) < timedelta(minutes=5)
    assert _actions(world, {str(request_id), dana.user_id}) == [
        "verification.start", "verification.submit", "credential.approve"]
    assert world.audit.verify(world.engine) == []


async def test_each_wrong_answer_gets_a_reason_and_a_deny_is_explained(world: World) -> None:
    ivan = await world.user(f"ivan{uuid.uuid4().hex[:6]}")
    dm = await world.dm(ivan)
    await world.ask(ivan, dm, "!verify")

    for answer, why in [
        (BAD_CHECK_DIGIT, "check digit"),
        (ORGANISATION, "belongs to an organisation (BOSTON HEART CLINIC)"),
        (DEACTIVATED, "was deactivated in NPPES on 2023-03-04"),
        (TECH, "has no clinical taxonomy"),
    ]:
        reply = await world.ask(ivan, dm, answer)
        assert why in reply and reply.endswith("Send it again, or !cancel to stop.")
    assert "active clinician" in await world.ask(ivan, dm, BOB)
    mismatch = await world.ask(ivan, dm, "Robert Smith")
    assert "the last name does not match the registry" in mismatch
    await world.ask(ivan, dm, "Robert Chen")
    wrong = await world.ask(ivan, dm, "MA MD000000")
    assert "No MA licence with that number is listed" in wrong
    assert "licence matches" in await world.ask(ivan, dm, "MA MD222222")

    request_id, _ = await _request_posted(world, ivan.user_id)
    reason = "the photo ID did not match the person on the video call"
    denied = await world.ask(world.verifier, world.verifiers_room, f"!deny {request_id} {reason}")
    assert denied == f"Denied #{request_id}; Robert Chen ({ivan.user_id}) has been told why."
    told = await wait_for(lambda: [b for b in world.notices(ivan, dm) if "not approved" in b],
                          what="the denial")
    assert reason in told[0] and "!verify" in told[0]
    with session_scope(world.engine) as session:
        request = session.get(VerificationRequest, request_id)
        assert request is not None
        assert (request.state, request.decision_note) == ("denied", reason)
        assert session.get(VerifiedCredential, ivan.user_id) is None
    assert _actions(world, {str(request_id)})[-1] == "verification.deny"


async def test_verify_outside_a_dm_and_verifier_commands_elsewhere_are_refused(
    world: World,
) -> None:
    mallory = await world.user(f"mallory{uuid.uuid4().hex[:6]}")
    dm = await world.dm(mallory)
    assert "only in the credentialing team's room" in await world.ask(mallory, dm, "!approve 1 ok")
    assert "nothing to revoke" in await world.ask(
        world.verifier, world.verifiers_room, f"!revoke {mallory.user_id} test")
    assert "in a direct message with me" in await world.ask(
        world.verifier, world.verifiers_room, "!verify")


async def test_a_conversation_resumes_after_the_bot_restarts(world: World) -> None:
    rhea = await world.user(f"rhea{uuid.uuid4().hex[:6]}")
    dm = await world.dm(rhea)
    await world.ask(rhea, dm, "!verify")
    assert "full legal name" in await world.ask(rhea, dm, DANA)

    await world.restart()

    assert "the name matches" in await world.ask(rhea, dm, "Dana Whitfield")
    assert "Let's continue request" in await world.ask(rhea, dm, "!verify")
    assert "is cancelled" in await world.ask(rhea, dm, "!cancel")
    with session_scope(world.engine) as session:
        states = session.scalars(select(VerificationRequest.state).where(
            VerificationRequest.user_id == rhea.user_id)).all()
    assert states == ["cancelled"]
