"""A migrated database (both backends) with the PHI cipher and two verified clinicians."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from curbside.credentials import VerifiedRoom
from curbside.database import make_engine, migrate, session_scope
from curbside.phi import decode_master_key, install_cipher, load_cipher, new_master_key
from fax_gateway import shared_sandbox
from referral import MIGRATIONS
from referral.cases import ReferralEnv
from tests.referral.db_support import (
    CARDIOLOGIST,
    NOW,
    PRACTICE_ROOM,
    REFERRER,
    ReferralDb,
    credential,
)


@pytest.fixture
def referral_db(db_url: str) -> Iterator[ReferralDb]:
    engine = make_engine(db_url)
    migrate(engine, [MIGRATIONS])
    master = decode_master_key(new_master_key())
    install_cipher(load_cipher(engine, master))
    with session_scope(engine) as session:
        session.add(credential(REFERRER, "Dana Whitfield", "1234567893", "Family Medicine"))
        session.add(credential(CARDIOLOGIST, "Ravi Okafor", "1987654321", "Cardiology"))
        session.add(VerifiedRoom(room_id=PRACTICE_ROOM, created_by="@gk:x", created_at=NOW))
    env = ReferralEnv.from_secrets(audit_key=b"k" * 32, master_key=master)
    documents = functools.partial(shared_sandbox().inspect, kinds=("pdf", "png", "jpeg"))
    yield ReferralDb(
        engine, ReferralEnv(env.audit, env.index_key, clock=lambda: NOW, documents=documents),
        master,
    )
    engine.dispose()
