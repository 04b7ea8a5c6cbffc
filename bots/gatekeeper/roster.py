"""Bulk attestation: an organisation admin vouches for a list of clinicians.

``curbside verify import roster.csv`` reads rows of
``matrix_id, npi, licence_state, licence_number, checked`` ("checked" says what
the organisation verified, e.g. "HR identity check and licence on file").
Every row passes the same registry checks as ``!verify`` (valid NPI, active
individual, clinical taxonomy, the licence listed for that NPI); the name is
taken from the registry. Valid rows become credentials attested by the admin,
each audited; invalid rows are reported with the reason and change nothing.
All valid rows are written in one transaction.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bots.gatekeeper.attestation import CredentialFacts, issue_credential
from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.names import clean_credential, display_legal_name
from bots.gatekeeper.registry import classify, find_provider, validate_npi
from bots.gatekeeper.verification import find_licence, registry_refusal, short_specialty
from curbside.audit import AuditLog
from curbside.database import session_scope

ROSTER_COLUMNS = ("matrix_id", "npi", "licence_state", "licence_number", "checked")
_MATRIX_ID = re.compile(r"@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-:\[\]]+")


# Given the roster's Matrix ids, the ones that have an account on the homeserver.
AccountCheck = Callable[[list[str]], Collection[str]]


class RosterFormatError(ValueError):
    """The file is not a roster (a needed column is missing)."""


@dataclass(frozen=True, slots=True)
class RosterRejection:
    line: int
    matrix_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class RosterResult:
    imported: int
    rejections: tuple[RosterRejection, ...]


def _check_row(session: Session, row: dict[str, str]) -> CredentialFacts | str:
    """The credential a row attests, or why it cannot be accepted."""
    matrix_id = row["matrix_id"].strip()
    if not _MATRIX_ID.fullmatch(matrix_id):
        return f"{matrix_id!r} is not a Matrix ID like @dana:example.org"
    if not row["checked"].strip():
        return "the 'checked' column must say what the organisation verified"
    npi = validate_npi(row["npi"])
    if not npi.ok:
        return npi.reason
    provider = find_provider(session, npi.npi)
    refusal = registry_refusal(npi.npi, provider)
    if refusal is not None or provider is None:
        return refusal or ""
    state = row["licence_state"].strip().upper()
    licence = find_licence(provider, state, row["licence_number"])
    if licence is None:
        return f"no {state} licence with that number is listed for NPI {npi.npi}"
    if not licence.clinical:
        return f"the {state} licence is under a non-clinical taxonomy: " + classify(
            licence.taxonomy_code
        ).reason
    return CredentialFacts(
        user_id=matrix_id,
        npi=npi.npi,
        legal_name=display_legal_name(provider.first_name, provider.last_name),
        credential_text=clean_credential(provider.credential),
        specialty=short_specialty(licence),
        taxonomy_code=licence.taxonomy_code,
        licence_state=state,
        licence_number=licence.licence_number or "",
    )


def import_roster(
    engine: Engine,
    path: str | os.PathLike[str],
    attested_by: str,
    *,
    audit: AuditLog,
    config: GatekeeperConfig | None = None,
    now: datetime | None = None,
    accounts: AccountCheck | None = None,
) -> RosterResult:
    """Validate every row against the registry, then issue credentials for the valid ones.

    ``accounts`` (the CLI asks the homeserver) says which Matrix ids of this
    server exist; a row naming one that does not is refused, so no NPI is
    bound to an account nobody can log in to.
    """
    if not attested_by.strip():
        raise ValueError("attested_by must name the admin who attests the roster")
    config = config or GatekeeperConfig()
    now = now or datetime.now(UTC)
    with open(path, encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        missing = [c for c in ROSTER_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise RosterFormatError(
                f"not a roster: no {missing[0]!r} column (need {', '.join(ROSTER_COLUMNS)})"
            )
        rows = [(line, {c: (r.get(c) or "") for c in ROSTER_COLUMNS})
                for line, r in enumerate(reader, start=2)]
    rejections: list[RosterRejection] = []
    seen: set[str] = set()
    ids = [row["matrix_id"].strip() for _line, row in rows]
    existing = set(accounts(ids)) if accounts is not None else None
    with session_scope(engine) as session:
        accepted: list[tuple[CredentialFacts, str]] = []
        for line, row in rows:
            checked = _check_row(session, row)
            matrix_id = row["matrix_id"].strip()
            if isinstance(checked, str):
                rejections.append(RosterRejection(line, matrix_id, checked))
            elif checked.user_id in seen:
                rejections.append(RosterRejection(line, matrix_id, "listed twice in the roster"))
            elif existing is not None and checked.user_id not in existing:
                rejections.append(RosterRejection(
                    line, matrix_id, f"no account {matrix_id} exists on the homeserver; create "
                    "it first (`curbside user add`) or correct the Matrix ID"))
            else:
                seen.add(checked.user_id)
                accepted.append((checked, row["checked"].strip()))
        for facts, what in accepted:
            issue_credential(
                session, audit, facts, verified_by=attested_by,
                checked=f"roster import: {what}", now=now, days=config.credential_days,
                action="credential.roster_import",
            )
    return RosterResult(len(accepted), tuple(rejections))
