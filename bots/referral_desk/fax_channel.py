"""Delivering a referral packet by fax, through the fax gateway's durable outbox.

    deliver(packet, recipient, key) ──Gateway.submit(pdf, number, idempotency_key=key)──>
        job queued: receipt "accepted", provider_ref = the fax job id
        (the same key returns the same job: a repeated delivery faxes once)
    Gateway.watch(after=cursor) ──> terminal job change ──> outcome_of(change)
        delivered ──> receipt "delivered"        (the desk records and posts it)
        failed / cancelled ──> receipt "failed" with the gateway's reason

The gateway owns retries, the deadline and the T.30 line; the desk only
hands over the sealed packet and listens for the verdict.
"""

from __future__ import annotations

import asyncio

from fax_gateway import Gateway, JobChange, JobState
from referral.delivery import DeliveryReceipt, DeliveryStatus, Recipient
from referral.documents.packet import Packet


def outcome_of(state: JobState, job_id: str, reason: str | None) -> DeliveryReceipt:
    """A fax job's state as a delivery receipt (non-terminal states are 'accepted')."""
    if state is JobState.DELIVERED:
        return DeliveryReceipt(DeliveryStatus.DELIVERED, provider_ref=job_id)
    if state in (JobState.FAILED, JobState.CANCELLED):
        detail = reason or f"the fax was {state.value}"
        return DeliveryReceipt(DeliveryStatus.FAILED, provider_ref=job_id, detail=detail)
    return DeliveryReceipt(DeliveryStatus.ACCEPTED, provider_ref=job_id)


def change_outcome(change: JobChange) -> DeliveryReceipt | None:
    """The receipt a feed entry means, or None while the job is still under way."""
    if not change.state.terminal:
        return None
    return outcome_of(change.state, change.job_id, change.reason)


class FaxChannel:
    """A :class:`referral.delivery.DeliveryChannel` over :class:`Gateway`."""

    name = "fax"

    def __init__(self, gateway: Gateway, actor: str) -> None:
        self._gateway = gateway
        self._actor = actor

    async def deliver(
        self, packet: Packet, recipient: Recipient, idempotency_key: str
    ) -> DeliveryReceipt:
        # submit() is synchronous database work; keep it off the event loop.
        view = await asyncio.to_thread(
            self._gateway.submit,
            packet.data,
            recipient.address,
            idempotency_key=idempotency_key,
            actor=self._actor,
            recipient_name=recipient.name or None,
        )
        return outcome_of(view.state, view.id, view.failure_reason)
