"""The verified-room policy as a decision table: proposed change + facts → verdict.

    Synapse ──(event / createRoom body / directory request)──> synapse_module (adapter)
        adapter ──(who is verified? is the room verified? blocked?)──> policy_facts (DB)
        adapter ──(event, facts)──> this module ──> None (allowed) | Refusal(rule, reason)

Nothing here does I/O or knows Synapse, so every rule is tested as a table
row: requirement → input → expected verdict. Each refusal names the rule it
enforces (``VR-…`` verified rooms, ``E2E-…`` encryption, ``IB-…`` invite
blocks); the homeserver returns that id to the client next to the reason, so
an operator can find the row in docs/synapse-module.md.

Besides verdicts, :func:`verified_membership` says how to *amend* an allowed
event: in a verified room a member's name is their verified name and
credential, whatever their client put in the membership event (the adapter
hands Synapse the amended content before the event exists).

Facts are the answers only the database has. The adapter fetches every fact an
event needs; a fact left at its default fails closed (``member_verified``
False refuses) except ``member_blocks_sender``, which only ever refuses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from curbside.matrix.rooms import CLEAR_IN_ENCRYPTED_ROOMS, MEGOLM

ENCRYPTION = "m.room.encryption"
JOIN_RULES = "m.room.join_rules"
HISTORY_VISIBILITY = "m.room.history_visibility"
GUEST_ACCESS = "m.room.guest_access"
POWER_LEVELS = "m.room.power_levels"
SERVER_ACL = "m.room.server_acl"
MEMBER = "m.room.member"
THIRD_PARTY_INVITE = "m.room.third_party_invite"
CREATE = "m.room.create"
TOMBSTONE = "m.room.tombstone"
REDACTION = "m.room.redaction"
ENCRYPTED = "m.room.encrypted"
REACTION = "m.reaction"

# State a verified room's power levels must reserve for the gatekeeper alone.
GATEKEEPER_STATE = (POWER_LEVELS, JOIN_RULES, HISTORY_VISIBILITY, GUEST_ACCESS, ENCRYPTION,
                    SERVER_ACL)
GATEKEEPER_ACTIONS = ("invite", "kick", "ban")
# Defaults from the Matrix spec when a power-levels field is absent.
_ACTION_DEFAULTS = {"invite": 0, "kick": 50, "ban": 50}
_STATE_DEFAULT = 50

# State event types whose verdict can depend on anything; other state is always allowed.
GOVERNED_TYPES = frozenset({*GATEKEEPER_STATE, MEMBER, THIRD_PARTY_INVITE, CREATE, TOMBSTONE})
# State that a redaction in a verified room may not strip: who is in it, and how it is run.
PROTECTED_STATE = GOVERNED_TYPES

# Room events sent in the clear in an encrypted room that are still allowed: what current
# Element sends so (see curbside.matrix.rooms, where the bots read the same list).
# A clear reaction may carry no more than an annotation: its key, bounded (an emoji or a
# short word), so it cannot be a message in disguise.
MAX_REACTION_KEY = 32
REDACTION_FIELDS = frozenset({"redacts", "reason"})
MAX_REDACTION_REASON = 256
# Join rules that make a room private, which needs encryption on every Synapse.
PRIVATE_JOIN_RULES = frozenset({"invite", "knock", "restricted", "knock_restricted", "private"})

TIGHT_HISTORY = frozenset({"joined", "invited"})
PUBLIC_PRESET = "public_chat"


# Fields the homeserver adds to a refusal's JSON error body.
RULE_FIELD = "org.curbside.rule"
REASON_FIELD = "org.curbside.reason"


class Rule(StrEnum):
    """Every refusal the module can give; the value is the id clients see."""

    UNVERIFIED_INVITEE = "VR-01"
    UNVERIFIED_JOINER = "VR-02"
    INVITER_NOT_GATEKEEPER = "VR-03"
    FOREIGN_SERVER = "VR-04"
    NO_SIDE_DOOR = "VR-05"
    JOIN_RULE_FIXED = "VR-06"
    HISTORY_TIGHT = "VR-07"
    NO_GUESTS = "VR-08"
    NOT_IN_DIRECTORY = "VR-09"
    POWER_LEVELS_SENDER = "VR-10"
    POWER_LEVELS_SHAPE = "VR-11"
    SERVER_ACL_SCOPE = "VR-12"
    INVITE_NOT_CONSENTED = "VR-13"
    UPGRADE_GOVERNED = "VR-14"
    PROTECTED_REDACTION = "VR-15"
    PRIVATE_ROOM_UNENCRYPTED = "E2E-01"
    ENCRYPTION_WEAKENED = "E2E-02"
    PLAINTEXT_IN_ENCRYPTED_ROOM = "E2E-03"
    PRIVATE_WITHOUT_ENCRYPTION = "E2E-04"
    INVITER_BLOCKED = "IB-01"
    VERIFIED_NAME_TAKEN = "VN-01"


REASONS: dict[Rule, str] = {
    Rule.UNVERIFIED_INVITEE: "Only verified clinicians can be invited into a verified room.",
    Rule.UNVERIFIED_JOINER: "Only verified clinicians can join a verified room.",
    Rule.INVITER_NOT_GATEKEEPER: (
        "Only the gatekeeper invites people into a verified room; ask it with !invite."
    ),
    Rule.FOREIGN_SERVER: "A verified room only admits users of this homeserver's allowed servers.",
    Rule.NO_SIDE_DOOR: "A verified room admits people only by the gatekeeper's invite.",
    Rule.JOIN_RULE_FIXED: "A verified room stays invite-only; its join rule cannot change.",
    Rule.HISTORY_TIGHT: (
        "A verified room's history is visible to members only ('joined' or 'invited')."
    ),
    Rule.NO_GUESTS: "Guests cannot be let into a verified room.",
    Rule.NOT_IN_DIRECTORY: "A verified room cannot be published to the room directory.",
    Rule.POWER_LEVELS_SENDER: "Only the gatekeeper changes a verified room's power levels.",
    Rule.POWER_LEVELS_SHAPE: (
        "In a verified room only the gatekeeper may invite, kick, ban or change its "
        "protected state; these power levels would hand that to someone else."
    ),
    Rule.SERVER_ACL_SCOPE: "A verified room's server ACL may only allow this homeserver's servers.",
    Rule.INVITE_NOT_CONSENTED: (
        "Nobody in this verified room agreed to this invite: a member asks with !invite, "
        "or the room's owners approve a !join request."
    ),
    Rule.UPGRADE_GOVERNED: (
        "A verified room is upgraded only by the gatekeeper's own !room upgrade (ask an owner)."
    ),
    Rule.PROTECTED_REDACTION: (
        "Memberships and settings of a verified room cannot be redacted."
    ),
    Rule.PLAINTEXT_IN_ENCRYPTED_ROOM: (
        "This room is end-to-end encrypted: send the message encrypted (m.room.encrypted)."
    ),
    Rule.PRIVATE_WITHOUT_ENCRYPTION: (
        "A room can only become private once it is end-to-end encrypted: send an "
        f"m.room.encryption event with algorithm {MEGOLM} first."
    ),
    Rule.VERIFIED_NAME_TAKEN: (
        "Names in the verified form 'Name, CRED · Specialty' are only for the verified "
        "clinician they belong to; choose another display name."
    ),
    Rule.PRIVATE_ROOM_UNENCRYPTED: (
        "A private room must be end-to-end encrypted: add an m.room.encryption event "
        f"with algorithm {MEGOLM} to initial_state."
    ),
    Rule.ENCRYPTION_WEAKENED: (
        f"End-to-end encryption cannot be turned off or changed; the algorithm must be {MEGOLM}."
    ),
    Rule.INVITER_BLOCKED: "This user does not accept invites from you.",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a change is refused: the rule (its id goes to the client) and its reason."""

    rule: Rule

    @property
    def reason(self) -> str:
        return REASONS[self.rule]


