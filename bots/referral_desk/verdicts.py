"""Telling both sides what a delivery verdict means.

    a verdict on an attempt ─► record (in the caller's transaction)
        referral/delivery.deliver_pending, after handing a packet to its channel
        the Matrix outbox sent the packet (the packet-sent hook)
        the fax gateway's job feed reports delivered / failed
    accepted (fax) ─► "queued at the fax gateway"   failed ─► referral failed, referrer told
    delivered ─► referrer told; over Matrix, the recipient's thread opens with what to do

``record`` posts only for a verdict that changed the attempt: a repeated or
late verdict (a feed read again after a restart) is recorded and says nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bots.referral_desk import conversations
from bots.referral_desk.matrix_channel import parse_provider_ref
from bots.referral_desk.models import RECIPIENT, REFERRER
from bots.referral_desk.posts import PartyThreads
from referral.cases import ReferralEnv, get_referral, transition
from referral.delivery import DeliveryReceipt, DeliveryStatus, record_delivery_outcome
from referral.models import DeliveryAttempt, ReferralCase
from referral.states import Side, Status
from referral.validation import RecipientKind


class DeliveryVerdicts:
    """Records every verdict on a delivery attempt and tells both sides what changed."""

    def __init__(self, env: ReferralEnv, threads: PartyThreads, *, actor: str) -> None:
        self.env = env
        self.threads = threads
        self.actor = actor

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
