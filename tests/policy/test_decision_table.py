"""The policy as a table: requirement → proposed change + facts → expected verdict.

No homeserver here: these rows pin down every rule of bots.gatekeeper.policy,
including edge cases a client cannot easily produce. The end-to-end suite
(test_verified_rooms.py) shows Synapse applies the same verdicts.
"""

from __future__ import annotations

from typing import Any

import pytest

from bots.gatekeeper.policy import (
    Facts,
    PolicyConfig,
    ProposedEvent,
    Refusal,
    Rule,
    judge_event,
    judge_publication,
    judge_room_creation,
    verified_membership,
)
from curbside.matrix.rooms import MEGOLM

GK = "@gatekeeper:curbside.test"
DANA = "@dana:curbside.test"  # verified clinician
MAL = "@mallory:curbside.test"  # not verified
REMOTE = "@carol:elsewhere.example"
CONFIG = PolicyConfig(gatekeeper=GK, allowed_servers=frozenset({"curbside.test"}))

VERIFIED = Facts(room_verified=True)
PLAIN = Facts(room_verified=False)
CONSENTED = Facts(True, member_verified=True, invite_consented=True)
ENCRYPTED_ROOM = Facts(room_verified=False, room_encrypted=True)
NAME = "Dana Whitfield, MD · Cardiology"
# Full-width comma and letters, a bullet for the middle dot: the same name to a reader.
LOOK_ALIKE = "Dana Whitfield\uff0c\uff2d\uff24 \u2022 Cardiology"

# Power levels the gatekeeper gives a verified room (v12: the creator is not listed).
TIGHT_PL: dict[str, Any] = {
    "users_default": 0, "events_default": 0, "state_default": 100,
    "invite": 100, "kick": 100, "ban": 100, "redact": 50,
    "events": {"m.room.power_levels": 100, "m.room.join_rules": 100},
}


def member(sender: str, target: str, membership: str) -> ProposedEvent:
    return ProposedEvent(sender, "m.room.member", target, {"membership": membership})


def state(sender: str, event_type: str, content: dict[str, Any], key: str = "") -> ProposedEvent:
    return ProposedEvent(sender, event_type, key, content)


def named(sender: str, target: str, membership: str, **content: Any) -> ProposedEvent:
    return ProposedEvent(sender, "m.room.member", target, {"membership": membership, **content})


def pl(**changes: Any) -> dict[str, Any]:
    return {**TIGHT_PL, **changes}


