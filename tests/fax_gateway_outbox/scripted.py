"""A transport whose answers a test writes in advance."""

from __future__ import annotations

from collections import deque

from fax_gateway.transports.base import (
    OutboundFax,
    ProviderState,
    ProviderStatus,
    TemporaryTransportError,
    Transport,
)

DELIVERED = ProviderStatus(ProviderState.DELIVERED, pages=1)
PENDING = ProviderStatus(ProviderState.PENDING)


class AcceptedButLost(TemporaryTransportError):
    """The provider took the fax, but the answer never reached us (a timeout)."""


class ScriptedTransport(Transport):
    name = "scripted"
    needs_tiff = False

    def __init__(self) -> None:
        self.submit_script: deque[Exception | None] = deque()
        self.poll_script: deque[ProviderStatus] = deque()
        self.submitted: list[str] = []  # attempt keys, in order
        self.accepted: dict[str, str] = {}  # attempt key -> provider id
        self.pages_seen: list[int] = []

    async def submit(self, fax: OutboundFax) -> str:
        self.submitted.append(fax.attempt_key)
        self.pages_seen.append(fax.pages)
        outcome = self.submit_script.popleft() if self.submit_script else None
        if outcome is not None and not isinstance(outcome, AcceptedButLost):
            raise outcome
        provider_id = f"p-{len(self.submitted)}"
        self.accepted[fax.attempt_key] = provider_id
        if outcome is not None:
            raise outcome
        return provider_id

    async def find(self, attempt_key: str) -> str | None:
        return self.accepted.get(attempt_key)

    async def poll(self, provider_id: str) -> ProviderStatus:
        return self.poll_script.popleft() if self.poll_script else DELIVERED

    async def close(self) -> None:
        """Nothing to release."""
