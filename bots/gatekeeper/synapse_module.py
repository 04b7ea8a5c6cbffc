"""Synapse module: the verified-room policy, enforced inside the homeserver.

    client ──/createRoom──────> on_create_room ──────────┐
    client/admin/Synapse ──any event──> check_event_allowed ──┤  facts (DB, worker thread)
    client ──PUT /directory/list/room──> user_may_publish_room ─┤      │
    remote ──federated invite──> federated_user_may_invite ──┤      ▼
    client ──3PID invite──> check_threepid_can_be_invited ───┤
    Synapse ──profile changed──> on_profile_update (undo) ───┘
                                             bots.gatekeeper.policy (pure verdict)
                                                     │ refusal
                                                     ▼
                                 403 M_FORBIDDEN + "org.curbside.rule": "VR-01" …

The checks run before an event is persisted — before Matrix's own auth rules —
so a refused invite, join or state change never exists, and no bot has to kick
an intruder after the fact. ``check_event_allowed`` sees every event this
server creates, including server admins', those inside ``/createRoom`` and
``/upgrade``; room creation is judged once up front from the request body so
that a refusal never leaves a half-built room. Messages are judged from the
room's state alone (no database): in an encrypted room only encrypted ones,
and the few types Element sends in the clear, pass.

The same callback also amends: an allowed invite or join in a verified room is
replaced by one whose ``displayname`` is the member's verified name, so no
client — and no later profile change, which Synapse re-sends as a join into
every room — can show a member under another name there.

Load it through ``modules:`` in homeserver.yaml; docs/synapse-module.md lists
the config keys and every refusal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from synapse.module_api import (
    NOT_SPAM,
    EventBase,
    ModuleApi,
    ProfileInfo,
    Requester,
    StateMap,
    UserID,
    create_requester,
)
from synapse.module_api.errors import Codes, ConfigError, SynapseError

from bots.gatekeeper.policy import (
    CREATE,
    ENCRYPTION,
    JOIN_RULES,
    PROTECTED_STATE,
    REASON_FIELD,
    RULE_FIELD,
    Facts,
    PolicyConfig,
    ProposedEvent,
    Refusal,
    Rule,
    governs,
    judge_event,
    judge_publication,
    judge_room_creation,
    looks_verified,
    predecessor_of,
    verified_membership,
)
from bots.gatekeeper.policy_facts import PolicyFacts, RoomState
from curbside.database import make_engine

logger = logging.getLogger(__name__)

DEFAULT_CACHE_TTL = 2.0
MAX_CACHE_TTL = 60.0


@dataclass(frozen=True, slots=True)
class ModuleConfig:
    """The module's ``config:`` block in homeserver.yaml, validated."""

    database_url: str
    gatekeeper_user_id: str
    allowed_server_names: tuple[str, ...] = ()
    cache_ttl_seconds: float = DEFAULT_CACHE_TTL


def parse_module_config(raw: dict[str, Any]) -> ModuleConfig:
    """Validate the config block; a mistake stops Synapse at start-up with the key named."""
    database_url = raw.get("database_url")
    if not isinstance(database_url, str) or not database_url:
        raise ConfigError("database_url must be the Curbside database URL", ("database_url",))
    gatekeeper = raw.get("gatekeeper_user_id")
    if not isinstance(gatekeeper, str) or not gatekeeper.startswith("@") or ":" not in gatekeeper:
        raise ConfigError(
            "gatekeeper_user_id must be a full Matrix user id like @gatekeeper:example.org",
            ("gatekeeper_user_id",),
        )
    servers = raw.get("allowed_server_names", [])
    if not isinstance(servers, list) or not all(isinstance(s, str) and s for s in servers):
        raise ConfigError(
            "allowed_server_names must be a list of server names", ("allowed_server_names",)
        )
    ttl = raw.get("cache_ttl_seconds", DEFAULT_CACHE_TTL)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 <= ttl <= MAX_CACHE_TTL:
        raise ConfigError(
            f"cache_ttl_seconds must be a number from 0 to {MAX_CACHE_TTL:g}",
            ("cache_ttl_seconds",),
        )
    return ModuleConfig(
        database_url=database_url,
        gatekeeper_user_id=gatekeeper,
        allowed_server_names=tuple(servers),
        cache_ttl_seconds=float(ttl),
    )


