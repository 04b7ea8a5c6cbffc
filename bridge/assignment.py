"""Who may point a fax number's inbound faxes where: the ``!fax assign`` rule.

Received faxes are patient information, so routing a number is an access
decision, written here once as pure functions of what the homeserver says:

    number has no owner  ─► the clinician may take it for themselves, or for a
                            room they have joined
    number has an owner  ─► only the owner hands it over: the user it is
                            assigned to, or a moderator (power ≥ 50) of the
                            room it is assigned to; then to any verified
                            clinician, or to a room the one assigning has joined
    always               ─► the operator, through the gateway's ``fax.routes``
                            configuration (applied at start), outside Matrix

Anyone else is refused with who owns the number (a user id, or "a room": a
room id tells a stranger nothing useful) and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fax_gateway import Owner, OwnerKind

MODERATOR = 50

OPERATOR_HINT = "the Curbside operator can also set it in the fax routes configuration"


@dataclass(frozen=True, slots=True)
class Standing:
    """A user's place in a room, as the room's current state says."""

    joined: bool
    power: int

    @property
    def moderates(self) -> bool:
        return self.joined and self.power >= MODERATOR


@dataclass(frozen=True, slots=True)
class Request:
    """One ``!fax assign``: who asks, the number's owner now, and the owner asked for.

    ``in_target`` is the actor's standing in the target room (room targets),
    ``in_current`` their standing in the room owning the number (room owners);
    None where not applicable or where the bridge cannot see the room.
    """

    actor: str
    number: str  # as shown to people
    current: Owner | None
    target: Owner
    target_verified: bool
    in_target: Standing | None = None
    in_current: Standing | None = None


# Room versions 12 and later give creators unlimited power outside the power
# levels event (MSC4289); earlier versions list them in it like anyone.
CREATOR_POWER = 2**53
_PRIVILEGED_CREATOR_VERSIONS = frozenset({"12", "org.matrix.hydra.11"})


def standing_in(user_id: str, membership: str | None, power_levels: dict[str, Any],
                create: dict[str, Any]) -> Standing:
    """A user's standing from the room's member, power-levels and create events."""
    content = create.get("content") or {}
    creators = {create.get("sender")} | set(content.get("additional_creators") or [])
    users = power_levels.get("users") or {}
    if str(content.get("room_version", "1")) in _PRIVILEGED_CREATOR_VERSIONS \
            and user_id in creators:
        power = CREATOR_POWER
    else:
        power = int(users.get(user_id, power_levels.get("users_default", 0)))
    return Standing(joined=membership == "join", power=power)


def describe(owner: Owner) -> str:
    if owner.kind is OwnerKind.MATRIX_USER:
        return owner.id
    if owner.kind is OwnerKind.ROOM:
        return "a room"
    return "the referral desk"


def refusal(request: Request, bot_user_id: str) -> str | None:
    """Why this assignment is not allowed, as the sender is told; None if it is."""
    problem = _owner_problem(request)
    if problem is not None:
        return problem
    return _target_problem(request, bot_user_id)


def _owner_problem(request: Request) -> str | None:
    """An owned number moves only by its owner's hand."""
    current, actor, number = request.current, request.actor, request.number
    if current is None:
        return None
    if current.kind is OwnerKind.MATRIX_USER and current.id == actor:
        return None
    if current.kind is OwnerKind.ROOM and request.in_current is not None \
            and request.in_current.moderates:
        return None
    if current.kind is OwnerKind.ROOM:
        who = f"a moderator (power level {MODERATOR} or more) of the room it is assigned to"
    elif current.kind is OwnerKind.MATRIX_USER:
        who = current.id
    else:
        who = "the Curbside operator"
    return (f"{number} is already assigned to {describe(current)}, and only its current "
            f"owner can hand it over. Ask {who} to run !fax assign {number} "
            f"{actor} (or to a room); {OPERATOR_HINT}.")


def _target_problem(request: Request, bot_user_id: str) -> str | None:
    target, actor, number = request.target, request.actor, request.number
    if target.kind is OwnerKind.MATRIX_USER:
        if request.current is None and target.id != actor:
            return (f"{number} has no owner yet: you can assign it to yourself "
                    f"(!fax assign {number} {actor}) or to a room you have joined. "
                    f"{target.id} can take it with !fax assign {number} {target.id}.")
        if not request.target_verified:
            return (f"{target.id} has no active verified credential, and received faxes "
                    "carry patient information: they go only to verified clinicians. "
                    "They can get verified by the gatekeeper bot first.")
        return None
    standing = request.in_target
    if standing is None:
        return (f"I cannot see that room. Invite {bot_user_id} to it, then assign "
                f"{number} again from a chat with the number.")
    if not standing.joined:
        return (f"You are not a member of that room, so you cannot send its faxes there. "
                f"A member of the room can run !fax assign {number} with the room.")
    return None
