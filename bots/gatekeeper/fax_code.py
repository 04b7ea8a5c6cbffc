"""Verification by fax: a one-time code faxed to the NPI's practice fax in NPPES.

    !faxcode ─► an open request whose NPI matched ─► the practice fax NPPES lists
             (read as a US number by curbside/phones.py) ─► limits: codes sent in the
             last day, per NPI and per account ─► a code row holding only a keyed hash
             ─► after the commit: the cover page (what it is, what to do if received
             in error) ─► Gateway.submit, keyed by the code row (one fax per code)
    !code 123456 ─► the request's newest code: used, expired or out of tries? refused
             ─► compared in constant time ─► used once; a wrong code costs a try
             ─► request.faxed_code_confirmed_at ─► "code faxed to the NPPES practice fax and
                confirmed" beside the evidence the verifiers see

The code proves the clinician can read what arrives at the fax number the
public registry lists for the NPI — possession of the practice's line,
which a stranger who knows a doctor's NPI and name does not have. It is
never logged and never stored: only HMAC(key, code row, code), the key
derived from the audit secret, so a database reader cannot test the million
candidates offline. Registry data (NPI, practice fax) is public, not PHI.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from bots.gatekeeper.models import FaxCode, VerificationRequest
from curbside.phones import PhoneNumberError, parse

CODE_DIGITS = 6
EVIDENCE = "code faxed to the NPPES practice fax and confirmed"


@dataclass(frozen=True, slots=True)
class FaxCodeLimits:
    """How long a code lives, how many a day an NPI and an account may be sent, and
    how many wrong tries a code takes."""

    lifetime: timedelta = timedelta(minutes=15)
    per_npi_per_day: int = 3
    per_account_per_day: int = 3
    tries: int = 5


@dataclass(frozen=True, slots=True)
class CodeFax:
    """A code to fax once the transaction that recorded it commits (holds the code)."""

    code_id: int
    number: str
    pdf: bytes

    @property
    def idempotency_key(self) -> str:
        return f"gatekeeper:fax-code:{self.code_id}"


class FaxCodeRefused(Exception):
    """No code is sent or accepted; the message says why, for the clinician."""


def derive_code_key(secret: bytes) -> bytes:
    """The key that hashes fax codes, from a configured secret."""
    return hmac.new(secret, b"curbside:verification-fax-code", hashlib.sha256).digest()


def _digest(key: bytes, code_id: int, code: str) -> str:
    return hmac.new(key, f"{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


def practice_fax(raw: str | None) -> str:
    """The NPPES practice fax as E.164, or why it cannot be used."""
    if not raw:
        raise FaxCodeRefused("NPPES lists no practice fax number for your NPI, so I cannot "
                             "fax you a code. A verifier confirms your identity instead.")
    try:
        return parse(raw, what="practice fax number")
    except PhoneNumberError:
        raise FaxCodeRefused("The practice fax number NPPES lists for your NPI cannot be "
                             "dialled, so I cannot fax you a code. Update it at NPPES, or "
                             "let a verifier confirm your identity.") from None


def cover_pdf(code: str, npi: str, minutes: int) -> bytes:
    """One page: the code, what it is for, and what to do if it reached the wrong office."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=letter, invariant=True)
    height = letter[1]
    page.setFont("Helvetica-Bold", 20)
    page.drawString(72, height - 96, "Curbside verification code")
    page.setFont("Helvetica", 13)
    lines = [
        f"A clinician is verifying NPI {npi} on Curbside, a messaging network for",
        "clinicians. To prove they work at this practice, they asked us to fax a",
        "code to the practice fax number the national registry (NPPES) lists.",
        "",
        f"Their code (valid for {minutes} minutes, usable once):",
    ]
    for number, line in enumerate(lines):
        page.drawString(72, height - 140 - 20 * number, line)
    page.setFont("Courier-Bold", 40)
    page.drawString(72, height - 290, code)
    page.setFont("Helvetica", 13)
    tail = [
        "Received in error? If nobody at this practice asked for it, do not pass the",
        "code on: destroy this page. Nobody can use it without the code, and it expires",
        "by itself. Nothing about any patient is on this page.",
    ]
    for number, line in enumerate(tail):
        page.drawString(72, height - 350 - 20 * number, line)
    page.showPage()
    page.save()
    return buffer.getvalue()


def _sent_since(session: Session, column: InstrumentedAttribute[str], value: str,
                since: datetime) -> int:
    return int(session.scalar(
        select(func.count()).select_from(FaxCode)
        .where(column == value, FaxCode.created_at >= since)) or 0)


def issue(session: Session, request: VerificationRequest, raw_fax: str | None, *,
          key: bytes, limits: FaxCodeLimits, now: datetime) -> CodeFax:
    """Record a new code for ``request`` and return the fax to send after the commit."""
    if not request.npi:
        raise FaxCodeRefused("First tell me your NPI: the code goes to the fax number "
                             "NPPES lists for it.")
    number = practice_fax(raw_fax)
    since = now - timedelta(days=1)
    if _sent_since(session, FaxCode.npi, request.npi, since) >= limits.per_npi_per_day or \
            _sent_since(session, FaxCode.user_id, request.user_id, since) \
            >= limits.per_account_per_day:
        raise FaxCodeRefused("I have faxed as many codes as I may for this NPI or this "
                             "account today. Use the last one, or try again tomorrow; a "
                             "verifier can also confirm your identity.")
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    row = FaxCode(request_id=request.id, user_id=request.user_id, npi=request.npi,
                  code_hash="", wrong_tries=0, created_at=now,
                  expires_at=now + limits.lifetime)
    session.add(row)
    session.flush()
    row.code_hash = _digest(key, row.id, code)
    minutes = int(limits.lifetime.total_seconds() // 60)
    return CodeFax(row.id, number, cover_pdf(code, request.npi, minutes))


def confirm(session: Session, request: VerificationRequest, typed: str, *, key: bytes,
            limits: FaxCodeLimits, now: datetime) -> str | None:
    """Accept the code typed back, once (None); or what is wrong with it.

    Raises :class:`FaxCodeRefused` when there is no live code to try. A wrong
    code is an answer, not a refusal: the try it cost is written with it.
    """
    row = session.scalars(select(FaxCode).where(FaxCode.request_id == request.id)
                          .order_by(FaxCode.id.desc())).first()
    if row is None:
        raise FaxCodeRefused("I have not faxed you a code; !faxcode sends one.")
    if row.used_at is not None:
        raise FaxCodeRefused("That code was already used; !faxcode sends a new one.")
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if now >= expires:
        raise FaxCodeRefused("That code has expired; !faxcode sends a new one.")
    if row.wrong_tries >= limits.tries:
        raise FaxCodeRefused("Too many wrong codes; this one no longer works. !faxcode "
                             "sends a new one.")
    if not hmac.compare_digest(row.code_hash, _digest(key, row.id, typed.strip())):
        row.wrong_tries += 1
        left = limits.tries - row.wrong_tries
        return "That is not the code I faxed. " + (
            f"{left} tries left." if left else "This code no longer works; !faxcode sends "
            "a new one.")
    row.used_at = now
    request.faxed_code_confirmed_at = now
    return None


def sent(session: Session, code_id: int, gateway_job_id: str) -> None:
    """Remember which fax job carried a code (for the audit trail; not the code)."""
    row = session.get(FaxCode, code_id)
    if row is not None:
        row.gateway_job_id = gateway_job_id