Verdict = Refusal | None
"""``None`` means allowed."""


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Who the gatekeeper is and which servers' users verified rooms admit."""

    gatekeeper: str
    allowed_servers: frozenset[str]


@dataclass(frozen=True, slots=True)
class ProposedEvent:
    """An event about to be sent: the parts of it the policy reads."""

    sender: str
    event_type: str
    state_key: str | None
    content: Mapping[str, Any]
    redacts: str | None = None
    """For a redaction: the event it removes."""

    @property
    def predecessor(self) -> str | None:
        """For an ``m.room.create``: the room it replaces (an upgrade), if any."""
        return predecessor_of(self.content) if self.event_type == CREATE else None

    @property
    def membership(self) -> str | None:
        value = self.content.get("membership")
        return value if self.event_type == MEMBER and isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the database says about the room and the membership event's target."""

    room_verified: bool
    member_verified: bool = False
    member_blocks_sender: bool = False
    member_verified_name: str | None = None
    """The target's verified display name ("Dana Whitfield, MD · Cardiology") when verified."""
    room_encrypted: bool = False
    """The room's state holds ``m.room.encryption`` (read from the state, not the database)."""
    has_join_rule: bool = True
    """The room already has a join rule (False only while ``/createRoom`` builds it)."""
    invite_consented: bool = False
    """The gatekeeper's records show the room agreed to the invite's target."""
    upgrade_announced: bool = False
    """For a tombstone, or the create event of a successor: the gatekeeper announced it."""
    redacts_protected: bool = False
    """For a redaction: the event it removes is protected state of the room."""


