"""The medinfo desk's screen of sponsored rooms: sponsored digital media are screened.

    clinician posts in a sponsor's sponsored room (sponsors.yaml: sponsored_rooms)
        ─► curbside.matrix.screen_step.ScreenStep, with medinfo's AE screen
        ─► flagged: a PV item in the sponsor's PV room at once (no request; the
           reporter as a verified credential, never named), and a word in the
           message's thread that it went to PV

The sponsor's own people (MSLs, PV, medical information) post there too; their
messages are not the clinicians' reports and are not screened. In a sponsor's
room the sponsor's products are the context, so a post need not name one to
be forwarded (recall first: PV decides relevance).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from bots.medinfo import routing, screens
from bots.medinfo.pharmacovigilance import Pharmacovigilance, Source
from bots.medinfo.products import Catalog
from bots.medinfo.sponsors import Directory, Sponsor
from curbside.audit import AuditLog
from curbside.credentials import active_credential
from curbside.matrix.posting import Poster
from curbside.matrix.screen_step import Posted, ScreenStep


def sponsored_room_screen(pv: Pharmacovigilance, poster: Poster, audit: AuditLog, *,
                          directory: Callable[[Session], Directory],
                          account: str) -> ScreenStep[Sponsor, screens.Screening]:
    """The screen step for every sponsor's sponsored rooms."""

    def where(session: Session, room_id: str) -> Sponsor | None:
        return directory(session).by_sponsored_room(room_id)

    def clinician_side(session: Session, sponsor: Sponsor, sender: str) -> bool:
        return sponsor.role_of(sender) is None

    def screen(sponsor: Sponsor, text: str) -> screens.Screening | None:
        found = screens.adverse_events(text, names_product=True)
        return found if found.flagged else None

    def forward(session: Session, sponsor: Sponsor, message: Posted,
                found: screens.Screening) -> str:
        credential = active_credential(session, message.sender, message.received)
        reporter = (routing.reporter(credential, share_identity=False, contact_consent=False)
                    if credential else "a participant who is not a verified clinician, "
                    f"{routing.REACHABLE}")
        item = pv.forward(
            session, sponsor, None,
            Source(message.event_id, message.text, message.received, "sponsored_room",
                   f"the desk's screen of a post in {sponsor.name}'s sponsored room"),
            product=_product(sponsor, message.text, directory(session)), reporter=reporter,
            actor=message.sender, reporter_id=message.sender)
        poster.post(session, message.room_id, (
            f"Safety information in this message was sent to {sponsor.name}'s "
            f"pharmacovigilance team ({item.ref}), as the law requires; they may ask you "
            "about it through the medical-information desk."),
            thread=message.event_id, phi=True)
        return item.ref

    return ScreenStep(where=where, screens=clinician_side, screen=screen, forward=forward,
                      audit=audit, account=account)


def _product(sponsor: Sponsor, text: str, directory: Directory) -> str:
    """The sponsor's product the post names, or the sponsor's list for PV to ask about."""
    for mention in Catalog(directory).recognise(text):
        for offer in mention.candidates:
            if offer.sponsor_key == sponsor.key:
                return f"{offer.product.brand} ({offer.product.generic})"
    listed = ", ".join(f"{p.brand} ({p.generic})" for p in sponsor.products)
    return f"not named in the post; {sponsor.name}'s products: {listed} — please ask"