EVENT_CASES = [
    # --- membership of verified rooms
    ("VR-01 unverified user cannot be invited", member(GK, MAL, "invite"), VERIFIED,
     Rule.UNVERIFIED_INVITEE),
    ("VR-01 gatekeeper invites a verified clinician the room agreed to",
     member(GK, DANA, "invite"), CONSENTED, None),
    ("VR-13 nor a verified clinician nobody agreed to", member(GK, DANA, "invite"),
     Facts(True, member_verified=True), Rule.INVITE_NOT_CONSENTED),
    ("VR-02 unverified user cannot join", member(MAL, MAL, "join"), VERIFIED,
     Rule.UNVERIFIED_JOINER),
    ("VR-02 verified clinician joins", member(DANA, DANA, "join"),
     Facts(True, member_verified=True), None),
    ("VR-02 the gatekeeper (no credential) may join", member(GK, GK, "join"), VERIFIED, None),
    ("VR-03 a verified member cannot invite", member(DANA, "@eli:curbside.test", "invite"),
     Facts(True, member_verified=True), Rule.INVITER_NOT_GATEKEEPER),
    ("VR-03 nobody may re-invite the gatekeeper", member(DANA, GK, "invite"), VERIFIED,
     Rule.INVITER_NOT_GATEKEEPER),
    ("VR-04 clinician of another server cannot be invited", member(GK, REMOTE, "invite"),
     Facts(True, member_verified=True), Rule.FOREIGN_SERVER),
    ("VR-04 clinician of another server cannot join", member(REMOTE, REMOTE, "join"),
     Facts(True, member_verified=True), Rule.FOREIGN_SERVER),
    ("VR-05 nobody can knock", member(DANA, DANA, "knock"), Facts(True, member_verified=True),
     Rule.NO_SIDE_DOOR),
    ("VR-05 no third-party invites", state(GK, "m.room.third_party_invite", {}, "tok"),
     VERIFIED, Rule.NO_SIDE_DOOR),
    ("-- kicking and leaving are always allowed", member(GK, MAL, "leave"), VERIFIED, None),
    ("-- banning is always allowed", member(GK, MAL, "ban"), VERIFIED, None),
    ("IB-01 a blocked gatekeeper invite is refused too", member(GK, DANA, "invite"),
     Facts(True, member_verified=True, member_blocks_sender=True, invite_consented=True),
     Rule.INVITER_BLOCKED),
    # --- room settings of verified rooms
    ("VR-06 join rule cannot become public", state(GK, "m.room.join_rules",
     {"join_rule": "public"}), VERIFIED, Rule.JOIN_RULE_FIXED),
    ("VR-06 join rule cannot become knock", state(GK, "m.room.join_rules",
     {"join_rule": "knock"}), VERIFIED, Rule.JOIN_RULE_FIXED),
    ("VR-06 join rule cannot become restricted", state(GK, "m.room.join_rules",
     {"join_rule": "restricted", "allow": []}), VERIFIED, Rule.JOIN_RULE_FIXED),
    ("VR-06 invite stays invite", state(GK, "m.room.join_rules", {"join_rule": "invite"}),
     VERIFIED, None),
    ("VR-07 history cannot become shared", state(GK, "m.room.history_visibility",
     {"history_visibility": "shared"}), VERIFIED, Rule.HISTORY_TIGHT),
    ("VR-07 history cannot become world_readable", state(GK, "m.room.history_visibility",
     {"history_visibility": "world_readable"}), VERIFIED, Rule.HISTORY_TIGHT),
    ("VR-07 history may become invited", state(GK, "m.room.history_visibility",
     {"history_visibility": "invited"}), VERIFIED, None),
    ("VR-08 guests cannot be let in", state(GK, "m.room.guest_access",
     {"guest_access": "can_join"}), VERIFIED, Rule.NO_GUESTS),
    ("VR-10 a member with power cannot change power levels", state(DANA, "m.room.power_levels",
     TIGHT_PL), VERIFIED, Rule.POWER_LEVELS_SENDER),
    ("VR-11 gatekeeper cannot lower invite", state(GK, "m.room.power_levels", pl(invite=0)),
     VERIFIED, Rule.POWER_LEVELS_SHAPE),
    ("VR-11 gatekeeper cannot give a member kick power", state(GK, "m.room.power_levels",
     pl(users={DANA: 100})), VERIFIED, Rule.POWER_LEVELS_SHAPE),
    ("VR-11 gatekeeper cannot raise users_default", state(GK, "m.room.power_levels",
     pl(users_default=100)), VERIFIED, Rule.POWER_LEVELS_SHAPE),
    ("VR-11 protected state falls back to state_default", state(GK, "m.room.power_levels",
     pl(state_default=0, events={"m.room.power_levels": 100})), VERIFIED,
     Rule.POWER_LEVELS_SHAPE),
    ("VR-11 ban defaults to 50 when absent", state(GK, "m.room.power_levels",
     {k: v for k, v in pl(users={DANA: 50}).items() if k != "ban"}), VERIFIED,
     Rule.POWER_LEVELS_SHAPE),
    ("VR-11 gatekeeper may give a member moderate power", state(GK, "m.room.power_levels",
     pl(users={DANA: 50, GK: 100})), VERIFIED, None),
    ("VR-12 server ACL cannot admit every server", state(GK, "m.room.server_acl",
     {"allow": ["*"], "deny": []}), VERIFIED, Rule.SERVER_ACL_SCOPE),
    ("VR-12 server ACL may admit the home server", state(GK, "m.room.server_acl",
     {"allow": ["curbside.test"], "deny": []}), VERIFIED, None),
    # --- encryption, any room
    ("E2E-02 encryption cannot be removed", state(DANA, "m.room.encryption", {}), PLAIN,
     Rule.ENCRYPTION_WEAKENED),
    ("E2E-02 algorithm cannot change", state(DANA, "m.room.encryption",
     {"algorithm": "org.example.plaintext"}), PLAIN, Rule.ENCRYPTION_WEAKENED),
    ("E2E-02 Megolm may be turned on or re-tuned", state(DANA, "m.room.encryption",
     {"algorithm": MEGOLM, "rotation_period_ms": 604800000}), PLAIN, None),
    # --- invites outside verified rooms (DMs and ordinary rooms)
    ("IB-01 blocked inviter is refused", member(MAL, DANA, "invite"),
     Facts(False, member_blocks_sender=True), Rule.INVITER_BLOCKED),
    ("IB-01 unverified inviter may open a DM", member(MAL, DANA, "invite"), PLAIN, None),
    ("IB-01 unverified user may be invited to a plain room", member(DANA, MAL, "invite"),
     PLAIN, None),
    # --- what the policy leaves alone
    ("-- plain rooms may go public", state(DANA, "m.room.join_rules", {"join_rule": "public"}),
     PLAIN, None),
    ("-- plain rooms may change power levels", state(DANA, "m.room.power_levels",
     pl(invite=0)), PLAIN, None),
    ("-- messages are never judged", ProposedEvent(MAL, "m.room.message", None, {"body": "hi"}),
     VERIFIED, None),
    ("-- room name is not a policy matter", state(GK, "m.room.name", {"name": "x"}),
     VERIFIED, None),
    # --- upgrades of verified rooms
    ("VR-14 a tombstone by a member is refused", state(DANA, "m.room.tombstone",
     {"replacement_room": "!new:curbside.test"}), VERIFIED, Rule.UPGRADE_GOVERNED),
    ("VR-14 the gatekeeper's tombstone needs an announced upgrade", state(
        GK, "m.room.tombstone", {"replacement_room": "!new:x"}), VERIFIED,
     Rule.UPGRADE_GOVERNED),
    ("VR-14 the gatekeeper's announced upgrade goes ahead", state(
        GK, "m.room.tombstone", {"replacement_room": "!new:x"}),
     Facts(True, upgrade_announced=True), None),
    ("VR-14 a room claiming a verified predecessor is governed", state(
        DANA, "m.room.create", {"predecessor": {"room_id": "!old:x"}}),
     Facts(True, upgrade_announced=True), Rule.UPGRADE_GOVERNED),
    ("VR-14 the gatekeeper's successor room may be created", state(
        GK, "m.room.create", {"predecessor": {"room_id": "!old:x"}}),
     Facts(True, upgrade_announced=True), None),
    ("-- plain rooms may be upgraded", state(DANA, "m.room.tombstone", {}), PLAIN, None),
    # --- redaction in verified rooms
    ("VR-15 membership and settings cannot be redacted", ProposedEvent(
        DANA, "m.room.redaction", None, {}, redacts="$join"),
     Facts(True, redacts_protected=True), Rule.PROTECTED_REDACTION),
    ("VR-15 a message may be redacted", ProposedEvent(
        DANA, "m.room.redaction", None, {}, redacts="$msg"), VERIFIED, None),
    # --- nothing in the clear where encryption is on
    ("E2E-03 a plaintext message in an encrypted room", ProposedEvent(
        MAL, "m.room.message", None, {"msgtype": "m.text", "body": "Jane Doe"}),
     ENCRYPTED_ROOM, Rule.PLAINTEXT_IN_ENCRYPTED_ROOM),
    ("E2E-03 a custom event type in the clear", ProposedEvent(
        MAL, "org.example.note", None, {"text": "x"}), ENCRYPTED_ROOM,
     Rule.PLAINTEXT_IN_ENCRYPTED_ROOM),
    ("E2E-03 an encrypted message passes", ProposedEvent(
        MAL, "m.room.encrypted", None, {"algorithm": MEGOLM}), ENCRYPTED_ROOM, None),
    ("E2E-03 Element's clear reaction passes", ProposedEvent(
        MAL, "m.reaction", None, {"m.relates_to": {
            "rel_type": "m.annotation", "event_id": "$x", "key": "\U0001f44d"}}),
     ENCRYPTED_ROOM, None),
    ("E2E-03 a reaction carrying a body is a message", ProposedEvent(
        MAL, "m.reaction", None, {"body": "Jane Doe", "m.relates_to": {
            "rel_type": "m.annotation", "event_id": "$x", "key": "ok"}}),
     ENCRYPTED_ROOM, Rule.PLAINTEXT_IN_ENCRYPTED_ROOM),
    ("E2E-03 a reaction key cannot be a paragraph", ProposedEvent(
        MAL, "m.reaction", None, {"m.relates_to": {
            "rel_type": "m.annotation", "event_id": "$x", "key": "x" * 33}}),
     ENCRYPTED_ROOM, Rule.PLAINTEXT_IN_ENCRYPTED_ROOM),
    ("E2E-03 a redaction passes", ProposedEvent(
        MAL, "m.room.redaction", None, {"reason": "typo"}, redacts="$x"),
     ENCRYPTED_ROOM, None),
    ("E2E-03 a redaction cannot smuggle a body", ProposedEvent(
        MAL, "m.room.redaction", None, {"body": "Jane Doe"}, redacts="$x"),
     ENCRYPTED_ROOM, Rule.PLAINTEXT_IN_ENCRYPTED_ROOM),
    ("-- plaintext in an unencrypted room is not judged", ProposedEvent(
        MAL, "m.room.message", None, {"body": "hi"}), PLAIN, None),
    ("E2E-04 an unencrypted room cannot become invite-only", state(
        DANA, "m.room.join_rules", {"join_rule": "invite"}), PLAIN,
     Rule.PRIVATE_WITHOUT_ENCRYPTION),
    ("E2E-04 nor knock", state(DANA, "m.room.join_rules", {"join_rule": "knock"}), PLAIN,
     Rule.PRIVATE_WITHOUT_ENCRYPTION),
    ("E2E-04 nor restricted", state(DANA, "m.room.join_rules", {"join_rule": "restricted"}),
     PLAIN, Rule.PRIVATE_WITHOUT_ENCRYPTION),
    ("E2E-04 an encrypted room may", state(DANA, "m.room.join_rules",
     {"join_rule": "invite"}), ENCRYPTED_ROOM, None),
    ("E2E-04 the first join rule (room creation) is E2E-01's", state(
        DANA, "m.room.join_rules", {"join_rule": "invite"}),
     Facts(False, has_join_rule=False), None),
    # --- the verified-name form is for its owner
    ("VN-01 an unverified user cannot take a verified name", named(
        MAL, MAL, "join", displayname=NAME), PLAIN, Rule.VERIFIED_NAME_TAKEN),
    ("VN-01 nor a look-alike of one", named(
        MAL, MAL, "join", displayname=LOOK_ALIKE), PLAIN,
     Rule.VERIFIED_NAME_TAKEN),
    ("VN-01 nor another clinician's", named(
        DANA, DANA, "join", displayname="Robert Chen, MD · Cardiology"),
     Facts(False, member_verified_name=NAME), Rule.VERIFIED_NAME_TAKEN),
    ("VN-01 a clinician may show their own", named(DANA, DANA, "join", displayname=NAME),
     Facts(False, member_verified_name=NAME), None),
    ("VN-01 'Doe, Jane' is an ordinary name", named(MAL, MAL, "join", displayname="Doe, Jane"),
     PLAIN, None),
]


