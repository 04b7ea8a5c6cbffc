"""The one interface every fax transport implements.

    outbox worker ──submit(fax)──> Transport ──> provider / fax line
                  <──provider id──
                  ──find(attempt key)──>  (reconcile after a crash)
                  ──poll(provider id)──>  ProviderStatus
    provider ──webhook / in-process──> Transport ──> Receiver
                                        (status changes, received faxes)

``submit`` must carry the attempt key to the provider (a tag, a reference
field) so that ``find`` can tell, after a crash or a timeout, whether an
attempt was accepted: the outbox then adopts that fax instead of sending a
second one. Errors say whether trying again is safe and useful.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from aiohttp import web


class TransportError(Exception):
    """The provider did not take the request."""

    retryable: ClassVar[bool] = False


class TemporaryTransportError(TransportError):
    """Timeouts, connection errors, 5xx, rate limits: try again later."""

    retryable = True


class PermanentTransportError(TransportError):
    """The provider refused the fax itself (bad number, bad document)."""


class ProviderState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """Where the provider says a fax is; ``reason`` carries no PHI."""

    state: ProviderState
    pages: int | None = None
    reason: str = ""
    #: For FAILED: whether sending the whole fax again is sensible. False for
    #: partial deliveries, where the recipient already holds some pages.
    retryable: bool = True


@dataclass(frozen=True, slots=True)
class OutboundFax:
    """One attempt at sending a job, as handed to a transport."""

    job_id: str
    attempt_key: str
    to_number: str
    caller_ident: str
    pdf_path: Path
    tiff_path: Path | None
    pages: int


class ContentKind(enum.StrEnum):
    PDF = "pdf"
    TIFF = "tiff"


@dataclass(frozen=True, slots=True)
class ReceivedFax:
    """A fax that arrived, before it is stored."""

    transport: str
    provider_fax_id: str
    from_number: str | None
    to_number: str
    content: bytes
    kind: ContentKind


class Receiver(Protocol):
    """Where transports hand what arrives; implemented by the gateway."""

    async def fax_received(self, fax: ReceivedFax) -> bool:
        """Store durably; True when new, False for a replay. Raises on bad content."""

    async def status_changed(
        self, transport: str, provider_id: str, status: ProviderStatus
    ) -> None:
        """Apply a provider's status report to the job that owns ``provider_id``."""

    async def webhook_rejected(self, transport: str, reason: str) -> None:
        """Audit a refused webhook call (any 4xx: signature, body, content); store nothing else."""


class Transport(ABC):
    """A way to send faxes and learn their fate."""

    name: ClassVar[str]
    #: Whether submit needs the TIFF-F rendering (a fax line) or takes the PDF.
    needs_tiff: ClassVar[bool]

    @abstractmethod
    async def submit(self, fax: OutboundFax) -> str:
        """Hand the fax over; return the provider's id for it."""

    @abstractmethod
    async def find(self, attempt_key: str) -> str | None:
        """The provider id of an accepted attempt, or None if none was accepted."""

    @abstractmethod
    async def poll(self, provider_id: str) -> ProviderStatus:
        """The provider's current view of one fax."""

    def webhook_routes(self, receiver: Receiver) -> list[web.RouteDef]:
        """HTTP routes through which this provider reports; none by default."""
        del receiver
        return []

    @abstractmethod
    async def close(self) -> None:
        """Release connections and background work."""
