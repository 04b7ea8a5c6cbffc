"""The embedded default transport: a real T.30 call into our own inbox.

    submit: TIFF-F ──spandsp caller ⇄ spandsp answerer (loopback.py)──> received TIFF
            received TIFF ──Inbox.receive (as if it arrived on the called number)
            provider id = the attempt key
    find / poll: the inbox record for that attempt key is the delivery receipt

Because the receiving side stores the fax before ``submit`` returns, the
inbox is the provider's durable memory: after a crash, an attempt whose fax
is in the inbox was delivered, and one whose fax is not was never completed
(a half-finished call stores nothing), so sending it again is safe.
"""

from __future__ import annotations

import asyncio

from fax_gateway.inbox import Inbox
from fax_gateway.loopback import send_over_loopback
from fax_gateway.storage import DocumentStore
from fax_gateway.transports.base import (
    ContentKind,
    OutboundFax,
    PermanentTransportError,
    ProviderState,
    ProviderStatus,
    ReceivedFax,
    TemporaryTransportError,
    Transport,
)

#: spandsp station identities (TSI/CSI) are at most 20 characters.
_IDENT_MAX = 20


class LoopbackTransport(Transport):
    name = "loopback"
    needs_tiff = True

    def __init__(
        self,
        inbox: Inbox,
        store: DocumentStore,
        *,
        ecm: bool = True,
        max_line_seconds: float = 900.0,
    ) -> None:
        self._inbox = inbox
        self._store = store
        self._ecm = ecm
        self._max_line_seconds = max_line_seconds

    async def submit(self, fax: OutboundFax) -> str:
        if fax.tiff_path is None:
            raise PermanentTransportError("the loopback line needs the TIFF-F rendering")
        caller = (fax.caller_ident or "Curbside")[:_IDENT_MAX]
        with self._store.scratch_dir() as scratch:
            received_path = scratch / "received.tif"
            result = await asyncio.to_thread(
                send_over_loopback,
                fax.tiff_path,
                received_path,
                caller_ident=caller,
                called_number=fax.to_number[:_IDENT_MAX],
                ecm=self._ecm,
                max_seconds=self._max_line_seconds,
            )
            if not result.success:
                raise TemporaryTransportError(f"T.30 call failed: {result.completion_text}")
            content = received_path.read_bytes()
        await self._inbox.receive(
            ReceivedFax(
                transport=self.name,
                provider_fax_id=fax.attempt_key,
                from_number=caller,
                to_number=fax.to_number,
                content=content,
                kind=ContentKind.TIFF,
            )
        )
        return fax.attempt_key

    async def find(self, attempt_key: str) -> str | None:
        record = await asyncio.to_thread(self._inbox.find, self.name, attempt_key)
        return attempt_key if record else None

    async def poll(self, provider_id: str) -> ProviderStatus:
        record = await asyncio.to_thread(self._inbox.find, self.name, provider_id)
        if record is None:
            raise PermanentTransportError("no call with this id reached the loopback line")
        return ProviderStatus(ProviderState.DELIVERED, pages=record.pages)

    async def close(self) -> None:
        """Nothing to release: every call ends inside ``submit``."""
