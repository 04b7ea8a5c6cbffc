"""The bridge bot: the registration's ``sender_localpart``, the bridge's own account.

Synapse does not let an application service's sender use ``/sync`` (it
answers 500 NotImplementedError; matrix-doc#1144), so the bot has no E2EE
device and cannot read encrypted rooms. It does what needs no reading, with
the as_token: it joins rooms people invite it to (seen in transactions) and
invites a number's puppet into a practice room for ``!fax assign``, and reads
the membership and power levels that decide who may assign (bridge.assignment). The
``!fax`` commands themselves are answered by the puppets, in portals.
"""

from __future__ import annotations

from bridge.assignment import Standing, standing_in
from bridge.homeserver import AppserviceClient
from bridge.numbers import number_of


class BridgeBot:
    def __init__(self, user_id: str, server_name: str, homeserver: AppserviceClient) -> None:
        self.user_id = user_id
        self._server_name = server_name
        self._homeserver = homeserver

    def accepts_invite_from(self, inviter: str) -> bool:
        """People on this server may invite the bot; other fax numbers may not."""
        return inviter.endswith(":" + self._server_name) and \
            number_of(inviter, self._server_name) is None

    async def join(self, room_id: str) -> str | None:
        return await self._homeserver.join(room_id)

    async def invite(self, room_id: str, user_id: str) -> str | None:
        problem = await self._homeserver.invite(room_id, user_id)
        if problem is None:
            return None
        return (f"I could not bring the number into that room ({problem}). Invite "
                f"{self.user_id} to the room first, then assign the number again.")

    async def standing(self, room_id: str, user_id: str) -> Standing | None:
        """``user_id``'s standing in ``room_id``; None when the bot is not in the room."""
        status, create = await self._homeserver.room_state(room_id, "m.room.create",
                                                           whole_event=True)
        if status != 200:
            return None
        status, levels = await self._homeserver.room_state(room_id, "m.room.power_levels")
        if status != 200:
            return None
        status, member = await self._homeserver.room_state(room_id, "m.room.member", user_id)
        membership = member.get("membership") if status == 200 else None
        return standing_in(user_id, membership if isinstance(membership, str) else None,
                           levels, create)
