"""Escalating referrals nobody answered: to the referrer and the coordinators.

    every escalation_interval:  run_escalations(session, now, config, post)
        referrals still "requested" (neither accepted nor declined)
          └─ level n is due at  submitted + n * delay(urgency)
               routine: business days on the desk's calendar (time zone,
                        hours, US federal and configured holidays)
               urgent / stat: wall-clock time
          └─ a due level with no row in referral_desk_escalations:
               row added + one notice to the referrer's thread and the
               coordinator room, in the same transaction

The unique (referral, level) row makes a repeat run, a second desk process or
a restart send nothing twice. Notices carry the referral id, urgency,
recipient and waiting time — no patient data — so the coordinator room need
not be a PHI room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.referral_desk.config import ReferralDeskConfig
from bots.referral_desk.models import DeskEscalation
from referral.models import ReferralCase, as_utc
from referral.states import Status


def add_business_days(start: datetime, days: int, config: ReferralDeskConfig) -> datetime:
    """The same business time of day, ``days`` business days later, on the desk's calendar.

    A referral sent after hours counts from the next opening: sent Friday
    18:00, two business days end Tuesday at opening time.
    """
    return config.calendar.add_business_days(start, days)


def due_at(submitted: datetime, urgency: str, level: int, config: ReferralDeskConfig) -> datetime:
    """When escalation ``level`` (1, 2, …) of an unanswered referral falls due."""
    if urgency == "stat":
        return submitted + level * config.stat_after
    if urgency == "urgent":
        return submitted + level * config.urgent_after
    return add_business_days(submitted, level * config.routine_business_days, config)


@dataclass(frozen=True, slots=True)
class Escalation:
    referral_id: str
    level: int
    urgency: str
    recipient_name: str
    referrer_user_id: str
    submitted_at: datetime
    due_at: datetime

    def text(self, now: datetime) -> str:
        waited = now - self.submitted_at
        hours = int(waited.total_seconds() // 3600)
        minutes = int(waited.total_seconds() % 3600 // 60)
        return (
            f"Escalation (level {self.level}): {self.urgency} referral {self.referral_id} to "
            f"{self.recipient_name} has not been accepted or declined after {hours} h "
            f"{minutes:02d} min. Please contact the recipient; !status {self.referral_id} "
            "shows its history."
        )


def due_escalations(
    session: Session, now: datetime, config: ReferralDeskConfig
) -> list[Escalation]:
    """Escalations that are due and were not sent yet, oldest referral first."""
    cases = session.scalars(
        select(ReferralCase)
        .where(ReferralCase.status == Status.REQUESTED.value)
        .order_by(ReferralCase.submitted_at)
    ).all()
    sent = {
        (row.referral_id, row.level)
        for row in session.scalars(
            select(DeskEscalation).where(DeskEscalation.referral_id.in_([c.id for c in cases]))
        )
    }
    found: list[Escalation] = []
    for case in cases:
        if case.submitted_at is None:
            continue
        submitted = as_utc(case.submitted_at)
        for level in range(1, config.escalation_levels + 1):
            when = due_at(submitted, case.urgency, level, config)
            if when > now:
                break
            if (case.id, level) not in sent:
                found.append(Escalation(case.id, level, case.urgency, case.recipient_name,
                                        case.referrer_user_id, submitted, when))
    return found


Post = Callable[[Session, Escalation, str], None]


def run_escalations(
    session: Session, now: datetime, config: ReferralDeskConfig, post: Post
) -> list[Escalation]:
    """Record and post every due escalation; returns what was escalated."""
    due = due_escalations(session, now, config)
    for escalation in due:
        session.add(
            DeskEscalation(referral_id=escalation.referral_id, level=escalation.level,
                           due_at=escalation.due_at, sent_at=now)
        )
        post(session, escalation, escalation.text(now))
    session.flush()
    return due
