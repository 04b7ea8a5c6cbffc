"""The gateway as the rest of Curbside sees it: one object, built from settings.

    referrals / bridge ──submit(pdf, to, idempotency_key)──> Gateway ──> Outbox
                       <──changes_after(seq) / watch()────── job status feed
                       <──received_after(seq) / subscribe()─ Inbox (inbound faxes)
    Worker(s) ──claim──> Outbox ──> Transport ──> provider / loopback line
    webhook_app() ──> transport routes ──> Gateway (as Receiver) ──> Inbox / Outbox

Callers never import the transports or the worker; they hold a
:class:`Gateway`. The gateway imports only ``curbside``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from curbside.audit import AuditLog
from curbside.database import session_scope
from curbside.phi import FieldCipher
from fax_gateway.dispositions import Disposition, DispositionRecord, Ledger
from fax_gateway.inbound import build_webhook_app
from fax_gateway.inbox import InboundEnvelope, InboundRecord, Inbox
from fax_gateway.numbers import normalise_number
from fax_gateway.outbox import JobChange, JobView, LeaseLost, Outbox
from fax_gateway.rejections import RejectionAudit
from fax_gateway.routing import Owner, OwnerKind, Router
from fax_gateway.sandbox import DocumentSettings, Sandbox, shared_sandbox
from fax_gateway.storage import DocumentStore
from fax_gateway.timing import Clock, RateLimit, RetryPolicy
from fax_gateway.transports.base import ProviderStatus, ReceivedFax, Transport
from fax_gateway.transports.loopback import LoopbackTransport
from fax_gateway.transports.phaxio import PhaxioConfig, PhaxioTransport
from fax_gateway.worker import Renderer, Worker, render_tiff

VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PhaxioSettings(_Section):
    api_key: str = Field(min_length=1)
    api_secret: str = Field(min_length=1)
    callback_token: str = Field(min_length=1)
    callback_url: str = Field(pattern=r"^https?://")
    base_url: str = "https://api.phaxio.com/v2.1"
    request_timeout: float = Field(default=30.0, gt=0)


class RouteSettings(_Section):
    number: str
    owner_kind: OwnerKind
    owner_id: str = Field(min_length=1)

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str) -> str:
        return normalise_number(value)


class RetrySettings(_Section):
    base_seconds: float = Field(default=30.0, gt=0)
    cap_seconds: float = Field(default=1800.0, gt=0)
    deadline_hours: float = Field(default=24.0, gt=0)
    poll_seconds: float = Field(default=20.0, gt=0)


class RateLimitSettings(_Section):
    count: int = Field(default=10, ge=1)
    per_seconds: float = Field(default=60.0, gt=0)


class FaxSettings(_Section):
    """The ``fax`` section of the configuration."""

    transport: Literal["loopback", "phaxio"] = "loopback"
    station_ident: str = Field(default="Curbside", max_length=20)
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=8470, ge=1, le=65535)
    max_inbound_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    default_owner_kind: OwnerKind = OwnerKind.REFERRAL_DESK
    default_owner_id: str = "referral-desk"
    routes: tuple[RouteSettings, ...] = ()
    retry: RetrySettings = RetrySettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    #: At most this many audit rows for refused webhook calls per window.
    rejected_audit: RateLimitSettings = RateLimitSettings(count=30, per_seconds=60.0)
    phaxio: PhaxioSettings | None = None
    #: Limits for every document from outside (see fax_gateway/sandbox.py).
    documents: DocumentSettings = DocumentSettings()

    @model_validator(mode="after")
    def _phaxio_configured(self) -> FaxSettings:
        if self.transport == "phaxio" and self.phaxio is None:
            raise ValueError("transport is 'phaxio' but the phaxio section is missing")
        return self


def derive_pepper(secret: bytes) -> bytes:
    """The key for hashing fax numbers, derived from a configured secret."""
    return hmac.new(secret, b"curbside:fax-number-hash", hashlib.sha256).digest()


class Gateway:
    """Outbox, inbox and transport wired together; the Receiver for webhooks."""

    def __init__(
        self,
        outbox: Outbox,
        inbox: Inbox,
        transport: Transport,
        ledger: Ledger,
        *,
        station_ident: str,
        max_inbound_bytes: int,
        sandbox: Sandbox,
        rejections: RejectionAudit,
    ) -> None:
        self.outbox = outbox
        self.inbox = inbox
        self.ledger = ledger
        self.transport = transport
        self.station_ident = station_ident
        self.max_inbound_bytes = max_inbound_bytes
        #: The untrusted-document sandbox, for callers with a document of their
        #: own to check (the bridge's uploads, the desk's attachments).
        self.documents = sandbox
        self._rejections = rejections

    # -- for referrals, the bridge and the CLI ---------------------------------

    def submit(
        self,
        pdf: bytes,
        to_number: str,
        *,
        idempotency_key: str,
        actor: str,
        recipient_name: str | None = None,
        deadline: timedelta | None = None,
    ) -> JobView:
        """Queue a fax; submitting the same key again returns the same job."""
        return self.outbox.submit(
            pdf,
            to_number,
            idempotency_key=idempotency_key,
            actor=actor,
            caller_ident=self.station_ident,
            recipient_name=recipient_name,
            deadline=deadline,
        )

    def job(self, job_id: str) -> JobView:
        return self.outbox.get(job_id)

    def cancel(self, job_id: str, *, actor: str, reason: str = "cancelled") -> JobView:
        return self.outbox.cancel(job_id, actor=actor, reason=reason)

    def changes_after(self, seq: int, limit: int = 100) -> list[JobChange]:
        return self.outbox.changes_after(seq, limit)

    def watch(self, after: int = 0, interval: float = 1.0) -> AsyncIterator[JobChange]:
        return self.outbox.watch(after, interval)

    def received_after(self, seq: int, limit: int = 100) -> list[InboundRecord]:
        return self.inbox.received_after(seq, limit)

    def subscribe_inbound(self) -> asyncio.Queue[InboundRecord]:
        return self.inbox.subscribe()

    def unsubscribe_inbound(self, queue: asyncio.Queue[InboundRecord]) -> None:
        self.inbox.unsubscribe(queue)

    def inbound_envelope(self, inbound_id: str) -> InboundEnvelope:
        """Who sent a received fax to which number (the feed carries no numbers)."""
        return self.inbox.envelope(inbound_id)

    def inbound_document(self, inbound_id: str, *, actor: str, reason: str) -> bytes:
        """A received fax as PDF; the read is audited (it is PHI)."""
        return self.inbox.document(inbound_id, actor=actor, reason=reason)

    # -- what became of received faxes (dispositions.py) ------------------------

    def dispose(
        self, inbound_id: str, disposition: Disposition, *, actor: str, reason: str,
        session: Session | None = None,
    ) -> bool:
        """Record what became of a received fax (audited, logged by id, counted);
        False if that was recorded before. With ``session``: in the caller's transaction."""
        return self.ledger.dispose(inbound_id, disposition, actor=actor, reason=reason,
                                   session=session)

    def dispositions_after(self, seq: int, limit: int = 100) -> list[DispositionRecord]:
        """The disposition feed (e.g. faxes handed to the operator inbox), oldest first."""
        return self.ledger.after(seq, limit)

    def undisposed(self, limit: int = 100) -> list[str]:
        """Received faxes no consumer has accounted for yet."""
        return self.ledger.undisposed(limit)

    def disposition_counts(self) -> dict[Disposition, int]:
        """How many received faxes went each way."""
        return dict(self.ledger.counts())

    # -- inbound routes -----------------------------------------------------------

    def number_key(self, number: str) -> str:
        """The keyed hash that names a number in audit entries and ``fax_routes``, no PHI."""
        return self.inbox.router.number_key(number)

    def owner_of(self, number: str) -> Owner | None:
        """Who faxes received on ``number`` go to; None when nobody has it (the default)."""
        router = self.inbox.router
        with session_scope(self.outbox.engine) as session:
            owner = router.owner_of(session, number)
        return None if owner == router.default else owner

    def assign_route(
        self, number: str, owner: Owner, *, actor: str, reason: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Route ``number``'s received faxes to ``owner``, audited as ``fax.route.assign``.

        The audit entry commits first, so no route changes unrecorded; it
        names the number by :meth:`number_key`, never the number itself.
        """
        with session_scope(self.outbox.engine) as session:
            self.outbox.audit.record(
                session, actor=actor, action="fax.route.assign", record_type="fax_route",
                record_id=self.number_key(number), reason=reason, details=details,
            )
        self.inbox.router.set_route(number, owner)

    def worker(
        self,
        worker_id: str,
        *,
        renderer: Renderer = render_tiff,
        lease_for: timedelta = timedelta(minutes=10),
        batch: int = 8,
    ) -> Worker:
        return Worker(
            self.outbox,
            self.transport,
            worker_id=worker_id,
            renderer=renderer,
            lease_for=lease_for,
            batch=batch,
        )

    def webhook_app(self) -> web.Application:
        return build_webhook_app([self.transport], self, max_body=self.max_inbound_bytes)

    async def close(self) -> None:
        await self.transport.close()

    # -- Receiver ---------------------------------------------------------------

    async def fax_received(self, fax: ReceivedFax) -> bool:
        return await self.inbox.receive(fax)

    async def status_changed(
        self, transport: str, provider_id: str, status: ProviderStatus
    ) -> None:
        if transport != self.outbox.transport:
            return
        job_id = await asyncio.to_thread(self.outbox.job_for_provider, provider_id)
        if job_id is None:  # an older attempt, or not ours: nothing to change
            return
        # LeaseLost: already concluded by a poll or an earlier callback.
        with contextlib.suppress(LeaseLost):
            await asyncio.to_thread(
                self.outbox.conclude,
                job_id,
                status,
                actor=f"fax:{transport}",
                provider_id=provider_id,
            )

    async def webhook_rejected(self, transport: str, reason: str) -> None:
        suppressed = self._rejections.admit(self.outbox.clock.now())
        if suppressed is None:  # over the audit rate limit: answered, counted, not written
            return

        def record() -> None:
            with session_scope(self.outbox.engine) as session:
                self.outbox.audit.record(
                    session,
                    actor=f"webhook:{transport}",
                    action="fax.webhook.rejected",
                    record_type="fax_webhook",
                    record_id=transport,
                    reason=reason[:200],
                    details={"suppressed_before": suppressed} if suppressed else None,
                )

        await asyncio.to_thread(record)


def open_gateway(
    settings: FaxSettings,
    *,
    engine: Engine,
    cipher: FieldCipher,
    audit: AuditLog,
    pepper: bytes,
    documents_dir: Path,
    clock: Clock | None = None,
    transport: Transport | None = None,
) -> Gateway:
    """Build the gateway; ``transport`` overrides the configured one (tests)."""
    store = DocumentStore(documents_dir, cipher)
    default = Owner(settings.default_owner_kind, settings.default_owner_id)
    router = Router(engine, pepper, default)
    for route in settings.routes:
        router.set_route(route.number, Owner(route.owner_kind, route.owner_id))
    sandbox = shared_sandbox(settings.documents)
    inbox = Inbox(engine, store, audit, router, sandbox=sandbox, clock=clock)
    if transport is None:
        transport = _transport(settings, inbox, store)
    retry = settings.retry
    outbox = Outbox(
        engine,
        store,
        audit,
        transport=transport.name,
        pepper=pepper,
        sandbox=sandbox,
        clock=clock,
        policy=RetryPolicy(
            base=timedelta(seconds=retry.base_seconds),
            cap=timedelta(seconds=retry.cap_seconds),
            default_deadline=timedelta(hours=retry.deadline_hours),
            poll_interval=timedelta(seconds=retry.poll_seconds),
        ),
        rate_limit=RateLimit(
            settings.rate_limit.count, timedelta(seconds=settings.rate_limit.per_seconds)
        ),
    )
    return Gateway(
        outbox,
        inbox,
        transport,
        Ledger(engine, audit, clock=clock),
        station_ident=settings.station_ident,
        max_inbound_bytes=settings.max_inbound_bytes,
        sandbox=sandbox,
        rejections=RejectionAudit(
            RateLimit(
                settings.rejected_audit.count,
                timedelta(seconds=settings.rejected_audit.per_seconds),
            )
        ),
    )


def _transport(settings: FaxSettings, inbox: Inbox, store: DocumentStore) -> Transport:
    if settings.transport == "loopback":
        return LoopbackTransport(inbox, store)
    p = settings.phaxio
    assert p is not None  # FaxSettings refuses phaxio without its section
    return PhaxioTransport(
        PhaxioConfig(
            api_key=p.api_key,
            api_secret=p.api_secret,
            callback_token=p.callback_token,
            callback_url=p.callback_url,
            base_url=p.base_url,
            request_timeout=p.request_timeout,
        )
    )
