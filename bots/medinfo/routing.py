"""Where a request goes and what each side sees.

    product ─► sponsor ─► team (therapeutic area and clinician's region) ─► MSL room
            ─► thread root: the request as the sponsor receives it
               (requester as a verified credential; name and NPI only with consent)

The texts built here are the only ones that reach sponsor rooms; each is made
from firewall-cleared text and credential facts, never from raw input. The
pharmacovigilance intake carries the four minimum criteria as fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bots.medinfo.intake import RESPONSES, Choice, Draft
from bots.medinfo.sponsors import Sponsor, Team
from curbside.credentials import Credential
from screening import adverse_events, decision, identifiers


class NoTeamError(LookupError):
    """The sponsor has no team for this product's area and the clinician's region."""


def team_for(sponsor: Sponsor, product: Choice, region: str) -> Team:
    for team in sponsor.teams:
        if team.covers(product.therapeutic_area, region):
            return team
    raise NoTeamError(f"{sponsor.name} has no team for {product.therapeutic_area} in {region}")


def requester(credential: Credential, *, share_identity: bool) -> str:
    """How the sponsor sees the clinician: a verified credential, identity only on consent."""
    if share_identity:
        return (f"{credential.display_name} (NPI {credential.npi}), "
                f"licensed in {credential.licence_state}")
    # 'a verified Internal Medicine clinician in MA': the specialty name as NUCC
    # writes it (never a code), or just 'clinician' when the credential has none.
    who = f"{credential.specialty} clinician" if credential.specialty else "clinician"
    return f"a verified {who} in {credential.licence_state}"


def request_text(reference: str, draft: Draft, who: str) -> str:
    """The thread root in the MSL room — exactly what the clinician confirmed."""
    assert draft.product is not None and draft.urgency is not None and draft.response
    return (
        f"Medical information request {reference}\n"
        f"Product: {draft.product.brand} ({draft.product.generic})\n"
        f"From: {who}\n"
        f"Priority: {draft.urgency} · Preferred response: {RESPONSES[draft.response]}\n"
        f"Consent to be contacted by the medical team: yes\n"
        f"Question (verbatim): {draft.question}\n"
        "Claim with !claim (or react to this message), answer in this thread, "
        "finish with !close <outcome>."
    )


_NAME_TITLE = re.compile(r"^(?:Mr|Mrs|Ms|Miss|Mx)\.?\s+")


def patient_initials(text: str) -> str | None:
    """Initials of the patient named in ``text`` (the only name form PV may receive)."""
    for finding in identifiers.find(text):
        if finding.kind == "name":
            name = _NAME_TITLE.sub("", text[finding.start:finding.end])
            return "".join(f"{part[0]}." for part in name.split() if part[:1].isupper())
    return None


REACHABLE = "reachable through the medical-information desk"


def reporter(credential: Credential, *, share_identity: bool, contact_consent: bool) -> str:
    """The reporter as PV sees them: always reachable, named only with the clinician's consent.

    Declined: "a verified Cardiovascular Disease clinician in MA, reachable through the
    medical-information desk" — never a name, NPI or Matrix id; PV asks through
    the bot (``!followup``). Shared: name and NPI, and the Matrix id only when
    the clinician also consented to be contacted.
    """
    who = f"{requester(credential, share_identity=share_identity)}, {REACHABLE}"
    if share_identity and contact_consent:
        who += f"; direct contact: {credential.user_id} (consented to follow-up)"
    return who


@dataclass(frozen=True, slots=True)
class PvIntake:
    """One PV item as the sponsor's PV room receives it: the four ICSR minimum criteria."""

    ref: str
    reference: str
    kind: str
    reporter: str
    product: str
    event: str
    seriousness: tuple[str, ...]
    day_zero: datetime
    forward_due: datetime
    patient: str
    source: str

    def text(self) -> str:
        serious = ", ".join(self.seriousness) or "none stated — please ask"
        label = {"ae": "Potential adverse event", "complaint": "Product quality complaint"}.get(
            self.kind, f"Special situation ({self.kind.replace('_', ' ')})")
        return (
            f"{label} — pharmacovigilance item {self.ref} ({self.reference})\n"
            f"1. Patient: {self.patient}\n"
            f"2. Reporter: {self.reporter}\n"
            f"3. Suspect product: {self.product}\n"
            f"4. Event: {self.event}\n"
            f"Source: {self.source}\n"
            f"Seriousness criteria mentioned: {serious}\n"
            "Seriousness to confirm with the reporter: death, life-threatening, "
            "hospitalisation, disability, congenital anomaly, other medically important\n"
            f"Date of first awareness (day 0): {self.day_zero.date().isoformat()} "
            f"({self.day_zero.isoformat(timespec='seconds')}); forwarding target (one "
            f"business day): {self.forward_due.isoformat(timespec='minutes')}\n"
            f"Acknowledge with !ack {self.ref} (or react to this message); ask the reporter "
            f"with !followup {self.ref} <question>."
        )


def pv_intake(ref: str, reference: str, text: str, screening: decision.Screening,
              product: str, reporter: str, *, day_zero: datetime, forward_due: datetime,
              source: str) -> PvIntake:
    """The PV item for a flagged (or MSL-reported) text; the event passes the firewall first."""
    age, sex = adverse_events.patient_age_and_sex(text)
    initials = patient_initials(text)
    patient = ", ".join(
        part for part in (f"initials {initials}" if initials else "identifiable patient "
                          "(initials not given)", f"age {age}" if age else "",
                          f"sex {sex}" if sex else "") if part
    )
    return PvIntake(
        ref=ref,
        reference=reference,
        # A complaint or special situation only when the screen found one and no
        # event: an MSL's "reported" the screen does not recognise still goes as a
        # potential adverse event.
        kind="ae" if screening.adverse_event else (
            "complaint" if screening.complaint else screening.special_situation or "ae"),
        reporter=reporter,
        product=product,
        event=identifiers.redact(text),
        seriousness=screening.seriousness,
        day_zero=day_zero,
        forward_due=forward_due,
        patient=patient,
        source=source,
    )