def governs(event_type: str, state_key: str | None) -> bool:
    """Does the verdict on this event need the database? (Messages never do.)"""
    if state_key is None:
        return event_type == REDACTION
    return event_type in GOVERNED_TYPES


def predecessor_of(create_content: Mapping[str, Any]) -> str | None:
    predecessor = create_content.get("predecessor")
    room = predecessor.get("room_id") if isinstance(predecessor, Mapping) else None
    return room if isinstance(room, str) else None


_MIDDLE_DOTS = str.maketrans(
    dict.fromkeys("\u0387\u2022\u2219\u22c5\u30fb\uff65\u2027\u00b7", "\u00b7"))
# "Name, CRED · Specialty", "Name · Specialty", or "Name, CRED" with a known credential.
_CREDENTIALS = "md|do|np|pa|pa-c|rn|aprn|fnp|crna|cnm|dds|dmd|dpm|od|pharmd|phd|lcsw|dc|mbbs"
_VERIFIED_FORM = re.compile(
    r"^[^,\u00b7]+,\s*[a-z][a-z.\-]{1,15}\s*\u00b7\s*\S.*$"
    r"|^[^,\u00b7]+\s\u00b7\s\S.*$"
    rf"|^[^,\u00b7]+,\s*({_CREDENTIALS})$"
)


def looks_verified(name: object) -> bool:
    """Is ``name`` in the verified form ("Dana Whitfield, MD · Cardiology", or close to it)?

    Compared after Unicode compatibility folding and case folding, with look-alike
    middle dots taken as the dot, so that a name written with full-width letters and a
    bullet counts too.
    """
    if not isinstance(name, str):
        return False
    folded = unicodedata.normalize("NFKC", name).translate(_MIDDLE_DOTS).casefold()
    return bool(_VERIFIED_FORM.match(" ".join(folded.replace(".", "").split())))


def server_of(user_id: str) -> str:
    return user_id.split(":", 1)[-1]


def judge_event(config: PolicyConfig, event: ProposedEvent, facts: Facts) -> Verdict:
    """The verdict on one event in one room."""
    if event.state_key is None:
        return _judge_room_event(event, facts)
    if event.event_type == ENCRYPTION:
        return _judge_encryption(event.content) if event.state_key == "" else None
    if event.event_type == MEMBER:
        return _judge_membership(config, event, facts)
    if event.event_type == CREATE:
        governed = event.predecessor is not None and facts.room_verified
        return _judge_upgrade(config, event, facts) if governed else None
    if not facts.room_verified:
        return _judge_join_rule_change(event, facts) if event.event_type == JOIN_RULES else None
    if event.event_type == THIRD_PARTY_INVITE:
        return Refusal(Rule.NO_SIDE_DOOR)
    if event.state_key != "":
        return None
    if event.event_type == TOMBSTONE:
        return _judge_upgrade(config, event, facts)
    return _judge_verified_room_state(config, event)


def _judge_join_rule_change(event: ProposedEvent, facts: Facts) -> Verdict:
    """A room that already has a join rule becomes private only once it is encrypted."""
    private = event.content.get("join_rule") in PRIVATE_JOIN_RULES
    if event.state_key == "" and facts.has_join_rule and private and not facts.room_encrypted:
        return Refusal(Rule.PRIVATE_WITHOUT_ENCRYPTION)
    return None


def _judge_room_event(event: ProposedEvent, facts: Facts) -> Verdict:
    """Messages and other non-state events: nothing in the clear where encryption is on."""
    if event.event_type == REDACTION and facts.room_verified and facts.redacts_protected:
        return Refusal(Rule.PROTECTED_REDACTION)
    if not facts.room_encrypted or _clear_event_allowed(event):
        return None
    return Refusal(Rule.PLAINTEXT_IN_ENCRYPTED_ROOM)