def _server_encrypted_presets(api: ModuleApi) -> frozenset[str]:
    """The presets this Synapse encrypts when a room is created without encryption.

    That is Synapse's ``encryption_enabled_by_default_for_room_type``. The module
    API has no accessor for it, so this reads the parsed config. If a future
    Synapse moves it, the module assumes no preset is encrypted by default:
    room creation is then judged more strictly, never more loosely.
    """
    room_config = getattr(getattr(api, "_hs", None), "config", None)
    presets = getattr(getattr(room_config, "room", None),
                      "encryption_enabled_by_default_for_room_presets", None)
    if presets is None:
        logger.warning("cannot read Synapse's default-encryption setting; assuming it is off")
        return frozenset()
    return frozenset(str(p) for p in presets)


def _error_fields(refusal: Refusal) -> dict[str, str]:
    return {RULE_FIELD: refusal.rule.value, REASON_FIELD: refusal.reason}


def _forbidden(refusal: Refusal) -> SynapseError:
    return SynapseError(
        403, refusal.reason, Codes.FORBIDDEN, additional_fields=_error_fields(refusal)
    )


class VerifiedRoomPolicy:
    """The adapter Synapse loads: translates its callbacks into policy verdicts."""

    def __init__(self, config: ModuleConfig, api: ModuleApi) -> None:
        self._api = api
        self._policy = PolicyConfig(
            gatekeeper=config.gatekeeper_user_id,
            allowed_servers=frozenset(config.allowed_server_names or (api.server_name,)),
        )
        self._facts = PolicyFacts(make_engine(config.database_url), ttl=config.cache_ttl_seconds)
        self._encrypted_presets = _server_encrypted_presets(api)
        api.register_third_party_rules_callbacks(
            check_event_allowed=self.check_event_allowed,
            on_create_room=self.on_create_room,
            on_profile_update=self.on_profile_update,
            check_threepid_can_be_invited=self.check_threepid_can_be_invited,
        )
        api.register_spam_checker_callbacks(
            user_may_publish_room=self.user_may_publish_room,
            federated_user_may_invite=self.federated_user_may_invite,
        )

    @staticmethod
    def parse_config(config: dict[str, Any]) -> ModuleConfig:
        return parse_module_config(config)

    async def check_event_allowed(
        self, event: EventBase, state_events: StateMap[EventBase]
    ) -> tuple[bool, dict[str, Any] | None]:
        """Refuse (raise 403) any event the policy refuses; the event is never persisted.

        An allowed invite or join in a verified room comes back with the member's
        verified name as its ``displayname``: Synapse then builds and persists the
        amended event in place of the original (only content changes; type, room
        and state key stay, as Synapse requires of a replacement).
        """
        proposed, facts = await self._judge(event, state_events)
        refusal = judge_event(self._policy, proposed, facts)
        if refusal is not None:
            logger.info(
                "refused %s from %s in %s: %s",
                event.type, event.sender, event.room_id, refusal.rule.value,
            )
            raise _forbidden(refusal)
        content = verified_membership(self._policy, proposed, facts)
        if content is None:
            return True, None
        return True, {**event.get_dict(), "content": content}

    async def on_create_room(
        self, requester: Requester, request_content: dict[str, Any], is_requester_admin: bool
    ) -> None:
        """Judge ``/createRoom`` from its body before the room exists (admins included)."""
        creator = requester.user.to_string()
        raw_invites = request_content.get("invite")
        invitees = [u for u in raw_invites if isinstance(u, str)] if isinstance(
            raw_invites, list) else []
        blocking = (
            await self._api.defer_to_thread(self._facts.blocking_invitees, invitees, creator)
            if invitees else []
        )
        creation = request_content.get("creation_content")
        predecessor = predecessor_of(creation) if isinstance(creation, dict) else None
        claims_verified = predecessor is not None and await self._api.defer_to_thread(
            self._facts.room_is_verified, predecessor)
        refusal = judge_room_creation(request_content, self._encrypted_presets, blocking,
                                      predecessor_verified=claims_verified)
        if refusal is not None:
            logger.info("refused room creation by %s: %s", creator, refusal.rule.value)
            raise _forbidden(refusal)

    async def user_may_publish_room(
        self, user_id: str, room_id: str
    ) -> Literal["NOT_SPAM"] | tuple[Codes, dict[str, str]]:
        verified = await self._api.defer_to_thread(self._facts.room_is_verified, room_id)
        refusal = judge_publication(verified)
        if refusal is None:
            return NOT_SPAM
        logger.info("refused publishing %s by %s: %s", room_id, user_id, refusal.rule.value)
        return Codes.FORBIDDEN, _error_fields(refusal)

    async def federated_user_may_invite(
        self, event: EventBase
    ) -> Literal["NOT_SPAM"] | tuple[Codes, dict[str, str]]:
        """Invites from other servers: the same verdict (blocks, verified rooms) as local ones."""
        refusal = judge_event(self._policy, *await self._judge(event, {}))
        return NOT_SPAM if refusal is None else (Codes.FORBIDDEN, _error_fields(refusal))

    async def on_profile_update(
        self, user_id: str, profile: ProfileInfo, by_admin: bool, deactivation: bool
    ) -> None:
        """Undo a global display name in the verified form that is not the user's own (VN-01).

        Synapse has no callback that can refuse a profile change, but it runs this one
        before it copies the new name into the user's rooms and before the request
        returns; the name is reset to the localpart here, so the copies carry that
        instead (and each membership event is judged by VN-01 besides).
        """
        name = profile.display_name
        if deactivation or not looks_verified(name):
            return
        own = await self._api.defer_to_thread(self._facts.verified_name, user_id)
        if name == own:
            return
        logger.info("reset the display name of %s: %s", user_id,
                    Rule.VERIFIED_NAME_TAKEN.value)
        user = UserID.from_string(user_id)
        # Not ModuleApi.set_displayname: that would copy the name into every room a second
        # time, racing the copy Synapse is about to make (which reads the reset name).
        await self._api._hs.get_profile_handler().set_displayname(
            target_user=user, requester=create_requester(user), new_displayname=user.localpart,
            by_admin=True, propagate=False)

    async def check_threepid_can_be_invited(
        self, medium: str, address: str, state_events: StateMap[EventBase]
    ) -> bool:
        """No third-party (e-mail, phone) invite into a verified room (VR-05), refused before
        Synapse asks an identity server anything."""
        create = state_events.get((CREATE, ""))
        if create is None:
            return True
        verified = await self._api.defer_to_thread(self._facts.room_is_verified, create.room_id)
        if verified:
            logger.info("refused a third-party invite into %s: %s", create.room_id,
                        Rule.NO_SIDE_DOOR.value)
        return not verified

    async def _judge(
        self, event: EventBase, state_events: StateMap[EventBase]
    ) -> tuple[ProposedEvent, Facts]:
        """The event as the policy sees it, and its facts (from the database only if needed)."""
        state_key = event.get_state_key()
        proposed = ProposedEvent(
            sender=event.sender, event_type=event.type, state_key=state_key,
            content=event.content, redacts=event.redacts,
        )
        room = _room_state(state_events)
        if not governs(event.type, state_key):
            return proposed, Facts(room_verified=False, room_encrypted=room.encrypted,
                                   has_join_rule=room.has_join_rule)
        facts = await self._api.defer_to_thread(
            self._facts.facts_for, event.room_id, proposed, room)
        return proposed, facts


def _room_state(state_events: StateMap[EventBase]) -> RoomState:
    """What the policy needs of the room's state as Synapse holds it before the event."""
    create = state_events.get((CREATE, ""))
    return RoomState(
        encrypted=(ENCRYPTION, "") in state_events,
        has_join_rule=(JOIN_RULES, "") in state_events,
        predecessor=predecessor_of(create.content) if create is not None else None,
        protected_event_ids=frozenset(
            e.event_id for (event_type, _), e in state_events.items()
            if event_type in PROTECTED_STATE),
    )
