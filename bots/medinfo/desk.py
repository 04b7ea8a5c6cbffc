"""What the medical-information desk does when someone speaks to it (the service role).

    clinician  ask (!medinfo, or a first message in a DM) ─ said: intake answers,
               then follow-ups (files held for "no phi", identifiers held for
               "redact"), then "did it help?" — every message AE-screened, PV
               reports forwarded as soon as the product is known
    MSL        claim (!claim or a reaction) ─ said → Relay ─ (letter uploaded) ─ relay
               ─ closing ─ (letter uploaded) ─ close
    rooms      may_join · intruders ─ (kicked) ─ refused_members
    timer      nudge: one request's reminder or escalation

Each method takes plain inputs: the session of the caller's exactly-once
transaction and what was said, by whom, where (:class:`Said`). Messages into
the clinician's thread, the sponsor's MSL and PV rooms go through the
:class:`~curbside.matrix.posting.Poster` in that same session; what is
answered in the sender's own thread comes back as a :class:`Reply`, or as
:class:`~bots.medinfo.lifecycle.Refused` (its message is for the person who
asked; the caller rolls back and gives it).

Nothing here touches Matrix. The bot reads room membership for the desk
(``people``), kicks intruders, and uploads the response letters the desk
renders (:class:`LetterFile`) between the two halves of an MSL answer or a
close.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bots.medinfo import ae_screen, intake, letter, lifecycle, phi_firewall, routing, service_levels
from bots.medinfo.lifecycle import Refused, reference
from bots.medinfo.models import RequestRow
from bots.medinfo.products import Catalog
from bots.medinfo.sponsors import Directory, Sponsor, load_directory
from bots.medinfo.states import Side, State
from bots.medinfo.store import RECORD_TYPE, Envelope, RequestStore
from curbside.audit import AuditLog
from curbside.credentials import Credential, active_credential
from curbside.matrix import content as build
from curbside.matrix.posting import Poster

log = logging.getLogger(__name__)

FILE_TYPES = frozenset({"m.file", "m.image", "m.video", "m.audio"})
_NO_PHI = {"no phi", "confirm no phi", "it holds no phi"}
NOT_VERIFIED = (
    "Only verified clinicians can send medical-information requests. Verify your "
    "credential with the gatekeeper first, then ask again."
)


@dataclass(frozen=True, slots=True)
class Said:
    """One event as the desk's rules read it: who, where, in which thread, and what.

    ``direct``: the room is a one-to-one chat with the desk (a first message
    there starts a request); ``received``: the homeserver's timestamp, in
    seconds, from which a PV report's day zero counts.
    """

    sender: str
    room_id: str
    event_id: str
    thread_root: str
    body: str = ""
    msgtype: str | None = "m.text"
    content: Mapping[str, Any] = field(default_factory=dict)
    received: float = 0.0
    direct: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer in the sender's thread."""

    text: str
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LetterFile:
    """A response letter rendered for the clinician, for the bot to upload (encrypted)."""

    request_id: str
    reference: str
    filename: str
    pdf: bytes
    mimetype: str = letter.MIMETYPE

    @property
    def sha256(self) -> str:
        """What the audit record keeps of the letter disclosed."""
        return hashlib.sha256(self.pdf).hexdigest()

    @property
    def not_uploaded(self) -> str:
        """The MSL's answer when the upload failed; the letter is retried later."""
        return (f"The response letter for {self.reference} could not be uploaded; "
                "it will be sent with your next answer or at !close.")


@dataclass(slots=True)
class Relay:
    """An MSL's message in an open request's thread, waiting for its letter's upload."""

    row: RequestRow
    envelope: Envelope
    relayed: dict[str, Any]  # the message as the clinician receives it
    letter: LetterFile | None


@dataclass(slots=True)
class Closing:
    """An MSL's !close, allowed, waiting for the final letter's upload."""

    sponsor: Sponsor
    row: RequestRow
    envelope: Envelope
    outcome: str
    letter: LetterFile | None


