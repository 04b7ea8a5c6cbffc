"""Escalation of unanswered referrals: business days, urgency, once per level."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bots.referral_desk.bot import ReferralDeskBot
from bots.referral_desk.config import ReferralDeskConfig
from bots.referral_desk.escalation import Escalation, add_business_days, run_escalations
from bots.referral_desk.models import DeskEscalation
from curbside.database import KERNEL_VERSIONS, make_engine, migrate, session_scope
from curbside.phi import decode_master_key, install_cipher, load_cipher, new_master_key
from referral import MIGRATIONS
from referral.cases import ReferralEnv, create_referral, transition
from referral.states import Side, Status
from tests.referral.db_support import REFERRER, credential, fax_request

CONFIG = ReferralDeskConfig(timezone="America/New_York")
FRIDAY_3PM = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)  # 15:00 in New York


def test_two_business_days_skip_the_weekend() -> None:
    assert add_business_days(FRIDAY_3PM, 2, CONFIG) == datetime(2026, 11, 24, 20, 0, tzinfo=UTC)


def test_after_hours_counts_from_the_next_opening() -> None:
    friday_7pm = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
    # Monday 08:00 New York (13:00 UTC) is the start; two business days later is Wednesday.
    assert add_business_days(friday_7pm, 2, CONFIG) == datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


def test_federal_and_configured_holidays_are_not_business_days() -> None:
    wednesday_3pm = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    # Thanksgiving (Thursday 26th) is skipped: Friday and Monday are the two days.
    assert add_business_days(wednesday_3pm, 2, CONFIG) == datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    closed_monday = ReferralDeskConfig(extra_holidays=(date(2026, 11, 30),))
    assert add_business_days(wednesday_3pm, 2, closed_monday) == datetime(
        2026, 12, 1, 20, 0, tzinfo=UTC
    )


def test_an_unusable_calendar_is_refused_at_configuration() -> None:
    with pytest.raises(ValueError, match="no public holidays"):
        ReferralDeskConfig(holiday_country="ZZ")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    locations = ReferralDeskBot.version_locations()
    assert MIGRATIONS in locations and KERNEL_VERSIONS in locations
    migrate(engine, locations)
    install_cipher(load_cipher(engine, decode_master_key(new_master_key())))
    with session_scope(engine) as session:
        session.add(credential(REFERRER, "Dana Whitfield", "1234567893", "Family Medicine"))
    yield engine
    engine.dispose()


def sent(engine: Engine, urgency: str, at: datetime) -> str:
    env = ReferralEnv.from_secrets(audit_key=b"k" * 32, master_key=b"m" * 32)
    env = ReferralEnv(env.audit, env.index_key, clock=lambda: at)
    with session_scope(engine) as session:
        case = create_referral(session, env, fax_request(urgency=urgency), referrer=REFERRER)
        transition(session, env, case.id, to=Status.REQUESTED, side=Side.REFERRER,
                   actor=REFERRER)
        return case.id


def escalate(engine: Engine, now: datetime) -> list[tuple[str, int]]:
    posted: list[tuple[str, int]] = []

    def post(_session: Session, escalation: Escalation, text: str) -> None:
        assert escalation.referral_id in text and "Maria" not in text  # no patient data
        posted.append((escalation.referral_id, escalation.level))

    with session_scope(engine) as session:
        run_escalations(session, now, CONFIG, post)
    return posted


def test_each_level_escalates_once_at_its_time(engine: Engine) -> None:
    routine = sent(engine, "routine", FRIDAY_3PM)
    stat = sent(engine, "stat", FRIDAY_3PM)

    assert escalate(engine, FRIDAY_3PM + timedelta(minutes=29)) == []
    assert escalate(engine, FRIDAY_3PM + timedelta(minutes=30)) == [(stat, 1)]
    assert escalate(engine, FRIDAY_3PM + timedelta(minutes=45)) == []
    assert escalate(engine, FRIDAY_3PM + timedelta(hours=2)) == [(stat, 2)]
    monday = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    assert escalate(engine, monday) == []  # one business day is not two
    tuesday = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    assert escalate(engine, tuesday) == [(routine, 1)]
    assert escalate(engine, tuesday) == []
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(DeskEscalation)) == 3


def test_an_answered_referral_does_not_escalate(engine: Engine) -> None:
    urgent = sent(engine, "urgent", FRIDAY_3PM)
    env = ReferralEnv.from_secrets(audit_key=b"k" * 32, master_key=b"m" * 32)
    with session_scope(engine) as session:
        transition(session, env, urgent, to=Status.CANCELLED, side=Side.REFERRER,
                   actor=REFERRER, reason="patient moved away")

    assert escalate(engine, FRIDAY_3PM + timedelta(days=7)) == []