@pytest.mark.parametrize(
    ("event", "facts", "expected"),
    [pytest.param(e, f, x, id=i) for i, e, f, x in EVENT_CASES],
)
def test_event_verdict(event: ProposedEvent, facts: Facts, expected: Rule | None) -> None:
    verdict = judge_event(CONFIG, event, facts)
    assert (verdict.rule if verdict else None) == expected


ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
ALL = frozenset({"public_chat", "private_chat", "trusted_private_chat"})
OFF: frozenset[str] = frozenset()


def join_rule(rule: str) -> dict[str, Any]:
    return {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": rule}}


CREATION_CASES = [
    ("E2E-01 private_chat without encryption", {"preset": "private_chat"}, OFF,
     Rule.PRIVATE_ROOM_UNENCRYPTED),
    ("E2E-01 trusted_private_chat without encryption", {"preset": "trusted_private_chat"}, OFF,
     Rule.PRIVATE_ROOM_UNENCRYPTED),
    ("E2E-01 no preset, private visibility", {}, OFF, Rule.PRIVATE_ROOM_UNENCRYPTED),
    ("E2E-01 public preset made invite-only by initial_state",
     {"preset": "public_chat", "initial_state": [join_rule("invite")]}, OFF,
     Rule.PRIVATE_ROOM_UNENCRYPTED),
    ("E2E-01 join_rules without a rule is not public",
     {"preset": "public_chat", "initial_state": [
         {"type": "m.room.join_rules", "state_key": "", "content": {}}]}, OFF,
     Rule.PRIVATE_ROOM_UNENCRYPTED),
    ("E2E-01 private room with Megolm", {"preset": "private_chat", "initial_state": [ENCRYPTION]},
     OFF, None),
    ("E2E-01 server default encrypts private_chat", {"preset": "private_chat"}, ALL, None),
    ("E2E-01 default 'invite' does not cover a public preset made private",
     {"preset": "public_chat", "initial_state": [join_rule("invite")]},
     frozenset({"private_chat", "trusted_private_chat"}), Rule.PRIVATE_ROOM_UNENCRYPTED),
    ("E2E-01 public room needs no encryption", {"preset": "public_chat"}, OFF, None),
    ("E2E-01 no preset, public visibility", {"visibility": "public"}, OFF, None),
    ("E2E-02 malformed encryption in initial_state", {"preset": "private_chat",
     "initial_state": [{"type": "m.room.encryption", "state_key": "", "content": {}}]}, ALL,
     Rule.ENCRYPTION_WEAKENED),
    ("E2E-02 other algorithm in a public room", {"preset": "public_chat", "initial_state": [
        {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "x"}}]}, OFF,
     Rule.ENCRYPTION_WEAKENED),
    ("E2E-02 the last initial_state entry wins", {"preset": "private_chat", "initial_state": [
        ENCRYPTION, {"type": "m.room.encryption", "state_key": "", "content": {}}]}, OFF,
     Rule.ENCRYPTION_WEAKENED),
]


