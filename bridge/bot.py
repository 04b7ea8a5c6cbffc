"""The bridge bot: the registration's ``sender_localpart``, the bridge's own account.

Synapse does not let an application service's sender use ``/sync`` (it
answers 500 NotImplementedError; matrix-doc#1144), so the bot has no E2EE
device and cannot read encrypted rooms. It does what needs no reading, with
the as_token: it joins rooms people invite it to (seen in transactions) and
invites a number's puppet into a practice room for ``!fax assign``. The
``!fax`` commands themselves are answered by the puppets, in portals.
"""

from __future__ import annotations

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
