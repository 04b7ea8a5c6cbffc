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

from bots.medinfo import ae_screen, phi_firewall
from bots.medinfo.intake import RESPONSES, Choice, Draft
from bots.medinfo.sponsors import Sponsor, Team
from curbside.credentials import Credential


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
    specialty = credential.specialty.lower() or "clinician"
    article = "an" if specialty[0] in "aeiou" else "a"
    return f"{article} verified {specialty} in {credential.licence_state}"


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
    for finding in phi_firewall.screen(text):
        if finding.kind == "NAME":
            name = _NAME_TITLE.sub("", text[finding.start:finding.end])
            return "".join(f"{part[0]}." for part in name.split() if part[:1].isupper())
    return None


@dataclass(frozen=True, slots=True)
class PvIntake:
    reference: str
    kind: str
    reporter: str
    product: str
    event: str
    seriousness: tuple[str, ...]
    day_zero: datetime
    patient: str

    def text(self) -> str:
        serious = ", ".join(self.seriousness) or "none stated — please ask"
        label = "Potential adverse event" if self.kind == "ae" else "Product quality complaint"
        return (
            f"{label} — pharmacovigilance intake {self.reference}\n"
            f"1. Patient: {self.patient}\n"
            f"2. Reporter: {self.reporter}\n"
            f"3. Suspect product: {self.product}\n"
            f"4. Event: {self.event}\n"
            f"Seriousness criteria mentioned: {serious}\n"
            "Seriousness to confirm with the reporter: death, life-threatening, "
            "hospitalisation, disability, congenital anomaly, other medically important\n"
            f"Date of first awareness (day 0): {self.day_zero.date().isoformat()} "
            f"({self.day_zero.isoformat(timespec='seconds')})\n"
            "React to this message to acknowledge that your team has it."
        )


def pv_intake(reference: str, text: str, screening: ae_screen.Screening, product: Choice,
              credential: Credential, *, share_identity: bool, contact_consent: bool,
              day_zero: datetime) -> PvIntake:
    """The PV intake for a flagged message; the description passes the firewall first."""
    age, sex = ae_screen.patient_age_and_sex(text)
    initials = patient_initials(text)
    patient = ", ".join(
        part for part in (f"initials {initials}" if initials else "identifiable patient "
                          "(initials not given)", f"age {age}" if age else "",
                          f"sex {sex}" if sex else "") if part
    )
    reporter = requester(credential, share_identity=share_identity)
    if contact_consent:
        reporter += f"; contact: {credential.user_id} (consented to follow-up)"
    else:
        reporter += f"; contact through the Curbside desk, reference {reference}"
    return PvIntake(
        reference=reference,
        kind="ae" if screening.adverse_event else "complaint",
        reporter=reporter,
        product=f"{product.brand} ({product.generic})",
        event=phi_firewall.redact(text),
        seriousness=screening.seriousness,
        day_zero=day_zero,
        patient=patient,
    )