@pytest.mark.parametrize(
    ("body", "presets", "expected"),
    [pytest.param(b, p, x, id=i) for i, b, p, x in CREATION_CASES],
)
def test_creation_verdict(
    body: dict[str, Any], presets: frozenset[str], expected: Rule | None
) -> None:
    verdict = judge_room_creation(body, presets)
    assert (verdict.rule if verdict else None) == expected


def test_creation_refused_when_initial_state_names_a_member_in_the_verified_form() -> None:
    body = {"preset": "public_chat", "initial_state": [{
        "type": "m.room.member", "state_key": MAL,
        "content": {"membership": "join", "displayname": NAME}}]}
    verdict = judge_room_creation(body, OFF)
    assert verdict is not None and verdict.rule is Rule.VERIFIED_NAME_TAKEN


def test_creation_refused_when_it_claims_a_verified_predecessor() -> None:
    body = {"preset": "private_chat", "initial_state": [ENCRYPTION],
            "creation_content": {"predecessor": {"room_id": "!verified:curbside.test"}}}
    verdict = judge_room_creation(body, OFF, predecessor_verified=True)
    assert verdict is not None and verdict.rule is Rule.UPGRADE_GOVERNED


def test_creation_refused_when_an_invitee_blocks_the_creator() -> None:
    body = {"preset": "private_chat", "initial_state": [ENCRYPTION], "invite": [DANA]}
    verdict = judge_room_creation(body, OFF, invitees_blocking_creator=[DANA])
    assert verdict is not None and verdict.rule is Rule.INVITER_BLOCKED


