"""Verification codes faxed to the NPPES practice fax: kept hashed, expiring,
single-use, limited per NPI and per account (both database backends)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine, select

from bots.gatekeeper import fax_code
from bots.gatekeeper.fax_code import FaxCodeLimits, FaxCodeRefused
from bots.gatekeeper.models import FaxCode, VerificationRequest
from bots.gatekeeper.registry import find_provider
from curbside.database import session_scope
from tests.gatekeeper.registry_data import DANA, FRAN

KEY = fax_code.derive_code_key(b"test-secret")
LIMITS = FaxCodeLimits(lifetime=timedelta(minutes=15), per_npi_per_day=2,
                       per_account_per_day=2, tries=3)
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _request(session, user_id: str, npi: str) -> VerificationRequest:  # type: ignore[no-untyped-def]
    request = VerificationRequest(user_id=user_id, room_id="!dm:test", state="awaiting_name",
                                  attempts=0, npi=npi, created_at=NOW, updated_at=NOW)
    session.add(request)
    session.flush()
    return request


def _code_on(fax: fax_code.CodeFax) -> str:
    """The code as printed (the PDF before faxing has a text layer)."""
    text = PdfReader(io.BytesIO(fax.pdf)).pages[0].extract_text()
    return re.search(r"^(\d{6})$", text, re.M).group(1)  # type: ignore[union-attr]


def test_the_registry_keeps_the_practice_fax(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert find_provider(session, FRAN).practice_fax == "3125550142"  # type: ignore[union-attr]
        assert find_provider(session, DANA).practice_fax is None  # type: ignore[union-attr]


def test_a_code_is_stored_hashed_and_works_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        request = _request(session, "@fran:test", FRAN)
        fax = fax_code.issue(session, request, "3125550142", key=KEY, limits=LIMITS, now=NOW)
        code = _code_on(fax)
        assert fax.number == "+13125550142"
        stored = session.scalars(select(FaxCode)).one()
        assert code not in stored.code_hash and len(stored.code_hash) == 64
        text = PdfReader(io.BytesIO(fax.pdf)).pages[0].extract_text()
        assert "Received in error?" in text and f"NPI {FRAN}" in text

        wrong = "000000" if code != "000000" else "111111"
        assert fax_code.confirm(session, request, wrong, key=KEY, limits=LIMITS,
                                now=NOW) == "That is not the code I faxed. 2 tries left."
        assert fax_code.confirm(session, request, code, key=KEY, limits=LIMITS,
                                now=NOW + timedelta(minutes=1)) is None
        assert request.faxed_code_confirmed_at is not None
        with pytest.raises(FaxCodeRefused, match="already used"):
            fax_code.confirm(session, request, code, key=KEY, limits=LIMITS, now=NOW)


def test_a_code_expires_and_wrong_tries_burn_it(engine: Engine) -> None:
    with session_scope(engine) as session:
        request = _request(session, "@fran:test", FRAN)
        code = _code_on(fax_code.issue(session, request, "3125550142", key=KEY,
                                       limits=LIMITS, now=NOW))
        with pytest.raises(FaxCodeRefused, match="expired"):
            fax_code.confirm(session, request, code, key=KEY, limits=LIMITS,
                             now=NOW + timedelta(minutes=15))
        later = NOW + timedelta(hours=1)
        code = _code_on(fax_code.issue(session, request, "3125550142", key=KEY,
                                       limits=LIMITS, now=later))
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(LIMITS.tries):
            assert fax_code.confirm(session, request, wrong, key=KEY, limits=LIMITS,
                                    now=later) is not None
        with pytest.raises(FaxCodeRefused, match="Too many wrong codes"):
            fax_code.confirm(session, request, code, key=KEY, limits=LIMITS, now=later)


def test_codes_are_limited_per_npi_and_per_account(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = _request(session, "@fran:test", FRAN)
        for minute in range(LIMITS.per_npi_per_day):
            fax_code.issue(session, first, "3125550142", key=KEY, limits=LIMITS,
                           now=NOW + timedelta(minutes=minute))
        other_account = _request(session, "@someone-else:test", FRAN)
        with pytest.raises(FaxCodeRefused, match="as many codes as I may"):
            fax_code.issue(session, other_account, "3125550142", key=KEY, limits=LIMITS,
                           now=NOW + timedelta(minutes=5))
        other_npi = _request(session, "@fran:test", DANA)
        with pytest.raises(FaxCodeRefused, match="as many codes as I may"):
            fax_code.issue(session, other_npi, "3125550142", key=KEY, limits=LIMITS,
                           now=NOW + timedelta(minutes=5))
        # A day later the limits have passed.
        fax_code.issue(session, other_account, "3125550142", key=KEY, limits=LIMITS,
                       now=NOW + timedelta(days=1, minutes=1))


def test_no_usable_practice_fax_is_said(engine: Engine) -> None:
    with session_scope(engine) as session:
        request = _request(session, "@dana:test", DANA)
        with pytest.raises(FaxCodeRefused, match="lists no practice fax"):
            fax_code.issue(session, request, None, key=KEY, limits=LIMITS, now=NOW)
        with pytest.raises(FaxCodeRefused, match="cannot be dialled"):
            fax_code.issue(session, request, "12", key=KEY, limits=LIMITS, now=NOW)