def _clear_event_allowed(event: ProposedEvent) -> bool:
    content = event.content
    if event.event_type not in CLEAR_IN_ENCRYPTED_ROOMS:
        return False
    if event.event_type == REACTION:
        relation = content.get("m.relates_to")
        return (
            set(content) == {"m.relates_to"}
            and isinstance(relation, Mapping)
            and relation.get("rel_type") == "m.annotation"
            and isinstance(relation.get("key"), str)
            and len(relation["key"]) <= MAX_REACTION_KEY
        )
    if event.event_type == REDACTION:
        reason = content.get("reason", "")
        return (set(content) <= REDACTION_FIELDS and isinstance(reason, str)
                and len(reason) <= MAX_REDACTION_REASON)
    if event.event_type == "org.matrix.dummy_event":
        return not content
    return True


def _judge_upgrade(config: PolicyConfig, event: ProposedEvent, facts: Facts) -> Verdict:
    """A tombstone in a verified room, or a room created to succeed one."""
    if event.sender == config.gatekeeper and facts.upgrade_announced:
        return None
    return Refusal(Rule.UPGRADE_GOVERNED)


# Memberships that show the member in the room under a name.
NAMED_MEMBERSHIPS = frozenset({"invite", "join"})
DISPLAYNAME = "displayname"


def verified_membership(
    config: PolicyConfig, event: ProposedEvent, facts: Facts
) -> dict[str, Any] | None:
    """The content an allowed membership event must carry instead, or ``None`` to keep it.

    In a verified room an invite or join of a verified clinician (not the
    gatekeeper) shows their verified name: the client's ``displayname`` (its
    profile name, or a per-room name) is replaced; every other field, the
    avatar included, is kept. Call it only for events :func:`judge_event` allows.
    """
    name = facts.member_verified_name
    if (
        not facts.room_verified
        or event.membership not in NAMED_MEMBERSHIPS
        or event.state_key == config.gatekeeper
        or name is None
        or event.content.get(DISPLAYNAME) == name
    ):
        return None
    return {**event.content, DISPLAYNAME: name}


def judge_room_creation(
    body: Mapping[str, Any],
    encrypted_presets: frozenset[str],
    invitees_blocking_creator: Sequence[str] = (),
    predecessor_verified: bool = False,
) -> Verdict:
    """The verdict on a ``/createRoom`` request body, before anything exists.

    The room's *effective* state decides: an ``initial_state`` entry overrides
    the preset, and Synapse adds Megolm itself when the effective preset is in
    ``encrypted_presets`` (its ``encryption_enabled_by_default_for_room_type``)
    and no encryption event was supplied. A room is private unless its
    effective join rule is ``public``.
    """
    if predecessor_verified:
        return Refusal(Rule.UPGRADE_GOVERNED)
    if _names_in_initial_state(body.get("initial_state")):
        return Refusal(Rule.VERIFIED_NAME_TAKEN)
    state = _initial_state(body.get("initial_state"))
    supplied = state.get(ENCRYPTION)
    if supplied is not None and _judge_encryption(supplied) is not None:
        return Refusal(Rule.ENCRYPTION_WEAKENED)
    if invitees_blocking_creator:
        return Refusal(Rule.INVITER_BLOCKED)
    preset = body.get("preset") or (
        "private_chat" if body.get("visibility", "private") == "private" else PUBLIC_PRESET
    )
    join_rules = state.get(JOIN_RULES)
    if join_rules is not None:
        join_rule = join_rules.get("join_rule")
    else:
        join_rule = "public" if preset == PUBLIC_PRESET else "invite"
    encrypted = supplied is not None or preset in encrypted_presets
    if join_rule != "public" and not encrypted:
        return Refusal(Rule.PRIVATE_ROOM_UNENCRYPTED)
    return None


def judge_publication(room_verified: bool) -> Verdict:
    """The verdict on publishing a room to the room directory."""
    return Refusal(Rule.NOT_IN_DIRECTORY) if room_verified else None


def _initial_state(raw: object) -> dict[str, Mapping[str, Any]]:
    """``initial_state`` entries with an empty state key by type; the last one wins, as in
    Synapse. Malformed entries are skipped: Synapse rejects the request itself."""
    state: dict[str, Mapping[str, Any]] = {}
    for entry in raw if isinstance(raw, list) else ():
        if not isinstance(entry, Mapping) or entry.get("state_key", "") != "":
            continue
        content = entry.get("content")
        if isinstance(entry.get("type"), str) and isinstance(content, Mapping):
            state[entry["type"]] = content
    return state


