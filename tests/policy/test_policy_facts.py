"""The facts the module reads from the database, and how long it may remember them.

Runs on SQLite and PostgreSQL (``db_url``). The clock is a test double, so the
time-to-live is checked exactly rather than by sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from bots.gatekeeper.policy import ProposedEvent
from bots.gatekeeper.policy_facts import PolicyFacts, RoomState
from curbside.database import KERNEL_VERSIONS, make_engine, migrate
from tests.policy.records import (
    announce_upgrade,
    block_invites,
    consent_to_invite,
    grant_credential,
    mark_room_verified,
    revoke_credential,
)

DANA = "@dana:curbside.test"
MAL = "@mallory:curbside.test"
ROOM = "!verified:curbside.test"
TTL = 2.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate(engine, [KERNEL_VERSIONS])
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def facts(engine: Engine, clock: Clock) -> PolicyFacts:
    return PolicyFacts(engine, ttl=TTL, clock=clock)


def test_revocation_takes_effect_when_the_remembered_answer_expires(engine, facts, clock):
    grant_credential(engine, DANA)
    assert facts.user_is_verified(DANA)

    revoke_credential(engine, DANA)
    clock.now += TTL - 0.01
    assert facts.user_is_verified(DANA), "a grant may be remembered for up to the TTL"
    clock.now += 0.02
    assert not facts.user_is_verified(DANA)


def test_a_new_credential_counts_at_once(engine, facts):
    assert not facts.user_is_verified(DANA)
    grant_credential(engine, DANA)
    assert facts.user_is_verified(DANA), "a 'no' must never be remembered"


def test_a_room_counts_as_verified_as_soon_as_its_row_exists(engine, facts):
    assert not facts.room_is_verified(ROOM)
    mark_room_verified(engine, ROOM, "@gatekeeper:curbside.test")
    assert facts.room_is_verified(ROOM)


def test_an_expired_credential_is_not_verified(engine, facts):
    grant_credential(engine, DANA, valid_for=timedelta(seconds=-1))
    assert not facts.user_is_verified(DANA)


def test_zero_ttl_reads_the_database_every_time(engine, clock):
    facts = PolicyFacts(engine, ttl=0, clock=clock)
    grant_credential(engine, DANA)
    assert facts.user_is_verified(DANA)
    revoke_credential(engine, DANA)
    assert not facts.user_is_verified(DANA)


def test_blocks_by_user_and_by_server(engine, facts):
    block_invites(engine, DANA, MAL)
    block_invites(engine, DANA, "@*:spam.example")
    assert facts.blocks(DANA, MAL)
    assert facts.blocks(DANA, "@anyone:spam.example")
    assert not facts.blocks(DANA, "@eli:curbside.test")
    assert facts.blocking_invitees([DANA, "@eli:curbside.test"], MAL) == [DANA]


def test_facts_for_an_invite_into_a_verified_room(engine, facts):
    mark_room_verified(engine, ROOM, "@gatekeeper:curbside.test")
    grant_credential(engine, DANA)
    block_invites(engine, DANA, "@gatekeeper:curbside.test")
    invite = ProposedEvent("@gatekeeper:curbside.test", "m.room.member", DANA,
                           {"membership": "invite"})

    got = facts.facts_for(ROOM, invite)

    assert got.room_verified and got.member_verified and got.member_blocks_sender
    assert not got.invite_consented
    consent_to_invite(engine, ROOM, DANA)
    assert facts.facts_for(ROOM, invite).invite_consented


def test_facts_for_a_join_of_an_unverified_user(engine, facts):
    mark_room_verified(engine, ROOM, "@gatekeeper:curbside.test")
    join = ProposedEvent(MAL, "m.room.member", MAL, {"membership": "join"})

    got = facts.facts_for(ROOM, join)

    assert got.room_verified and not got.member_verified and not got.member_blocks_sender


def test_facts_for_a_join_carry_the_verified_name(engine, facts):
    mark_room_verified(engine, ROOM, "@gatekeeper:curbside.test")
    grant_credential(engine, DANA)
    join = ProposedEvent(DANA, "m.room.member", DANA, {"membership": "join"})

    got = facts.facts_for(ROOM, join)

    assert got.member_verified and got.member_verified_name == "Dana Whitfield, MD · Cardiology"


def test_no_verified_name_is_looked_up_outside_verified_rooms(engine, facts):
    grant_credential(engine, DANA)
    join = ProposedEvent(DANA, "m.room.member", DANA, {"membership": "join"})

    got = facts.facts_for(ROOM, join)

    assert not got.room_verified and got.member_verified_name is None


def test_a_revoked_credential_stops_naming_within_the_ttl(engine, facts, clock):
    grant_credential(engine, DANA)
    assert facts.verified_name(DANA) == "Dana Whitfield, MD · Cardiology"

    revoke_credential(engine, DANA)
    clock.now += TTL + 0.01
    assert facts.verified_name(DANA) is None


def test_a_successor_of_a_verified_room_is_verified_from_its_first_event(engine, facts):
    mark_room_verified(engine, ROOM, "@gatekeeper:curbside.test")
    create = ProposedEvent("@gatekeeper:curbside.test", "m.room.create", "",
                           {"predecessor": {"room_id": ROOM}})
    join = ProposedEvent(MAL, "m.room.member", MAL, {"membership": "join"})

    assert facts.facts_for("!new:curbside.test", create).room_verified
    assert not facts.facts_for("!new:curbside.test", create).upgrade_announced
    assert facts.facts_for("!new:curbside.test", join, RoomState(predecessor=ROOM)).room_verified

    announce_upgrade(engine, ROOM)
    assert facts.facts_for("!new:curbside.test", create).upgrade_announced


def test_a_verified_name_is_looked_up_anywhere_it_is_claimed(engine, facts):
    grant_credential(engine, DANA)
    join = ProposedEvent(DANA, "m.room.member", DANA, {
        "membership": "join", "displayname": "Dana Whitfield, MD · Cardiology"})

    got = facts.facts_for(ROOM, join)

    assert not got.room_verified and got.member_verified_name == "Dana Whitfield, MD · Cardiology"