class MedinfoDesk:
    """The consult desk's rules: intake, routing, relays, safety forwards, letters, closing.

    ``people(room_id)``: the members and invitees of a room other than the
    desk, as the bot's Matrix client sees them; None when the desk is not in it.
    """

    def __init__(self, store: RequestStore, audit: AuditLog, poster: Poster,
                 clock: service_levels.Clock, *,
                 people: Callable[[str], Collection[str] | None],
                 directory: Callable[[Session], Directory] = load_directory) -> None:
        self.store = store
        self.audit = audit
        self.poster = poster
        self.clock = clock
        self.people = people
        self.directory = directory
        self.account = store.account

    # -- rooms -------------------------------------------------------------------

    def may_join(self, session: Session, room_id: str, inviter: str | None) -> bool:
        """Sponsor rooms: only from an admitted member; other rooms: only from a clinician."""
        sponsor = self.directory(session).by_room(room_id)
        if sponsor is not None:
            return inviter is not None and sponsor.admitted(inviter, room_id)
        return inviter is not None and active_credential(session, inviter) is not None

    def intruders(self, session: Session, room_id: str, membership: object) -> list[str]:
        """Whom to remove after an invite or join in a sponsor room: anyone not admitted."""
        sponsor = self.directory(session).by_room(room_id)
        if sponsor is None or membership not in ("invite", "join"):
            return []
        return self._intruders(sponsor, room_id)

    def refused_members(self, session: Session, room_id: str, users: Collection[str]) -> None:
        """Audit the removal of each intruder."""
        for user in users:
            self.audit.record(session, actor=self.account, action="medinfo.refuse_member",
                              record_type="room", record_id=room_id,
                              reason="not admitted by the sponsor", details={"user": user})

    def _intruders(self, sponsor: Sponsor, room_id: str) -> list[str]:
        """Members and invitees of a sponsor room whom the sponsor did not admit there."""
        people = self.people(room_id)
        if people is None:
            return []
        return sorted(user for user in people if not sponsor.admitted(user, room_id))

    def _room_is_clean(self, sponsor: Sponsor, room_id: str) -> bool:
        return self.people(room_id) is not None and not self._intruders(sponsor, room_id)

    # -- the clinician's side ----------------------------------------------------------

    def ask(self, session: Session, said: Said, question: str) -> Reply | None:
        """``!medinfo <question>``: a request in the command's own thread."""
        directory = self.directory(session)
        if directory.by_room(said.room_id) is not None:
            return Reply("Requests are made from a clinician's chat with me, not in sponsor "
                         "rooms.")
        self._start_request(session, said, directory, question, thread_root=said.event_id)
        return None

    def said(self, session: Session, said: Said) -> Relay | None:
        """A message that is not a command nor a notice.

        In a sponsor room, an MSL's message in an open request's thread comes
        back as a :class:`Relay` (finish it with :meth:`relay` once its letter,
        if any, is uploaded). Elsewhere it is the clinician's: a new request, an
        intake answer, a follow-up or the feedback, all answered here.
        """
        directory = self.directory(session)
        if directory.by_room(said.room_id) is not None:
            return self._from_sponsor(session, said)
        row = self.store.by_clinician_thread(session, said.room_id, said.thread_root)
        if row is None and said.thread_root == said.event_id:
            row = self.store.intake_in_room(session, said.room_id, said.sender)
        if row is None:
            if said.direct and said.msgtype == "m.text":
                self._start_request(session, said, directory, said.body,
                                    thread_root=said.thread_root)
            return None
        if row.clinician_id != said.sender:
            return None
        state = State(row.state)
        if state is State.INTAKE:
            self._intake_answer(session, said, directory, row)
        elif lifecycle.is_open(row):
            self._follow_up(session, said, directory, row)
        elif state is State.CLOSED and row.helped is None:
            self._feedback(session, said, row)
        return None

    def _credential(self, session: Session, said: Said) -> Credential:
        credential = active_credential(session, said.sender, self.clock.now())
        if credential is None:
            raise Refused(NOT_VERIFIED, mentions=[said.sender])
        return credential

    def _start_request(self, session: Session, said: Said, directory: Directory, text: str,
                       *, thread_root: str) -> None:
        credential = self._credential(session, said)
        envelope = Envelope(intake.start(text, Catalog(directory)))
        row = self.store.new(
            session, clinician=said.sender, room_id=said.room_id, thread_root=thread_root,
            envelope=envelope, received_at=self.clock.now(),
        )
        self._screen_safety(session, said, directory, row, envelope, credential,
                            envelope.draft.question)
        self._advance(session, said, directory, row, envelope, credential)
        self._audit(session, said, "medinfo.request", row)

    def _intake_answer(self, session: Session, said: Said, directory: Directory,
                       row: RequestRow) -> None:
        credential = self._credential(session, said)
        envelope = self.store.open(row)
        result = intake.answer(envelope.draft, said.body, Catalog(directory))
        envelope.draft = result.draft
        self._screen_safety(session, said, directory, row, envelope, credential, said.body)
        if result.error is not None:
            self.store.seal(row, envelope)
            self._to_clinician(session, said, row, result.error)
            return
        self._advance(session, said, directory, row, envelope, credential)

    def _advance(self, session: Session, said: Said, directory: Directory, row: RequestRow,
                 envelope: Envelope, credential: Credential) -> None:
        """Ask the next question, or route once the clinician confirmed."""
        self._flush_pending_safety(session, said, directory, row, envelope, credential)
        state = intake.state_of(envelope.draft)
        self.store.seal(row, envelope)
        if state == intake.CANCELLED:
            self.store.cancel(session, row, Side.CLINICIAN, actor=said.sender)
            self._to_clinician(session, said, row,
                               "Request cancelled; nothing was sent to a sponsor.")
            return
        if state != intake.READY:
            self._to_clinician(session, said, row,
                               intake.prompt(envelope.draft, _preview(row, credential)))
            return
        self._send_to_team(session, said, directory, row, envelope.draft, credential)

    def _send_to_team(self, session: Session, said: Said, directory: Directory,
                      row: RequestRow, draft: intake.Draft, credential: Credential) -> None:
        """The confirmed request as a thread root in its team's room, if that room is safe."""
        assert draft.product is not None and draft.urgency is not None
        sponsor = directory.get(draft.product.sponsor_key)
        if sponsor is None:
            self._to_clinician(session, said, row,
                               "That sponsor is no longer served by this desk.")
            return
        try:
            team = routing.team_for(sponsor, draft.product, credential.licence_state)
        except routing.NoTeamError as error:
            self._to_clinician(session, said, row, f"{error}. Your request was not sent.")
            self.store.cancel(session, row, Side.DESK, actor=self.account, reason=str(error))
            return
        if phi_firewall.screen(draft.question) or not self._room_is_clean(sponsor, team.room_id):
            log.warning("request %s held: sponsor room %s not safe to post", row.id, team.room_id)
            self._to_clinician(session, said, row, (
                "I could not deliver this safely to the sponsor's team right now; the desk "
                "operator has been told."))
            return
        now = self.clock.now()
        who = routing.requester(credential, share_identity=bool(draft.share_identity))
        text = routing.request_text(reference(row), draft, who)
        txn_id = self.poster.post(session, team.room_id, text, phi=True)
        due = lifecycle.route(self.store, session, row, sponsor=sponsor, team=team,
                              draft=draft, requester=who, root_txn_id=txn_id, now=now,
                              actor=said.sender)
        expect = service_levels.expectation(due, sponsor.hours)
        self._to_clinician(session, said, row, (
            f"Sent to {sponsor.name}'s medical team as request {reference(row)}. "
            f"Expect an answer by {expect}. Their answer will come to this thread, privately; "
            "write here to add to your question."))

    # -- safety ------------------------------------------------------------------------

    def _screen_safety(self, session: Session, said: Said, directory: Directory,
                       row: RequestRow, envelope: Envelope, credential: Credential,
                       text: str) -> None:
        """Screen one clinician message; forward to PV at once when the product is known."""
        mentions = Catalog(directory).recognise(text)
        screening = ae_screen.screen(text, names_product=bool(mentions) or (
            envelope.draft.product is not None))
        if not screening.flagged:
            return
        pending = {"event_id": said.event_id, "text": text, "received": said.received,
                   "adverse_event": screening.adverse_event,
                   "sponsor": next((m.candidates[0].sponsor_key for m in mentions
                                    if not m.ambiguous), None)}
        envelope.pending_safety.append(pending)
        self._flush_pending_safety(session, said, directory, row, envelope, credential)
        if envelope.pending_safety:
            self._to_clinician(session, said, row, (
                "This may describe an adverse event or a product complaint. Safety information "
                "goes to the sponsor's pharmacovigilance team as soon as I know which product "
                "it concerns, and they may follow up with you."))

    def _flush_pending_safety(self, session: Session, said: Said, directory: Directory,
                              row: RequestRow, envelope: Envelope,
                              credential: Credential) -> None:
        """Forward every held safety report whose sponsor and product are known now."""
        waiting = []
        draft = envelope.draft
        for item in envelope.pending_safety:
            key = item["sponsor"] or (draft.product.sponsor_key if draft.product else None)
            sponsor = directory.get(key) if key else None
            if sponsor is None:
                waiting.append(item)
                continue
            product = (draft.product if draft.product and draft.product.sponsor_key == key
                       else _product_in(sponsor, item["text"], directory))
            if product is None:
                waiting.append(item)
                continue
            self._forward_to_pv(session, said, sponsor, row, item, product, credential, draft)
        envelope.pending_safety = waiting

    def _forward_to_pv(self, session: Session, said: Said, sponsor: Sponsor, row: RequestRow,
                       item: dict[str, Any], product: intake.Choice, credential: Credential,
                       draft: intake.Draft) -> None:
        received = datetime.fromtimestamp(item["received"], UTC)
        screening = ae_screen.screen(item["text"], names_product=True)
        report = routing.pv_intake(
            reference(row), item["text"], screening, product, credential,
            share_identity=bool(draft.share_identity), contact_consent=bool(draft.consent),
            day_zero=received,
        )
        txn = self.poster.post(session, sponsor.pv_room_id, report.text(), phi=True)
        forwarded = datetime.now(UTC)
        seconds = max(0.0, time.time() - item["received"])
        self.store.add_pv_report(
            session, row, source_event_id=item["event_id"], sponsor_key=sponsor.key,
            kind=report.kind, received_at=received, forwarded_at=forwarded,
            seconds_to_forward=seconds, txn_id=txn,
        )
        self._to_clinician(session, said, row, (
            f"Safety information in your message has gone to {sponsor.name}'s "
            "pharmacovigilance team, as the law requires; they may follow up with you."))
        self._audit(session, said, "medinfo.pv_forward", row, sponsor=sponsor.key,
                    kind=report.kind, seconds_to_forward=round(seconds, 3))

    # -- after routing -------------------------------------------------------------------

    def _follow_up(self, session: Session, said: Said, directory: Directory,
                   row: RequestRow) -> None:
        credential = self._credential(session, said)
        sponsor = directory.get(row.sponsor_key or "")
        if sponsor is None:
            return
        envelope = self.store.open(row)
        if said.msgtype in FILE_TYPES:
            envelope.pending_file = dict(said.content)
            self.store.seal(row, envelope)
            self._to_clinician(session, said, row, (
                "Files go to the sponsor only if they hold no patient information. Reply "
                "`no phi` to confirm that, or `discard`."))
            return
        reply = said.body.strip().lower()
        if envelope.pending_file is not None and reply in _NO_PHI | {"discard"}:
            if reply != "discard":
                self._relay_to_sponsor(session, said, row, envelope.pending_file, kind="file")
            envelope.pending_file = None
            self.store.seal(row, envelope)
            return
        self._screen_safety(session, said, directory, row, envelope, credential, said.body)
        if envelope.pending_text is not None and reply == "redact":
            text = phi_firewall.redact(envelope.pending_text)
            envelope.pending_text = None
        elif findings := phi_firewall.screen(said.body):
            envelope.pending_text = said.body
            self.store.seal(row, envelope)
            self._to_clinician(session, said, row, (
                f"Not sent: this seems to contain patient identifiers "
                f"({phi_firewall.describe(findings)}). Write it again without them, or reply "
                f"`redact` to send:\n\n{phi_firewall.redact(said.body, findings)}"))
            return
        else:
            text, envelope.pending_text = said.body, None
        self.store.seal(row, envelope)
        self._relay_to_sponsor(session, said, row,
                               build.notice(f"Follow-up from the requester: {text}"),
                               kind="follow_up")

    def _relay_to_sponsor(self, session: Session, said: Said, row: RequestRow,
                          content: dict[str, Any], *, kind: str) -> None:
        root = self.store.sponsor_root_event(session, row)
        if root is None or row.team_room_id is None:
            self._to_clinician(session, said, row, "The sponsor has not received your request "
                                                   "yet; try again in a moment.")
            return
        self.poster.post(session, row.team_room_id, content=content, thread=root, phi=True)
        self.store.count_follow_up(row)
        self._audit(session, said, "medinfo.relay_to_sponsor", row, kind=kind)

    def _feedback(self, session: Session, said: Said, row: RequestRow) -> None:
        word = said.body.strip().lower().rstrip(".!")
        if word not in ("yes", "no"):
            self._to_clinician(session, said, row, "Reply `yes` or `no`: did the answer help?")
            return
        helped = word == "yes"
        self.store.record_feedback(row, helped=helped)
        self._to_clinician(session, said, row, "Thank you — noted.")
        self._audit(session, said, "medinfo.feedback", row, helped=helped)

    # -- the sponsor's side --------------------------------------------------------------

    def acknowledge_pv(self, session: Session, said: Said, event_id: str) -> bool:
        """A reaction in a PV room to a forwarded safety report acknowledges it (once).

        False when ``event_id`` is no safety report of ours (then it may be a claim).
        """
        return self.store.acknowledge_pv(session, event_id, said.sender, self.clock.now())

    def claim(self, session: Session, said: Said, root: str, *, quiet: bool = False) -> None:
        """``!claim`` in a request's thread (``root``), or a reaction to its root (quiet).

        The claim is announced in the request's MSL thread; a claim by someone
        else than the MSL who has it is refused, even by reaction.
        """
        found = self._sponsor_request(session, said, root, quiet=quiet)
        if found is None:
            return
        _, row = found
        if not lifecycle.claim(self.store, session, row, said.sender):
            return
        thread = self.store.sponsor_root_event(session, row) or said.event_id
        self.poster.post(session, said.room_id, f"{said.sender} claimed {reference(row)}.",
                         mentions=[said.sender], thread=thread)

    def closing(self, session: Session, said: Said, outcome: str) -> Closing:
        """``!close <outcome>``, checked before the final letter is rendered for upload."""
        found = self._sponsor_request(session, said, said.thread_root)
        assert found is not None  # not quiet: refused instead
        sponsor, row = found
        lifecycle.may_close(row, outcome)
        envelope = self.store.open(row)
        final = self._letter(sponsor, row, envelope, responder=row.claimed_by or said.sender)
        return Closing(sponsor, row, envelope, outcome, final)

    def close(self, session: Session, said: Said, closing: Closing,
              uploaded: Mapping[str, Any] | None) -> Reply:
        """The request closes (its letter, if uploaded, sent first); the clinician is asked."""
        row = closing.row
        if closing.letter is not None and uploaded is not None:
            self._send_letter(session, said, row, closing.envelope, closing.letter, uploaded)
        self.store.close(session, row, outcome=closing.outcome, by=said.sender,
                         at=self.clock.now())
        self._to_clinician(session, said, row, (
            f"{closing.sponsor.name}'s medical team closed request {reference(row)} "
            f"({closing.outcome}). Did the answer help? Reply `yes` or `no`."))
        return Reply(f"Closed {reference(row)}: {closing.outcome}.")

    def relay(self, session: Session, said: Said, relay: Relay,
              uploaded: Mapping[str, Any] | None) -> None:
        """The MSL's message to the clinician, privately, then the letter if uploaded."""
        row, envelope = relay.row, relay.envelope
        lifecycle.answered(self.store, session, row, said.sender, self.clock.now())
        self._to_clinician(session, said, row, relay.relayed)
        self.store.seal(row, envelope)
        if relay.letter is not None and uploaded is not None:
            self._send_letter(session, said, row, envelope, relay.letter, uploaded)
        self._audit(session, said, "medinfo.relay_to_clinician", row, kind=said.msgtype or "")

    def _from_sponsor(self, session: Session, said: Said) -> Relay | None:
        """An MSL's message in an open request's thread, read for the clinician (and letter)."""
        if said.thread_root == said.event_id:
            return None
        found = self._sponsor_request(session, said, said.thread_root, quiet=True)
        if found is None:
            return None
        sponsor, row = found
        if not lifecycle.is_open(row):
            raise Refused(f"{reference(row)} is {row.state}; the requester was not sent this.")
        envelope = self.store.open(row)
        if said.msgtype in FILE_TYPES:
            relayed = {k: v for k, v in said.content.items() if k != "m.relates_to"}
            envelope.documents.append(str(said.content.get("filename") or said.body))
            return Relay(row, envelope, relayed, None)
        relayed = build.notice(f"{sponsor.name} medical team ({reference(row)}): {said.body}")
        envelope.answers.append(said.body)
        return Relay(row, envelope, relayed,
                     self._letter(sponsor, row, envelope, responder=said.sender))

    def _sponsor_request(self, session: Session, said: Said, root: str, *,
                         quiet: bool = False) -> tuple[Sponsor, RequestRow] | None:
        """The request of a sponsor-room thread, if the sender may act on it.

        Refused (None when ``quiet``) outside a request's thread or to anyone
        but the sponsor's MSLs and medical information.
        """
        sponsor = self.directory(session).by_room(said.room_id)
        row = self.store.by_sponsor_thread(session, root) if sponsor else None
        if sponsor is None or row is None or row.sponsor_key != sponsor.key:
            if quiet:
                return None
            raise Refused("Use this in the thread of a request, in your team's room.")
        if not sponsor.may_answer(said.sender):
            if quiet:
                return None
            raise Refused("Only the sponsor's MSLs and medical information may act on requests.")
        return sponsor, row

    # -- response letters ----------------------------------------------------------------

    def _letter(self, sponsor: Sponsor, row: RequestRow, envelope: Envelope, *,
                responder: str) -> LetterFile | None:
        """The response letter, when the clinician chose one and the thread holds answers
        no letter carries yet. A failed upload is retried at the next answer or at
        !close rather than holding back the chat answer."""
        if row.response_mode != "letter" or not envelope.uncovered:
            return None
        today = self.clock.now().astimezone(ZoneInfo(sponsor.hours.timezone)).date()
        composed = letter.compose(
            sponsor, reference=reference(row), dated=today, addressee=row.requester or "",
            draft=envelope.draft, answers=envelope.answers, documents=envelope.documents,
            responder=responder)
        return LetterFile(row.id, reference(row), composed.filename, letter.render(composed))

    def _send_letter(self, session: Session, said: Said, row: RequestRow, envelope: Envelope,
                     file: LetterFile, uploaded: Mapping[str, Any]) -> None:
        """Disclose the letter privately to the clinician and audit what was disclosed."""
        self._to_clinician(session, said, row, dict(uploaded))
        envelope.letter_covers = len(envelope.answers) + len(envelope.documents)
        self.store.seal(row, envelope)
        self._audit(session, said, "medinfo.letter_sent", row, filename=file.filename,
                    sha256=file.sha256, answers=len(envelope.answers),
                    documents=len(envelope.documents))

    # -- service levels --------------------------------------------------------------------

    def nudge(self, session: Session, request_id: str,
              now: datetime) -> service_levels.Nudge | None:
        """The reminder or escalation one request is due now, posted in its MSL thread."""
        row = session.get(RequestRow, request_id)
        if row is None or not lifecycle.is_open(row) or row.first_answer_at is not None:
            return None  # answered or closed since the pass began
        sponsor = self.directory(session).get(row.sponsor_key or "")
        root = self.store.sponsor_root_event(session, row)
        if sponsor is None or root is None or row.routed_at is None or not row.due_at:
            return None
        nudge = service_levels.review(
            row.id, _utc(row.routed_at), _utc(row.due_at), now,
            reminded=row.reminded_at is not None, escalated=row.escalated_at is not None)
        if nudge is None:
            return None
        if row.team_room_id is None:
            # Its thread root was sent, so it was routed to a room: the row is damaged.
            raise LookupError(f"request {row.id} has an MSL thread but no team room")
        due = service_levels.expectation(_utc(row.due_at), sponsor.hours)
        self.store.record_nudge(row, nudge.kind, now)
        if nudge.kind == "remind":
            mentions = [row.claimed_by] if row.claimed_by else []
            body = f"Reminder: {reference(row)} ({row.priority}) is due by {due}."
        else:
            mentions = [sponsor.medical_information_lead]
            body = (f"Escalation to {sponsor.medical_information_lead}: "
                    f"{reference(row)} ({row.priority}) passed its target of {due} "
                    "without an answer.")
        self.poster.post(session, row.team_room_id, body, mentions=mentions, thread=root)
        self.audit.record(session, actor=self.account, action=f"medinfo.{nudge.kind}",
                          record_type=RECORD_TYPE, record_id=row.id)
        return nudge

    # -- helpers ---------------------------------------------------------------------------

    def _to_clinician(self, session: Session, said: Said, row: RequestRow,
                      message: str | dict[str, Any]) -> None:
        """Privately into the clinician's request thread (a reply to their message there)."""
        content = build.notice(message) if isinstance(message, str) else message
        reply_to = (said.event_id if said.room_id == row.clinician_room_id
                    else row.clinician_thread_root)
        self.poster.post(session, row.clinician_room_id, content=content,
                         thread=row.clinician_thread_root, reply_to=reply_to, phi=True)

    def _audit(self, session: Session, said: Said, action: str, row: RequestRow,
               **details: Any) -> None:
        self.audit.record(session, actor=said.sender, action=action, record_type=RECORD_TYPE,
                          record_id=row.id, details=details)


def _preview(row: RequestRow, credential: Credential) -> intake.Preview:
    """What the sponsor will receive, for the intake's confirmation question."""
    def render(draft: intake.Draft) -> str:
        who = routing.requester(credential, share_identity=bool(draft.share_identity))
        return routing.request_text(reference(row), draft, who)

    return render


def _product_in(sponsor: Sponsor, text: str, directory: Directory) -> intake.Choice | None:
    """The sponsor's product a held safety report names, if any."""
    for mention in Catalog(directory).recognise(text):
        for offer in mention.candidates:
            if offer.sponsor_key == sponsor.key:
                return intake.Choice.of(offer)
    return None


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