@pytest.mark.parametrize(("verified", "expected"), [
    pytest.param(True, Rule.NOT_IN_DIRECTORY, id="VR-09 verified room cannot be published"),
    pytest.param(False, None, id="VR-09 plain room may be published"),
])
def test_publication_verdict(verified: bool, expected: Rule | None) -> None:
    verdict = judge_publication(verified)
    assert (verdict.rule if verdict else None) == expected


def test_every_rule_has_a_reason_and_a_unique_id() -> None:
    ids = [rule.value for rule in Rule]
    assert len(ids) == len(set(ids))
    for rule in Rule:
        assert Refusal(rule).reason.endswith(".")


# --- names: requirement → proposed membership + facts → content the event must carry instead
NAMED = Facts(True, member_verified=True, member_verified_name=NAME)


NAME_CASES = [
    ("a join under the profile name shows the verified name",
     named(DANA, DANA, "join", displayname="dana"), NAMED,
     {"membership": "join", "displayname": NAME}),
    ("a join without any name gets the verified name",
     named(DANA, DANA, "join"), NAMED, {"membership": "join", "displayname": NAME}),
    ("a per-room name is replaced, the avatar kept",
     named(DANA, DANA, "join", displayname="Dr D", avatar_url="mxc://x/y"), NAMED,
     {"membership": "join", "displayname": NAME, "avatar_url": "mxc://x/y"}),
    ("the gatekeeper's invite shows the verified name",
     named(GK, DANA, "invite", displayname="dana"), NAMED,
     {"membership": "invite", "displayname": NAME}),
    ("a join already showing the verified name is kept as it is",
     named(DANA, DANA, "join", displayname=NAME), NAMED, None),
    ("names outside verified rooms are the member's own",
     named(DANA, DANA, "join", displayname="Dr D"),
     Facts(False, member_verified_name=NAME), None),
    ("the gatekeeper's own join keeps its name",
     named(GK, GK, "join", displayname="gatekeeper"),
     Facts(True, member_verified=True, member_verified_name=NAME), None),
    ("a leave is not renamed",
     named(DANA, DANA, "leave", displayname="dana"), NAMED, None),
    ("a ban is not renamed",
     named(GK, DANA, "ban", displayname="dana"), NAMED, None),
    ("no verified name, nothing to show",
     named(MAL, MAL, "join", displayname="mallory"), VERIFIED, None),
]


@pytest.mark.parametrize(
    ("event", "facts", "expected"),
    [pytest.param(e, f, x, id=i) for i, e, f, x in NAME_CASES],
)
def test_verified_membership_content(
    event: ProposedEvent, facts: Facts, expected: dict[str, Any] | None
) -> None:
    assert verified_membership(CONFIG, event, facts) == expected
