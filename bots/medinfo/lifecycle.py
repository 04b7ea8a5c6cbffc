"""What the desk decides about a request once the clinician confirmed it.

    confirmed draft ─► route (due date from the sponsor's hours and targets)
    MSL !claim / reaction ─► claim: theirs now, already theirs (silent), or refused
    MSL answer ─► an unclaimed request becomes the answering MSL's; answers counted
    MSL !close ─► may_close (only after a !safety determination) before the letter is
                 rendered, then the store closes it

The desk's service (:mod:`bots.medinfo.desk`) calls these after (or, for
``may_close``, before) the bot's Matrix I/O; nothing here touches Matrix.
Whether a move is allowed is the table's call (:mod:`bots.medinfo.states`),
applied by the store's one writer; what is decided here is what a refusal
tells the person who asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from bots.medinfo import service_levels
from bots.medinfo.intake import Draft
from bots.medinfo.models import RequestRow
from bots.medinfo.pv_states import Determination, determination_of
from bots.medinfo.sponsors import Sponsor, Team
from bots.medinfo.states import OPEN, TERMINAL, Side, State, TransitionError, check_transition
from bots.medinfo.store import RequestStore, Routing


class Refused(Exception):
    """The request cannot do what was asked; the message is the reply to give.

    ``mentions``: whom the reply names (a stranger is told to verify first).
    """

    def __init__(self, text: str, *, mentions: Sequence[str] = ()) -> None:
        super().__init__(text)
        self.mentions = tuple(mentions)


def reference(row: RequestRow) -> str:
    """The request's reference as sponsors and clinicians see it: MI-1A2B3C."""
    return f"MI-{row.id[:6].upper()}"


def is_open(row: RequestRow) -> bool:
    """Routed or claimed: MSL answers and clinician follow-ups are relayed."""
    return State(row.state) in OPEN


def route(store: RequestStore, session: Session, row: RequestRow, *, sponsor: Sponsor,
          team: Team, draft: Draft, requester: str, root_txn_id: str, now: datetime,
          actor: str) -> datetime:
    """Record the request as sent to ``team`` and return when an answer is due."""
    assert draft.product is not None and draft.urgency is not None
    due = service_levels.BusinessCalendar(sponsor.hours).due(now, sponsor.targets[draft.urgency])
    routing = Routing(
        sponsor_key=sponsor.key, team_room_id=team.room_id, root_txn_id=root_txn_id,
        product=draft.product.brand, requester=requester, priority=draft.urgency,
        response_mode=draft.response, routed_at=now, due_at=due,
    )
    store.route(session, row, routing, actor=actor, sponsor=sponsor.key, team=team.name,
                priority=draft.urgency)
    return due


def claim(store: RequestStore, session: Session, row: RequestRow, msl: str) -> bool:
    """Give the request to ``msl``: True if it is theirs now, False if it already was.

    A second claim by the same MSL (a reaction after ``!claim``) is no news;
    anyone else is told whose it is (:class:`Refused`).
    """
    try:
        store.claim(session, row, msl)
    except TransitionError:
        if row.claimed_by == msl:
            return False
        by = f" by {row.claimed_by}" if row.claimed_by else ""
        raise Refused(f"{reference(row)} is {row.state}{by}.") from None
    return True


def may_close(row: RequestRow, outcome: str) -> None:
    """Refuse a closure before anything (a response letter) is prepared for it.

    The MSL must have recorded whether the request held an adverse event or a
    product complaint (the screens are not trusted to have found every one).
    """
    if State(row.state) in OPEN and determination_of(row.safety_determination) is \
            Determination.UNDETERMINED:
        raise Refused(
            f"Before closing {reference(row)}, record whether it holds an adverse event or a "
            "product complaint: !safety none, or !safety reported <what was reported> "
            "(forwards your words to pharmacovigilance).")
    try:
        check_transition(State(row.state), State.CLOSED, Side.MSL, outcome)
    except TransitionError as error:
        if error.source in TERMINAL:
            raise Refused(f"Request {reference(row)} is already {row.state}.") from None
        raise Refused(str(error)) from None


def answered(store: RequestStore, session: Session, row: RequestRow, msl: str,
             at: datetime) -> None:
    """An MSL's message went to the clinician: answering claims an unclaimed request."""
    if State(row.state) is State.ROUTED:
        store.claim(session, row, msl)
    store.count_answer(row, at)
