"""Getting sent referrals' packets to their recipients, and telling both sides.

    pending delivery attempts (after !send, and whatever a crash left) ─► deliver_pending
        prepare_delivery (txn) ─► channel.deliver (the only I/O) ─► record (txn)
        the homeserver unreachable (ChannelUnavailable) ─► the attempt stays pending and
        DeliveryDeferred asks the supervisor to run the courier again soon
        a refusal (no room, not encrypted, gateway refused) ─► failed, referrer told
    later verdicts — the Matrix outbox sent the packet, the fax gateway's job
    feed reports delivered/failed ─► record(session, key, receipt)

``record`` posts only for a verdict that changed the attempt: a repeated or
late verdict (a feed read again after a restart) is recorded and says nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bots.referral_desk import conversations
from bots.referral_desk.matrix_channel import parse_provider_ref
from bots.referral_desk.models import RECIPIENT, REFERRER
from bots.referral_desk.posts import PartyThreads
from curbside.database import session_scope
from referral.cases import ReferralEnv, get_referral, transition
from referral.delivery import (
    ChannelUnavailable,
    DeliveryChannel,
    DeliveryReceipt,
    DeliveryStatus,
    deliver,
    pending_attempts,
    prepare_delivery,
    record_delivery_outcome,
)
from referral.models import DeliveryAttempt, ReferralCase
from referral.states import Side, Status
from referral.validation import RecipientKind

log = logging.getLogger(__name__)


class DeliveryDeferred(RuntimeError):
    """Some deliveries could not reach their channel now; they stay pending."""


class Courier:
    """Delivers pending attempts through their channels and records every verdict."""

    def __init__(self, env: ReferralEnv, channels: Mapping[str, DeliveryChannel],
                 threads: PartyThreads, *, actor: str) -> None:
        self.env = env
        self.channels = channels
        self.threads = threads
        self.actor = actor

    async def deliver_pending(self, engine: Engine) -> None:
        """One pass over every pending attempt; raises DeliveryDeferred if any must wait."""
        with session_scope(engine) as session:
            pending = pending_attempts(session)
        deferred = 0
        for referral_id, channel_name in pending:
            channel = self.channels.get(channel_name)
            if channel is None:
                continue
            with session_scope(engine) as session:
                job = prepare_delivery(session, self.env, referral_id, channel=channel_name,
                                       actor=self.actor)
            try:
                receipt = await deliver(channel, job)
            except ChannelUnavailable as exc:
                log.warning("delivering %s must wait: %s", referral_id, exc)
                deferred += 1
                continue
            with session_scope(engine) as session:
                self.record(session, job.idempotency_key, receipt)
        if deferred:
            raise DeliveryDeferred(f"{deferred} deliveries wait for their channel")

    def record(self, session: Session, key: str, receipt: DeliveryReceipt) -> None:
        """Record a channel's verdict on the attempt and tell both sides what changed."""
        outcome = record_delivery_outcome(session, self.env, key, receipt, actor=self.actor)
        if not outcome.new:
            return  # a late or repeated verdict: already told
        attempt = outcome.attempt
        case = get_referral(session, attempt.referral_id)
        if receipt.status is DeliveryStatus.ACCEPTED:
            if attempt.channel == "fax":
                self.threads.say(session, case.id, REFERRER,
                                 f"{case.id} is queued at the fax gateway for "
                                 f"{case.recipient_name}.")
        elif receipt.status is DeliveryStatus.FAILED:
            detail = receipt.detail or "no reason given"
            if case.state is Status.REQUESTED:
                transition(session, self.env, case.id, to=Status.FAILED, side=Side.SYSTEM,
                           actor=self.actor, reason=detail)
            self.threads.say(session, case.id, REFERRER,
                             f"{case.id} could not be delivered to {case.recipient_name}: "
                             f"{detail}. "
                             + (f"!resend {case.id} faxes it again, or start a new referral "
                                "to try another way." if attempt.channel == "fax"
                                else "Start a new referral to try another way."))
        else:
            self._delivered(session, case, attempt)

    def _delivered(self, session: Session, case: ReferralCase, attempt: DeliveryAttempt) -> None:
        way = "by fax" if attempt.channel == "fax" else "over Matrix"
        self.threads.say(session, case.id, REFERRER,
                         f"{case.id} was delivered to {case.recipient_name} {way}.")
        if attempt.channel != "matrix" or attempt.provider_ref is None:
            return
        room_id, event_id = parse_provider_ref(attempt.provider_ref)
        conversations.remember_thread(session, case.id, RECIPIENT, room_id, event_id)
        post = self.threads.poster.post
        post(session, room_id, f"New {case.urgency} referral {case.id} from {case.referrer_name} "
                         f"({case.referring_org_name}); the packet is the PDF above. "
                         f"!accept {case.id}, or !decline {case.id} <reason>. Then !schedule "
                         f"{case.id} YYYY-MM-DD, and drop the consult note into this thread "
                         f"(or !note {case.id} <text>) to close the loop.", thread=event_id)
        if case.kind is RecipientKind.MATRIX_USER:
            recipient = case.recipient_address
            post(session, room_id, f"{recipient}: you have a new referral.",
                 thread=event_id, mentions=[recipient])