def _names_in_initial_state(raw: object) -> bool:
    """Does ``initial_state`` carry a membership showing a name in the verified form?

    Refused up front, whoever's name it is: a membership in ``initial_state`` has no
    use a client needs, and judging it only once the room half exists would leave one.
    """
    return any(
        isinstance(entry, Mapping) and entry.get("type") == MEMBER
        and isinstance(entry.get("content"), Mapping)
        and looks_verified(entry["content"].get(DISPLAYNAME))
        for entry in (raw if isinstance(raw, list) else ())
    )


def _judge_encryption(content: Mapping[str, Any]) -> Verdict:
    return None if content.get("algorithm") == MEGOLM else Refusal(Rule.ENCRYPTION_WEAKENED)


def _judge_membership(config: PolicyConfig, event: ProposedEvent, facts: Facts) -> Verdict:
    membership = event.membership
    target = event.state_key or ""
    shown = event.content.get(DISPLAYNAME)
    if (membership in NAMED_MEMBERSHIPS and looks_verified(shown)
            and shown != facts.member_verified_name and target != config.gatekeeper):
        return Refusal(Rule.VERIFIED_NAME_TAKEN)
    blocked = Refusal(Rule.INVITER_BLOCKED) if facts.member_blocks_sender else None
    if not facts.room_verified:
        return blocked if membership == "invite" else None
    if membership == "invite":
        if event.sender != config.gatekeeper:
            return Refusal(Rule.INVITER_NOT_GATEKEEPER)
        if server_of(target) not in config.allowed_servers:
            return Refusal(Rule.FOREIGN_SERVER)
        if not facts.member_verified:
            return Refusal(Rule.UNVERIFIED_INVITEE)
        return blocked if facts.invite_consented else Refusal(Rule.INVITE_NOT_CONSENTED)
    if membership == "join":
        if target == config.gatekeeper:
            return None
        if server_of(target) not in config.allowed_servers:
            return Refusal(Rule.FOREIGN_SERVER)
        return None if facts.member_verified else Refusal(Rule.UNVERIFIED_JOINER)
    if membership == "knock":
        return Refusal(Rule.NO_SIDE_DOOR)
    return None  # leave, kick and ban are always allowed: removing people is never blocked


def _judge_verified_room_state(config: PolicyConfig, event: ProposedEvent) -> Verdict:
    content = event.content
    if event.event_type == JOIN_RULES:
        return None if content.get("join_rule") == "invite" else Refusal(Rule.JOIN_RULE_FIXED)
    if event.event_type == HISTORY_VISIBILITY:
        visibility = content.get("history_visibility")
        return None if visibility in TIGHT_HISTORY else Refusal(Rule.HISTORY_TIGHT)
    if event.event_type == GUEST_ACCESS:
        return None if content.get("guest_access") == "forbidden" else Refusal(Rule.NO_GUESTS)
    if event.event_type == SERVER_ACL:
        allow = content.get("allow")
        within = isinstance(allow, list) and all(
            isinstance(server, str) and server in config.allowed_servers for server in allow
        )
        return None if within else Refusal(Rule.SERVER_ACL_SCOPE)
    if event.event_type == POWER_LEVELS:
        if event.sender != config.gatekeeper:
            return Refusal(Rule.POWER_LEVELS_SENDER)
        return None if _reserved_for_gatekeeper(config, content) else Refusal(
            Rule.POWER_LEVELS_SHAPE
        )
    return None


def _level(value: object, default: int) -> int:
    """A power level as Synapse reads it (ints or integer strings; anything else: default)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default


def _reserved_for_gatekeeper(config: PolicyConfig, content: Mapping[str, Any]) -> bool:
    """Does nobody but the gatekeeper reach invite/kick/ban and the protected state?"""
    users = content.get("users")
    users = users if isinstance(users, Mapping) else {}
    events = content.get("events")
    events = events if isinstance(events, Mapping) else {}
    state_default = _level(content.get("state_default"), _STATE_DEFAULT)
    required = [_level(content.get(a), _ACTION_DEFAULTS[a]) for a in GATEKEEPER_ACTIONS]
    required += [_level(events.get(t), state_default) for t in GATEKEEPER_STATE]
    others = [_level(level, 0) for user, level in users.items() if user != config.gatekeeper]
    highest_other = max([_level(content.get("users_default"), 0), *others])
    return highest_other < min(required)
