"""A screen step any bot applies to every message posted in the rooms it screens.

    message in a room ──where(session, room)──> a destination, or None: not screened
        ──screens(session, destination, sender)? (not the room's own staff, not the bot)
        ──screen(destination, text)──> a verdict, or None: nothing found
        ──forward(session, destination, message, verdict)──> a reference
        ──audited ("screen.forward"), in the transaction handling the event

Sponsored digital media must be screened for adverse events: every message
a clinician posts in a sponsor-controlled room reaches the sponsor's
pharmacovigilance the same minute. The kernel knows no screen and no
sponsor, so each is a parameter: the bot passes its screen (today medinfo's
AE screen, tomorrow ``screening/``), where a room's flags go, and how a flag
is forwarded (which posts through the :class:`~curbside.matrix.posting.Poster`
in the same session, so a handled event and its forward commit together,
exactly once). Nothing here touches Matrix or logs message text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from curbside.audit import AuditLog

D = TypeVar("D")  # where a screened room's flags go (e.g. a sponsor)
V = TypeVar("V")  # what the screen found

RECORD_TYPE = "room_message"


@dataclass(frozen=True, slots=True)
class Posted:
    """One message as the step reads it."""

    sender: str
    room_id: str
    event_id: str
    text: str
    received: datetime  # the homeserver's timestamp: day 0 of what it reports


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A message the screen flagged, and the reference its forward got."""

    event_id: str
    reference: str


class ScreenStep(Generic[D, V]):
    """Screen each posted message of a screened room; forward what is flagged."""

    def __init__(self, *, where: Callable[[Session, str], D | None],
                 screens: Callable[[Session, D, str], bool],
                 screen: Callable[[D, str], V | None],
                 forward: Callable[[Session, D, Posted, V], str],
                 audit: AuditLog, account: str) -> None:
        self.where = where
        self.screens = screens
        self.screen = screen
        self.forward = forward
        self.audit = audit
        self.account = account

    def covers(self, session: Session, room_id: str) -> bool:
        """Is this a room the step screens?"""
        return self.where(session, room_id) is not None

    def apply(self, session: Session, message: Posted) -> Forwarded | None:
        """The forward of ``message`` if it was flagged; None if not screened or not flagged."""
        destination = self.where(session, message.room_id)
        if destination is None or message.sender == self.account or not message.text.strip():
            return None
        if not self.screens(session, destination, message.sender):
            return None
        verdict = self.screen(destination, message.text)
        if verdict is None:
            return None
        reference = self.forward(session, destination, message, verdict)
        self.audit.record(session, actor=message.sender, action="screen.forward",
                          record_type=RECORD_TYPE, record_id=message.event_id,
                          details={"room": message.room_id, "reference": reference})
        return Forwarded(message.event_id, reference)
